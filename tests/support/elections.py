"""Test support: whole election records built with unionvote's Python API, taken apart and put
back together (to tamper with them), and Belenios's own verifier.

Everything is deterministic: a spec's ``seed`` drives every random choice (``random.Random``).

- :func:`build_election` runs one election from a :class:`Spec` (questions, voters, weights,
  trustees, who decrypts, the ballots in casting order) up to a chosen phase and returns a
  :class:`Built` with everything a test needs (private credentials, trustee keys, receipts, the
  result computed independently of the code under test).
- :func:`read_items` / :func:`write_items` turn an archive into a list of logical entries
  ``(kind, value)`` and back: ``("data", content)`` for a data entry, ``(event_type, payload
  hash or None)`` for an event. :func:`replace_data` swaps one data entry's content and fixes
  every reference to it (event payloads and hashes inside other data, recursively), so after
  :func:`write_items` (which uses ``ArchiveWriter``) only the intended change is wrong.
- :func:`write_raw` writes a tar byte for byte with our own (test-side) v7 writer, for records
  the ``ArchiveWriter`` rightly refuses to write (a broken chain, events out of order).
- :func:`run_belenios_verify` runs ``shared/tools/belenios-verify``; :func:`belenios_skip_reason`
  says why it cannot run here.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.encoding import sha256_b64
from unionvote.crypto.proofs import sign_ballot_hash
from unionvote.crypto.trustees import TrusteePrivateKey
from unionvote.domain.ceremony import run_threshold_ceremony, single_trustee
from unionvote.domain.election import CastReceipt, ElectionBox, new_uuid
from unionvote.record.archive import ArchiveWriter
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Election, Question, Result

REPO_ROOT = Path(__file__).resolve().parents[2]
BELENIOS_VERIFY = REPO_ROOT / ".." / "shared" / "tools" / "belenios-verify"
TIMESTAMP = 1_700_000_000

# trustee setups: the server's Single key alone, or with a Pedersen group (size, threshold)
TRUSTEES: dict[str, tuple[int, int] | None] = {"single": None, "2of3": (3, 2), "3of5": (5, 3)}

PHASES = ("voting", "closed", "tallied", "decrypted", "result")

Choices = tuple[tuple[int, ...], ...]


def pick(size: int, *chosen: int) -> tuple[int, ...]:
    """The 0/1 choices for a question of ``size`` answers with ``chosen`` (0-based) selected."""
    return tuple(1 if i in chosen else 0 for i in range(size))


def blank(size: int) -> tuple[int, ...]:
    return (0,) * size


@dataclass(frozen=True)
class Spec:
    """One election: ``votes`` are ``(voter index, choices per question)`` in casting order (a
    voter appearing twice revotes); ``decrypt_with`` are the Pedersen members (1-based within
    the group) who decrypt; the server's Single key (owner 1) always decrypts."""

    questions: tuple[Question, ...]
    voters: int
    votes: tuple[tuple[int, Choices], ...] = ()
    weights: tuple[int, ...] | None = None
    trustees: str = "single"
    decrypt_with: tuple[int, ...] = ()
    seed: int = 0
    name: str = "Test election"
    description: str = "An election built by the test suite."

    def __post_init__(self) -> None:
        if self.weights is not None:
            assert len(self.weights) == self.voters
        group = TRUSTEES[self.trustees]
        if group is None:
            assert not self.decrypt_with
        else:
            assert len(set(self.decrypt_with)) >= group[1] or not self.decrypt_with
            assert all(1 <= i <= group[0] for i in self.decrypt_with)


def expected_result(spec: Spec) -> list[list[int]]:
    """The counts, computed from the plaintexts alone: the last vote of each voter, weighted;
    for a question that allows blank votes the blank count comes first."""
    last: dict[int, Choices] = {}
    for voter, choices in spec.votes:
        last[voter] = choices
    counts = [[0] * (len(q.answers) + (1 if q.blank else 0)) for q in spec.questions]
    for voter, choices in last.items():
        weight = 1 if spec.weights is None else spec.weights[voter]
        for row, question, answer in zip(counts, spec.questions, choices, strict=True):
            offset = 0
            if question.blank:
                offset = 1
                if sum(answer) == 0:
                    row[0] += weight
            for i, bit in enumerate(answer):
                row[offset + i] += weight * bit
    return counts


@dataclass
class Built:
    """A record built from a spec, its file closed, with the secrets the test may need."""

    path: Path
    spec: Spec
    uuid: str
    election: Election
    election_hash: str
    credentials: list[PrivateCredential]
    server_key: TrusteePrivateKey
    shares: list[TrusteePrivateKey]
    receipts: list[CastReceipt] = field(default_factory=list)
    result: Result | None = None
    seed_rng: random.Random = field(default_factory=random.Random)

    @property
    def expected(self) -> list[list[int]]:
        return expected_result(self.spec)

    @property
    def rng(self):
        return self.seed_rng.randrange

    def decrypting_owners(self) -> list[int]:
        """Owner numbers in the record: 1 for the server, 2.. for the Pedersen members."""
        return [1, *(1 + i for i in self.spec.decrypt_with)]

    def key_of(self, owner: int) -> TrusteePrivateKey:
        return self.server_key if owner == 1 else self.shares[owner - 2]


def create_election(path: Path, spec: Spec) -> tuple[ElectionBox, Built]:
    """Set up the election of ``spec`` (trustee ceremony, credentials, ``ElectionBox.create``);
    no ballot cast yet. The caller closes the box's file."""
    rng_state = random.Random(spec.seed)
    rng = rng_state.randrange
    server, server_key = single_trustee(rng)
    trustees: list = [server]
    shares: list[TrusteePrivateKey] = []
    group = TRUSTEES[spec.trustees]
    if group is not None:
        pedersen, shares = run_threshold_ceremony(group[0], group[1], rng)
        trustees.append(pedersen)
    uuid = new_uuid(rng)
    credentials = [PrivateCredential.generate(rng) for _ in range(spec.voters)]
    weights = spec.weights or (None,) * spec.voters
    box = ElectionBox.create(
        path,
        uuid=uuid,
        name=spec.name,
        description=spec.description,
        questions=spec.questions,
        trustees=trustees,
        credentials=[c.public(uuid, w) for c, w in zip(credentials, weights, strict=True)],
        timestamp=TIMESTAMP,
    )
    built = Built(
        path,
        spec,
        uuid,
        box.election,
        box.election_hash,
        credentials,
        server_key,
        shares,
        seed_rng=rng_state,
    )
    return box, built


def ballot_bytes(built: Built, voter: int, choices: Choices) -> bytes:
    """A fresh ballot of ``voter`` for ``choices``, made with the built election's rng."""
    ballot = make_ballot(
        built.election, built.election_hash, built.credentials[voter], choices, rng=built.rng
    )
    return ballot.to_bytes()


def advance(box: ElectionBox, built: Built, until: str = "result") -> None:
    """Cast the spec's votes, then take the election on to phase ``until`` (see PHASES)."""
    assert until in PHASES
    for voter, choices in built.spec.votes:
        built.receipts.append(box.cast(ballot_bytes(built, voter, choices)))
    if until == "voting":
        return
    box.close()
    if until == "closed":
        return
    box.compute_tally()
    if until == "tallied":
        return
    decrypt_all(box, built)
    if until == "decrypted":
        return
    built.result = box.compute_result()


def decrypt_all(box: ElectionBox, built: Built, owners: Sequence[int] | None = None) -> None:
    """Add the partial decryption of each owner (default: the spec's decrypting owners)."""
    for owner in built.decrypting_owners() if owners is None else owners:
        partial = PartialDecryption.compute(
            box.election_hash, built.key_of(owner), box.encrypted_tally, rng=built.rng
        )
        box.add_partial_decryption(owner, partial)


def build_election(path: Path, spec: Spec, *, until: str = "result") -> Built:
    """Run the election of ``spec`` with ``ElectionBox`` up to phase ``until`` (one of
    :data:`PHASES`; "decrypted" means every partial decryption is in but not the result),
    then close the file."""
    box, built = create_election(path, spec)
    try:
        advance(box, built, until)
    finally:
        box.close_file()
    return built


# -- taking archives apart and putting them back together -------------------------------------

Item = tuple[str, "bytes | str | None"]


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_tar(path: Path) -> list[tuple[str, bytes]]:
    """The (name, content) of each entry of a Belenios tar, read by a test-side parser."""
    data = path.read_bytes()
    entries, pos = [], 0
    while pos + 512 <= len(data):
        head = data[pos : pos + 512]
        if head == bytes(512):
            break
        name = head[:100].split(b"\0")[0].decode("ascii")
        size = int(head[124:135], 8)
        entries.append((name, data[pos + 512 : pos + 512 + size]))
        pos += 512 + (size + 511) // 512 * 512
    assert pos == len(data), "trailing bytes after the last entry"
    return entries


def read_items(path: Path) -> list[Item]:
    """The archive as logical entries (the header left out): ``("data", content)`` or
    ``(event type, payload hash or None)``."""
    entries = read_tar(path)
    assert entries[0][0] == "BELENIOS"
    items: list[Item] = []
    for name, content in entries[1:]:
        if name.endswith(".data.json"):
            items.append(("data", content))
        else:
            event = json.loads(content)
            items.append((event["type"], event.get("payload")))
    return items


def write_items(path: Path, items: Sequence[Item], timestamp: int = TIMESTAMP) -> None:
    """Write a whole new archive from logical entries with ``ArchiveWriter`` (a valid chain)."""
    if path.exists():
        path.unlink()
    with ArchiveWriter.create(path, timestamp=timestamp) as writer:
        for kind, value in items:
            if kind == "data":
                assert isinstance(value, bytes)
                writer.add_data(value)
            else:
                assert value is None or isinstance(value, str)
                writer.add_event(kind, value)  # type: ignore[arg-type]


def event_index(items: Sequence[Item], kind: str, nth: int = 0) -> int:
    """The index of the ``nth`` event of type ``kind``."""
    found = [i for i, (k, _) in enumerate(items) if k == kind]
    return found[nth]


def data_index(items: Sequence[Item], digest: str) -> int:
    for i, (kind, value) in enumerate(items):
        if kind == "data" and isinstance(value, bytes) and sha256_hex(value) == digest:
            return i
    raise KeyError(digest)


def payload_of(items: Sequence[Item], kind: str, nth: int = 0) -> tuple[int, bytes]:
    """The index and content of the data entry that the ``nth`` ``kind`` event names."""
    payload = items[event_index(items, kind, nth)][1]
    assert isinstance(payload, str)
    index = data_index(items, payload)
    content = items[index][1]
    assert isinstance(content, bytes)
    return index, content


def replace_data(items: list[Item], index: int, content: bytes) -> list[Item]:
    """Replace the data entry at ``index`` and fix every later reference to it: the payloads of
    events and the hashes written inside other data entries (setup data, owned, sized tally),
    recursively. Returns a new list."""
    old = items[index][1]
    assert items[index][0] == "data" and isinstance(old, bytes)
    old_hash, new_hash = sha256_hex(old), sha256_hex(content)
    result = list(items)
    result[index] = ("data", content)
    if old_hash == new_hash:
        return result
    for i in range(index + 1, len(result)):
        kind, value = result[i]
        if kind != "data" and value == old_hash:
            result[i] = (kind, new_hash)
        elif kind == "data" and isinstance(value, bytes) and old_hash.encode() in value:
            result = replace_data(result, i, value.replace(old_hash.encode(), new_hash.encode()))
    return result


def compact(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def resign_ballot(built: Built, ballot: dict, voter: int, seed: int = 7) -> bytes:
    """Re-sign an edited ballot (a JSON object) with its voter's private credential, so that its
    signature is valid again; returns the ballot's canonical bytes."""
    unsigned = {k: v for k, v in ballot.items() if k != "signature"}
    ballot_hash = sha256_b64(compact(unsigned))
    secret = built.credentials[voter].secret(built.uuid)
    proof = sign_ballot_hash(ballot_hash, secret, rng=random.Random(seed).randrange)
    ballot["signature"] = {"hash": ballot_hash, "proof": proof.to_json()}
    return compact(ballot)


def tar_header(name: str, size: int, mtime: int = TIMESTAMP) -> bytes:
    """A v7 tar header as Belenios writes it (test-side implementation, see belenios-v1.md)."""
    block = bytearray(512)
    encoded = name.encode("ascii")
    block[: len(encoded)] = encoded
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % size
    block[136:148] = b"%011o\0" % mtime
    block[148:156] = b" " * 8
    block[156:157] = b"0"
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def write_raw(path: Path, entries: Sequence[tuple[str, bytes]], mtime: int = TIMESTAMP) -> None:
    """Write (name, content) entries as a tar exactly as given: no check at all."""
    out = bytearray()
    for name, content in entries:
        out += tar_header(name, len(content), mtime) + content + bytes(-len(content) % 512)
    path.write_bytes(bytes(out))


def event_bytes(parent: str | None, height: int, kind: str, payload: str | None) -> bytes:
    event: dict[str, object] = {}
    if parent is not None:
        event["parent"] = parent
    event["height"] = height
    event["type"] = kind
    if payload is not None:
        event["payload"] = payload
    return compact(event)


def raw_entries(items: Sequence[Item], timestamp: int = TIMESTAMP) -> list[tuple[str, bytes]]:
    """Named tar entries for logical entries, the chain computed here (parent, height) whatever
    the order of the events: for records ``ArchiveWriter`` refuses to write."""
    header = compact({"version": 1, "timestamp": str(timestamp)})
    entries = [("BELENIOS", header)]
    parent, height = None, 0
    for kind, value in items:
        if kind == "data":
            assert isinstance(value, bytes)
            entries.append((f"{sha256_hex(value)}.data.json", value))
        else:
            assert value is None or isinstance(value, str)
            content = event_bytes(parent, height, kind, value)
            parent, height = sha256_hex(content), height + 1
            entries.append((f"{parent}.event.json", content))
    return entries


# -- Belenios's verifier ------------------------------------------------------------------------


def belenios_skip_reason() -> str | None:
    """Why belenios-verify cannot run here, or None."""
    tool = BELENIOS_VERIFY.resolve()
    if not tool.is_file():
        return f"BELENIOS CHECK NOT RUN: {tool} is missing"
    if os.geteuid() != 0:
        return f"BELENIOS CHECK NOT RUN: {tool} needs root (chroot) and this is uid {os.geteuid()}"
    if shutil.which("chroot") is None:
        return "BELENIOS CHECK NOT RUN: chroot is not installed"
    return None


def run_belenios_verify(path: Path, suite: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run belenios-verify on ``path`` (default suite when ``suite`` is None)."""
    command = [str(BELENIOS_VERIFY.resolve())]
    if suite is not None:
        command += ["--suite", suite]
    command.append(str(path))
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
