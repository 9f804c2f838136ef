"""Benchmark records: an election of N ballots built with unionvote's Python API, cached.

One question, "pick 1 of 8" (min 1, max 1); trustees: the mandatory ``Single`` server key and a
Pedersen 2-of-3 group; N voters, one ballot each; the election is closed, tallied, decrypted by
the server and two of the three Pedersen trustees, and its result published. Everything comes
from a seeded ``random.Random``, so the same parameters give the same record byte for byte.

Records are cached under ``bench/.cache/`` (gitignored), keyed by every parameter, because
casting 1,000 ballots takes a while (each cast re-checks its ballot, as the server must).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

import unionvote
from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.crypto.proofs import sign_ballot_hash
from unionvote.domain.ceremony import run_threshold_ceremony, single_trustee
from unionvote.domain.election import ElectionBox, new_uuid
from unionvote.record.archive import DataEntry, EventEntry, read_archive
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Election, Question, parse_entry

__all__ = ["BuiltRecord", "RecordSpec", "build_record", "describe", "tampered_copy"]

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
ANSWERS = 8
PEDERSEN_SIZE, PEDERSEN_THRESHOLD = 3, 2
TIMESTAMP = 1_700_000_000
# Bump when the way records are built changes, so cached records are rebuilt.
BUILDER_VERSION = 1


@dataclass(frozen=True)
class RecordSpec:
    ballots: int = 1000
    seed: int = 2024

    @property
    def key(self) -> str:
        return (
            f"pick1of{ANSWERS}-single+pedersen{PEDERSEN_THRESHOLD}of{PEDERSEN_SIZE}"
            f"-n{self.ballots}-seed{self.seed}-b{BUILDER_VERSION}-uv{unionvote.__version__}"
        )


@dataclass(frozen=True)
class BuiltRecord:
    """A cached record and what the benchmark needs to know about it."""

    path: Path
    uuid: str
    ballots: int
    seed: int
    build_seconds: float
    credentials: list[str]  # private credential texts, for the tampered-ballot probe
    result: list[list[int]]

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


# -- making ballots in worker processes ----------------------------------------------------------

_worker_election: Election | None = None
_worker_hash = ""


def _init_worker(election_json: bytes, election_hash: str) -> None:
    global _worker_election, _worker_hash
    _worker_election = parse_entry("election", election_json, Election.from_json, Election.to_json)
    _worker_hash = election_hash


def _ballot_seed(seed: int, index: int) -> str:
    return f"unionvote-bench:{seed}:ballot:{index}"


def _make_one(task: tuple[int, int, str, int]) -> bytes:
    index, seed, credential, choice = task
    assert _worker_election is not None
    choices = [[1 if j == choice else 0 for j in range(ANSWERS)]]
    rng = random.Random(_ballot_seed(seed, index)).randrange
    ballot = make_ballot(
        _worker_election, _worker_hash, PrivateCredential(credential), choices, rng=rng
    )
    return ballot.to_bytes()


def _make_ballots(
    box: ElectionBox, tasks: list[tuple[int, int, str, int]], on_done: Callable[[], None]
) -> Iterator[bytes]:
    election_json = compact_json(box.election.to_json())
    processes = max(1, min(len(os.sched_getaffinity(0)), 8))
    if processes == 1 or len(tasks) < 8:
        _init_worker(election_json, box.election_hash)
        for task in tasks:
            yield _make_one(task)
            on_done()
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, _init_worker, (election_json, box.election_hash)) as pool:
        for raw in pool.imap(_make_one, tasks, chunksize=8):
            yield raw
            on_done()


# -- the record ---------------------------------------------------------------------------------


def build_record(
    spec: RecordSpec, *, console: Console | None = None, rebuild: bool = False
) -> BuiltRecord:
    """The record for ``spec``, from the cache or built now (with a progress display)."""
    console = console or Console(stderr=True)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"{spec.key}.bel"
    meta = path.with_suffix(".json")
    if not rebuild and path.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        console.print(f"[dim]record: cached {path} ({spec.ballots} ballots)[/dim]")
        return BuiltRecord(path=path, **info)
    for stale in (path, meta):
        stale.unlink(missing_ok=True)
    start = time.perf_counter()
    partial = path.with_name(path.name + f".partial{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        info = _build(spec, partial, console)
        info["build_seconds"] = round(time.perf_counter() - start, 2)
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    meta.write_text(json.dumps(info, indent=1) + "\n")
    console.print(f"record: built {path} in {info['build_seconds']:.1f} s")
    return BuiltRecord(path=path, **info)


def _build(spec: RecordSpec, path: Path, console: Console) -> dict[str, Any]:
    rng = random.Random(spec.seed).randrange
    server, server_key = single_trustee(rng)
    pedersen, shares = run_threshold_ceremony(PEDERSEN_SIZE, PEDERSEN_THRESHOLD, rng)
    uuid = new_uuid(rng)
    credentials = [PrivateCredential.generate(rng) for _ in range(spec.ballots)]
    choices = [rng(ANSWERS) for _ in range(spec.ballots)]
    question = Question(
        "Which candidate do you endorse?", tuple(f"Candidate {i + 1}" for i in range(ANSWERS)), 1, 1
    )
    with _progress(console) as progress:
        keys = progress.add_task("deriving public credentials", total=spec.ballots)
        public = []
        for credential in credentials:
            public.append(credential.public(uuid))
            progress.advance(keys)
        box = ElectionBox.create(
            path,
            uuid=uuid,
            name=f"unionvote benchmark ({spec.ballots} ballots)",
            description="Benchmark record: one question, pick 1 of 8.",
            questions=[question],
            trustees=[server, pedersen],
            credentials=public,
            timestamp=TIMESTAMP,
        )
        try:
            made = progress.add_task("making ballots (all cores)", total=spec.ballots)
            cast = progress.add_task("casting (checked, fsync'ed)", total=spec.ballots)
            tasks = [
                (i, spec.seed, c.reveal(), choice)
                for i, (c, choice) in enumerate(zip(credentials, choices, strict=True))
            ]
            for raw in _make_ballots(box, tasks, lambda: progress.advance(made)):
                box.cast(raw)
                progress.advance(cast)
            box.close()
            box.compute_tally()
            tally = box.encrypted_tally
            for owner, key in ((1, server_key), (2, shares[0]), (4, shares[2])):
                box.add_partial_decryption(
                    owner, PartialDecryption.compute(box.election_hash, key, tally, rng=rng)
                )
            result = box.compute_result()
        finally:
            box.close_file()
    expected = [[choices.count(j) for j in range(ANSWERS)]]
    counts = [list(row) for row in result.result]
    if counts != expected:
        raise RuntimeError(f"the record's result {counts} is not the votes cast {expected}")
    return {
        "uuid": uuid,
        "ballots": spec.ballots,
        "seed": spec.seed,
        "credentials": [c.reveal() for c in credentials],
        "result": counts,
    }


def tampered_copy(record: BuiltRecord, out: Path, *, ballot: int | None = None) -> int:
    """Write to ``out`` a copy of ``record`` in which one ballot (the middle one by default) has
    an invalid proof but everything else holds: it is canonical, for this election, signed by
    its own credential over its new content, and its ciphertexts (so the tally, the partial
    decryptions and the result) are unchanged. Only checking the ballot's proofs rejects it.

    Returns the 1-based number of the tampered ballot. The chain is re-linked from there on.
    """
    from unionvote.record.archive import ArchiveWriter

    archive = read_archive(record.path)
    index = record.ballots // 2 if ballot is None else ballot
    secrets_by_key = {}
    uuid = record.uuid
    for text in record.credentials:
        credential = PrivateCredential(text)
        secrets_by_key[str(credential.public(uuid).key)] = credential.secret(uuid)
    renamed: dict[str, str] = {}
    seen = 0
    out.unlink(missing_ok=True)
    with ArchiveWriter.create(out, timestamp=archive.header.timestamp) as writer:
        for entry in archive.entries:
            if isinstance(entry, DataEntry):
                continue  # written just before the event that uses them, below
            event = entry.event
            if event.type == "Ballot":
                seen += 1
            payload = event.payload
            if payload is not None:
                assert isinstance(entry, EventEntry) and entry.payload is not None
                content = entry.payload
                if event.type == "Ballot" and seen == index:
                    content = _break_ballot(content, secrets_by_key)
                _write_data_tree(writer, archive.data, payload, renamed, content)
                payload = renamed.get(payload, payload)
            writer.add_event(event.type, payload)
    return index


def _write_data_tree(
    writer: Any, data: Any, digest: str, renamed: dict[str, str], content: bytes
) -> None:
    """Write the data entries an event's payload refers to (setup and tally structures name
    other data entries by hash), then the payload itself."""
    try:
        obj = json.loads(content)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        for key in ("election", "trustees", "credentials", "encrypted_tally", "payload"):
            ref = obj.get(key)
            if isinstance(ref, str) and ref in data and ref not in renamed:
                _write_data_tree(writer, data, ref, renamed, data[ref])
    new = writer.add_data(content)
    if new != digest:
        renamed[digest] = new
    else:
        renamed.setdefault(digest, digest)


def _break_ballot(raw: bytes, secrets_by_key: dict[str, int]) -> bytes:
    """Swap the individual proofs of the first two choices (each is a valid proof, but of the
    other ciphertext) and re-sign the ballot with its credential."""
    ballot = json.loads(raw)
    proofs = ballot["answers"][0]["individual_proofs"]
    proofs[0], proofs[1] = proofs[1], proofs[0]
    del ballot["signature"]
    digest = sha256_b64(compact_json(ballot))
    proof = sign_ballot_hash(digest, secrets_by_key[ballot["credential"]])
    ballot["signature"] = {"hash": digest, "proof": proof.to_json()}
    return compact_json(ballot)


def describe(record: BuiltRecord) -> dict[str, Any]:
    info = asdict(record)
    info.pop("credentials")
    info["path"] = str(record.path)
    return info
