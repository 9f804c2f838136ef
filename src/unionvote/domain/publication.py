"""What a stage publishes beside its record, and the report built from those files alone.

Everything in a stage's report derives from published files, so that anyone can rebuild it:

- the record (the ``.bel`` archive): the questions, the answers' labels, the result, how many
  ballots were counted (:func:`read_record`);
- ``process.toml``: the report rules, the stage's title, every candidate's party;
- ``electorate.json`` (``{"stage", "rule", "cutoff", "snapshot_digest", "eligible",
  "registered"}``): turnout against the eligible and the registered;
- ``subtallies.json``: the results by state and by local, each aggregate at least
  ``min_group_size`` ballots (small groups merged into "other" aggregates by the tally);
- ``council.json`` for a derived stage: the candidates taken from the earlier stage, with the
  hashes of the record and report they were taken from (:class:`CouncilBasis`).

:func:`build_stage_report` turns those into a :class:`~unionvote.domain.report.Report`; the
server publishes its JSON, text and HTML, and the verifier rebuilds them from the files and
compares byte for byte. :func:`derive_council_basis` and :func:`decide_stage` apply the
process's rules for the council stage to published results the same way.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import io
import json
import re
from array import array
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.trustees import TrusteeItem
from unionvote.domain.decision import (
    NO_ENDORSEMENT,
    Decision,
    decide,
    top_vote_getters_by_party,
)
from unionvote.domain.errors import DomainError
from unionvote.domain.keyindex import KEY_SIZE, KeyIndex
from unionvote.domain.process import (
    Answer,
    Candidate,
    ExtraOption,
    Process,
    ProcessQuestion,
    Stage,
    parse_process,
)
from unionvote.domain.report import Breakdown, GroupTally, QuestionTally, Report, Turnout
from unionvote.domain.report import build_report as _build_report
from unionvote.record.archive import ArchiveReader
from unionvote.record.errors import RecordError
from unionvote.record.messages import (
    Election,
    Owned,
    Question,
    Result,
    SetupData,
    SizedEncryptedTally,
    encrypted_tally_to_json,
    parse_encrypted_tally,
    parse_entry,
    parse_trustees_entry,
)

__all__ = [
    "CHART_FILE",
    "COUNCIL_FILE",
    "DECISION_FILE",
    "ELECTORATE_FILE",
    "ENDORSEMENT_FILE",
    "PROCESS_FILE",
    "REPORT_FILES",
    "SUBTALLIES_FILE",
    "Aggregate",
    "AggregateCounts",
    "CouncilBasis",
    "CountedGroupsIndex",
    "Dimension",
    "Electorate",
    "PieceStream",
    "RecordFacts",
    "StageInputs",
    "Subtallies",
    "SubtallyCounts",
    "build_stage_report",
    "canonical_json",
    "decide_stage",
    "decision_json",
    "derive_council_basis",
    "parse_council_basis",
    "parse_electorate",
    "parse_subtallies",
    "parse_subtally_counts",
    "read_record",
    "record_file_name",
    "render_report",
    "sha256_hex",
]

PROCESS_FILE = "process.toml"
ELECTORATE_FILE = "electorate.json"
SUBTALLIES_FILE = "subtallies.json"
COUNCIL_FILE = "council.json"
DECISION_FILE = "decision.json"
ENDORSEMENT_FILE = "endorsement.json"
CHART_FILE = "report.png"
REPORT_FILES = ("report.json", "report.txt", "report.html")


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def canonical_json(value: object) -> bytes:
    """Sorted keys, no spaces, UTF-8: one byte string per value, so files can be hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_file_name(stage_key: str) -> str:
    """The record's name in a stage's published directory: ``membership-vote.bel``."""
    return f"{stage_key}.bel"


def _load(raw: bytes, check: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise DomainError(check, f"{what} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise DomainError(check, f"{what} is not a JSON object")
    return value


def _int(value: Any, check: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DomainError(check, f"{what}: expected a whole number, not {str(value)[:40]}")
    return value


def _str(value: Any, check: str, what: str) -> str:
    if not isinstance(value, str):
        raise DomainError(check, f"{what}: expected a string")
    return value


def _list(value: Any, check: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise DomainError(check, f"{what}: expected a list")
    return value


# -- the record -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What a report, a council stage and a decision take from a record: its identity, the
    questions, the counted ballots' number and the result (None until decrypted)."""

    sha256: str
    uuid: str
    name: str
    election_hash: str
    questions: tuple[Question, ...]
    trustees: tuple[TrusteeItem, ...]
    weights: Mapping[str, int]  # public credential (Belenios's string) → weight
    weighted: bool = False  # the credentials carry weights: counts are weighted votes
    num_tallied: int | None = None
    total_weight: int | None = None
    encrypted_tally: tuple[tuple[Ciphertext, ...], ...] | None = None
    result: Result | None = None
    last_event: str | None = None

    def require_result(self) -> Result:
        if self.result is None or self.num_tallied is None:
            raise DomainError(
                "publication.result", f"the record of {self.name!r} has no result yet"
            )
        return self.result


BallotSink = Callable[[str, bytes], None]

#: How much of a record file is read (and hashed) at a time.
_PIECE = 1 << 20


def read_record(
    source: bytes | Path | Iterable[bytes], *, on_ballot: BallotSink | None = None
) -> RecordFacts:
    """Read a record (its bytes, its file, or its bytes piece by piece, e.g. the chunks a
    database stores it in) in one streaming pass, which also gives its SHA-256. ``on_ballot``
    is given the name (SHA-256 in hex) and the bytes of each ballot's data entry, in record
    order."""
    if isinstance(source, bytes):
        digest = sha256_hex(source)
        return _read_stream(io.BytesIO(source), lambda: digest, on_ballot)
    if isinstance(source, str | bytearray | memoryview):
        raise TypeError(
            f"a record is read from bytes, a Path or pieces of bytes, not {source!r:.60}"
        )
    if isinstance(source, Path):
        with source.open("rb", buffering=0) as file:
            return _read_pieces(iter(functools.partial(file.read, _PIECE), b""), on_ballot)
    return _read_pieces(iter(source), on_ballot)


class PieceStream(io.RawIOBase):
    """A readable stream of the bytes of ``pieces`` (a record's stored chunks, a file read a
    piece at a time), fetched only as far as it is read and hashing each piece as it comes."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        super().__init__()
        self._pieces = pieces
        self._rest = memoryview(b"")
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self.hash.update(piece)
            self._rest = memoryview(piece)
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size

    def hexdigest(self) -> str:
        """The SHA-256 of all the bytes, once the rest (if any is left unread) is hashed."""
        for piece in self._pieces:
            self.hash.update(piece)
        self._rest = memoryview(b"")
        return self.hash.hexdigest()


def _read_pieces(pieces: Iterator[bytes], on_ballot: BallotSink | None) -> RecordFacts:
    raw = PieceStream(pieces)
    return _read_stream(io.BufferedReader(raw, _PIECE), raw.hexdigest, on_ballot)


_CREDENTIAL_KEY = re.compile(r"[0-9a-f]{64}")


class CredentialWeights(Mapping[str, int]):
    """The record's public credentials (Belenios's string: 64 hexadecimal digits) → each
    one's weight (1 when unweighted), in about 32 bytes a voter (40 with weights): the keys in
    a :class:`KeyIndex` (the bytes the digits spell), the weights in a flat array."""

    __slots__ = ("_keys", "_weights")

    def __init__(self, keys: KeyIndex, weights: array[int] | None) -> None:
        self._keys, self._weights = keys, weights

    def __getitem__(self, credential: str) -> int:
        index = (
            self._keys.index(bytes.fromhex(credential))
            if isinstance(credential, str) and _CREDENTIAL_KEY.fullmatch(credential)
            else None
        )
        if index is None:
            raise KeyError(credential)
        return 1 if self._weights is None else self._weights[index]

    def __iter__(self) -> Iterator[str]:
        return (key.hex() for key in self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"CredentialWeights({len(self)} credentials)"


# The credentials entry as written: ["<64 hex digits>" or "<64 hex digits>,<weight>", ...].
_LISTED_CREDENTIAL = re.compile(rb'"([0-9a-f]{64})(?:,([1-9][0-9]*))?"')


def _credential_weights(raw: bytes) -> tuple[CredentialWeights, bool]:
    """Each public credential's weight (1 when unweighted), and whether weights are given.

    Read for the report's facts, not checked as group elements: a record's credentials are
    checked by ``unionvote verify`` and, on the server, when they were imported; checking a
    million of them again here would cost a minute (a subgroup check each). Read an item at
    a time when the list is written as the service writes it, compact (else through JSON),
    and kept in a few dozen bytes a voter."""
    keys = bytearray()
    weights = array("q")
    kinds = set()
    at, items = 1, 0
    if raw.startswith(b"["):
        for match in _LISTED_CREDENTIAL.finditer(raw, 1):
            if match.start() != at:
                break
            keys += bytes.fromhex(match[1].decode())
            weights.append(int(match[2]) if match[2] is not None else 1)
            kinds.add(match[2] is not None)
            items += 1
            at = match.end() + 1  # past the comma (or the closing bracket)
            if raw[match.end() : at] != b",":
                break
    compact = (items == 0 and raw == b"[]") or (items > 0 and at == len(raw) and raw.endswith(b"]"))
    if not compact:
        keys, weights, kinds = _credential_weights_read_whole(raw)
    if len(kinds) > 1:
        raise DomainError(
            "publication.record", "either every public credential has a weight or none has"
        )
    weighted = kinds == {True}
    try:
        index = KeyIndex(bytes(keys))  # the service lists the credentials sorted
    except ValueError:
        order = sorted(range(len(weights)), key=lambda i: keys[i * KEY_SIZE : (i + 1) * KEY_SIZE])
        try:
            index = KeyIndex(b"".join(keys[i * KEY_SIZE : (i + 1) * KEY_SIZE] for i in order))
        except ValueError:
            raise DomainError(
                "publication.record", "two voters share a public credential"
            ) from None
        weights = array("q", (weights[i] for i in order))
    return CredentialWeights(index, weights if weighted else None), weighted


def _credential_weights_read_whole(raw: bytes) -> tuple[bytearray, array[int], set[bool]]:
    """The credentials entry read through JSON, each item checked."""
    try:
        listed = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise DomainError("publication.record", f"the public credentials: {error}") from None
    if not isinstance(listed, list):
        raise DomainError("publication.record", "the public credentials are not a list")
    keys = bytearray()
    weights = array("q")
    kinds = set()
    for item in listed:
        key, sep, weight = item.partition(",") if isinstance(item, str) else ("", "", "")
        if _CREDENTIAL_KEY.fullmatch(key) is None or (
            sep and not (weight.isascii() and weight.isdigit() and int(weight) > 0)
        ):
            raise DomainError("publication.record", f"not a public credential: {str(item)[:80]!r}")
        keys += bytes.fromhex(key)
        weights.append(int(weight) if sep else 1)
        kinds.add(bool(sep))
    return keys, weights, kinds


def _read_stream(
    stream: BinaryIO, digest: Callable[[], str], on_ballot: BallotSink | None
) -> RecordFacts:
    """The record's facts from ``stream``; ``digest()``, called once the stream is read, is the
    record's SHA-256."""
    try:
        return _read_events(ArchiveReader(stream), digest, on_ballot)
    except RecordError as error:
        raise DomainError("publication.record", str(error)) from error
    except CryptoError as error:
        raise DomainError("publication.record", str(error)) from error


def _read_events(
    reader: ArchiveReader, digest: Callable[[], str], on_ballot: BallotSink | None
) -> RecordFacts:
    events = reader.iter_events()
    first = next(events, None)
    if first is None or first.event.type != "Setup" or first.payload is None:
        raise DomainError("publication.record", "the record does not start with its setup")
    setup = parse_entry("setup", first.payload, SetupData.from_json, SetupData.to_json)
    election = parse_entry(
        "election", reader.data(setup.election), Election.from_json, Election.to_json
    )
    trustees = tuple(parse_trustees_entry(reader.data(setup.trustees)))
    weights, weighted = _credential_weights(reader.data(setup.credentials))
    sized: SizedEncryptedTally | None = None
    tally: tuple[tuple[Ciphertext, ...], ...] | None = None
    result: Result | None = None
    for entry in events:
        kind = entry.event.type
        if kind == "Ballot" and entry.payload is not None and on_ballot is not None:
            on_ballot(entry.event.payload or "", entry.payload)
        elif kind == "EncryptedTally" and entry.payload is not None:
            sized = parse_entry(
                "tally", entry.payload, SizedEncryptedTally.from_json, SizedEncryptedTally.to_json
            )
            rows = parse_entry(
                "tally",
                reader.data(sized.encrypted_tally),
                parse_encrypted_tally,
                encrypted_tally_to_json,
            )
            tally = tuple(tuple(row) for row in rows)
        elif kind == "PartialDecryption" and entry.payload is not None:
            parse_entry("decryption.owner", entry.payload, Owned.from_json, Owned.to_json)
        elif kind == "Result" and entry.payload is not None:
            result = parse_entry("result", entry.payload, Result.from_json, Result.to_json)
    return RecordFacts(
        sha256=digest(),
        uuid=election.uuid,
        name=election.name,
        election_hash=setup.election_hash,
        questions=election.questions,
        trustees=trustees,
        weights=weights,
        weighted=weighted,
        num_tallied=None if sized is None else sized.num_tallied,
        total_weight=None if sized is None else sized.total_weight,
        encrypted_tally=tally,
        result=result,
        last_event=reader.last_event,
    )


# -- electorate.json ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Electorate:
    """``electorate.json``: who could vote in a stage, as frozen and published."""

    stage: str
    eligible: int
    registered: int
    rule: str | None = None
    cutoff: str | None = None
    snapshot_digest: str | None = None


def parse_electorate(raw: bytes) -> Electorate:
    check = "publication.electorate"
    obj = _load(raw, check, ELECTORATE_FILE)
    missing = [k for k in ("stage", "eligible", "registered") if k not in obj]
    if missing:
        raise DomainError(check, f"{ELECTORATE_FILE} lacks {', '.join(missing)}")

    def text(key: str) -> str | None:
        value = obj.get(key)
        return None if value is None else _str(value, check, key)

    return Electorate(
        _str(obj["stage"], check, "stage"),
        _int(obj["eligible"], check, "eligible"),
        _int(obj["registered"], check, "registered"),
        text("rule"),
        text("cutoff"),
        text("snapshot_digest"),
    )


# -- subtallies.json ------------------------------------------------------------------------


def _display_name(aggregate_id: str, label: str, groups: tuple[str, ...], dimension: str) -> str:
    """A merged aggregate names its groups only by their number: "12 other states together";
    a group on its own goes by its label."""
    count = len(groups)
    if count == 1 and not aggregate_id.endswith(":other"):
        return label
    return f"{count} other {dimension}{'s' if count != 1 else ''} together"


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One published aggregate: a group (``state:MI``) or several small groups merged into
    one "other" aggregate, with its encrypted tally, the trustees' partial decryptions of it
    and its counts (per question, blank first where allowed, as in the record's result)."""

    id: str
    label: str
    groups: tuple[str, ...]
    ballots: int
    encrypted_tally: tuple[tuple[Ciphertext, ...], ...]
    partial_decryptions: tuple[tuple[int, PartialDecryption], ...]
    result: tuple[tuple[int, ...], ...]

    def display_name(self, dimension: str) -> str:
        return _display_name(self.id, self.label, self.groups, dimension)


@dataclass(frozen=True, slots=True)
class AggregateCounts:
    """What a report shows of a published aggregate: its groups, ballots and counts (its
    encrypted tally and partial decryptions are the verifier's business)."""

    id: str
    label: str
    groups: tuple[str, ...]
    ballots: int
    result: tuple[tuple[int, ...], ...]

    def display_name(self, dimension: str) -> str:
        return _display_name(self.id, self.label, self.groups, dimension)


A = TypeVar("A", Aggregate, AggregateCounts)


@dataclass(frozen=True, slots=True)
class Dimension(Generic[A]):
    dimension: str
    aggregates: tuple[A, ...]


class CountedGroupsIndex(Mapping[str, tuple[str, ...]]):
    """``counted_groups`` as the verifier keeps it: each counted credential → the ids of its
    aggregates, in about 40 bytes a voter where the dictionary of text keys it replaces kept
    about 155, and ``json.loads`` of the whole file held some 450 on the way (issue 5).

    A credential written as Belenios writes a public key, 64 lowercase hexadecimal digits, is
    kept as the 32 bytes those digits spell (big-endian as written: RFC 8032's bytes, which
    ``verify.voters.Voters`` keeps, reversed), all in one :class:`KeyIndex`, so that the
    canonical file's sorted credentials need no sorting; with each, in a flat array, the
    number of its combination of ids, of which there are a few thousand (each a tuple, kept
    once). Any other key (a file that is not what the service writes) is kept as it is
    beside, so that nothing read is lost and the checks can name it.

    A mapping from the credentials' text: iteration gives the hexadecimal credentials in
    sorted order, then the others in the order read. :meth:`of_key` looks one up by its
    bytes without making its text. A key repeated in the file has its last value, as
    ``json.loads`` gives it."""

    __slots__ = ("_combinations", "_keys", "_numbers", "_others")

    def __init__(
        self,
        keys: KeyIndex,
        numbers: array[int],
        combinations: Sequence[tuple[str, ...]],
        others: Mapping[str, tuple[str, ...]],
    ) -> None:
        if len(numbers) != len(keys) or max(numbers, default=-1) >= len(combinations):
            raise ValueError("one combination number per key, each of a listed combination")
        self._keys = keys
        self._numbers = numbers
        self._combinations = tuple(combinations)
        self._others = dict(others)

    @classmethod
    def of(cls, groups: Mapping[str, Sequence[str]]) -> CountedGroupsIndex:
        """The index of a mapping already read (credential → ids)."""
        builder = _IndexBuilder()
        for credential, ids in groups.items():
            builder.add(credential, builder.combination(tuple(ids)))
        return builder.build()

    @classmethod
    def from_compact_json(cls, raw: bytes, start: int, stop: int) -> CountedGroupsIndex | None:
        """The index of the object written in ``raw[start:stop]`` as the service writes it:
        compact (no space), each value a list of strings. Read an entry at a time, with no
        copy of the whole and nothing per entry kept but its key's bytes and its number: a
        combination's JSON is decoded once, a key only when it has an escape. None when the
        text is not exactly of that form (then it is for ``json.loads`` to read)."""
        builder = _IndexBuilder()
        entry = _FIRST_ENTRY.match(raw, start, stop)
        if entry is None:  # no entry: only the empty object is of this form
            empty = stop - start == 2 and raw.startswith(b"{}", start)
            return builder.build() if empty else None
        entries = _NEXT_ENTRY.finditer(raw, entry.end(), stop)
        decoded: dict[bytes, int] = {}  # a combination's JSON → its number
        at = start  # where the next entry must begin: the entries tile the object exactly
        try:
            while entry is not None:
                if entry.start() != at:
                    return None
                at = entry.end()
                hexadecimal, other, listed = entry.groups()
                number = decoded.get(listed)
                if number is None:
                    number = decoded[listed] = builder.combination(tuple(json.loads(listed)))
                if hexadecimal is not None:
                    builder.add_key(binascii.unhexlify(hexadecimal), number)
                elif b"\\" in other:
                    builder.add(json.loads(b'"%b"' % other), number)
                else:  # as json.loads decodes bytes
                    builder.add(other.decode("utf-8", "surrogatepass"), number)
                entry = next(entries, None)
        except ValueError:  # a string that is not UTF-8, or not JSON after all
            return None
        if at + 1 != stop or not raw.startswith(b"}", at):  # only the closing brace is left
            return None
        return builder.build()

    def __getitem__(self, credential: str) -> tuple[str, ...]:
        if isinstance(credential, str) and _CREDENTIAL_KEY.fullmatch(credential):
            ids = self.of_key(bytes.fromhex(credential))
            if ids is None:
                raise KeyError(credential)
            return ids
        return self._others[credential]

    def __iter__(self) -> Iterator[str]:
        for key in self._keys:
            yield key.hex()
        yield from self._others

    def __len__(self) -> int:
        return len(self._keys) + len(self._others)

    def __repr__(self) -> str:
        return (
            f"CountedGroupsIndex({len(self)} credentials, "
            f"{len(self._combinations)} combinations of groups)"
        )

    def items(self) -> ItemsView[str, tuple[str, ...]]:
        return _CountedItems(self)

    def of_key(self, key: bytes) -> tuple[str, ...] | None:
        """The ids of the credential whose hexadecimal is ``key.hex()``, or None."""
        index = self._keys.index(key)
        return None if index is None else self._combinations[self._numbers[index]]

    def key_items(self) -> Iterator[tuple[bytes, tuple[str, ...]]]:
        """Each hexadecimal credential as its bytes (as in :meth:`of_key`), with its ids, in
        sorted order."""
        combinations, numbers = self._combinations, self._numbers
        for index, key in enumerate(self._keys):
            yield key, combinations[numbers[index]]

    def other_items(self) -> ItemsView[str, tuple[str, ...]]:
        """The keys that are not a hexadecimal credential, with their ids."""
        return self._others.items()


class _CountedItems(ItemsView[str, tuple[str, ...]]):
    """``items()`` read in one pass rather than by looking each key up again."""

    _index: CountedGroupsIndex

    def __init__(self, index: CountedGroupsIndex) -> None:
        super().__init__(index)
        self._index = index

    def __iter__(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        for key, ids in self._index.key_items():
            yield key.hex(), ids
        yield from self._index.other_items()


class _IndexBuilder:
    """A :class:`CountedGroupsIndex` being read, an entry at a time."""

    __slots__ = ("_combinations", "_in_order", "_keys", "_number_of", "_numbers", "_others",
                 "_previous")  # fmt: skip

    def __init__(self) -> None:
        self._keys = bytearray()  # the hexadecimal credentials' bytes, as read
        self._numbers = array("I")  # each one's combination's number
        self._combinations: list[tuple[str, ...]] = []
        self._number_of: dict[tuple[str, ...], int] = {}
        self._others: dict[str, tuple[str, ...]] = {}
        self._previous = b""
        self._in_order = True  # so far each key after the one before, none repeated

    def combination(self, ids: tuple[str, ...]) -> int:
        """The number of the combination ``ids`` (a new one the first time)."""
        number = self._number_of.get(ids)
        if number is None:
            number = self._number_of[ids] = len(self._combinations)
            self._combinations.append(ids)
        return number

    def add(self, credential: str, number: int) -> None:
        if _CREDENTIAL_KEY.fullmatch(credential):
            self.add_key(bytes.fromhex(credential), number)
        else:
            self._others[credential] = self._combinations[number]

    def add_key(self, key: bytes, number: int) -> None:
        self._in_order = self._in_order and key > self._previous
        self._previous = key
        self._keys += key
        self._numbers.append(number)

    def build(self) -> CountedGroupsIndex:
        keys, numbers = bytes(self._keys), self._numbers
        self._keys = bytearray()
        if not self._in_order:
            keys, numbers = _last_of_each(keys, numbers)
        return CountedGroupsIndex(KeyIndex(keys), numbers, self._combinations, self._others)


def _last_of_each(keys: bytes, numbers: array[int]) -> tuple[bytes, array[int]]:
    """Keys out of order, sorted, each repeated one with the number it was given last (as
    ``json.loads`` keeps a repeated key's last value). Only for a file that is not what the
    service writes: its sorted credentials come in order."""

    def key(i: int) -> bytes:
        return keys[i * KEY_SIZE : (i + 1) * KEY_SIZE]

    order = sorted(range(len(numbers)), key=key)  # stable: a repeated key's last is last
    following = [*order[1:], None]
    kept = [i for i, j in zip(order, following, strict=True) if j is None or key(i) != key(j)]
    return b"".join(map(key, kept)), array("I", (numbers[i] for i in kept))


# One entry of counted_groups in compact JSON: "<credential>":["<id>",...], the credential
# either 64 lowercase hexadecimal digits (group 1) or any other JSON string's body (group 2),
# then its list of ids (group 3). A string is what JSON allows: no raw control character, only
# JSON's escapes (written unrolled, which Python's re runs much faster than an alternation per
# character).
_BODY = rb'[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*'
_ENTRY = rb'"(?:([0-9a-f]{64})|(%b))":(\[(?:"%b"(?:,"%b")*)?\])' % (_BODY, _BODY, _BODY)
_FIRST_ENTRY = re.compile(rb"\{" + _ENTRY)
_NEXT_ENTRY = re.compile(rb"," + _ENTRY)


@dataclass(frozen=True, slots=True)
class Subtallies:
    """``subtallies.json``: results by group, and which aggregates each counted credential
    (by its public key, as ballots write it) belongs to."""

    version: int
    uuid: str
    election_hash: str
    min_group_size: int
    dimensions: tuple[Dimension[Aggregate], ...]
    counted_groups: CountedGroupsIndex


@dataclass(frozen=True, slots=True)
class SubtallyCounts:
    """What a report takes from ``subtallies.json``: the election it is of and each
    aggregate's counts (:func:`parse_subtally_counts`)."""

    uuid: str
    election_hash: str
    min_group_size: int
    dimensions: tuple[Dimension[AggregateCounts], ...]


_AGGREGATE_KEYS = frozenset(
    {"id", "label", "groups", "ballots", "encrypted_tally", "partial_decryptions", "result"}
)
_SUBTALLIES_KEYS = frozenset(
    {"version", "uuid", "election_hash", "min_group_size", "dimensions", "counted_groups"}
)


def _aggregate_counts(obj: Any, where: str) -> AggregateCounts:
    """An aggregate's fields, all present, and those a report shows, checked."""
    check = "publication.subtallies"
    if not isinstance(obj, dict):
        raise DomainError(check, f"{where}: expected an object")
    if set(obj) != _AGGREGATE_KEYS:
        raise DomainError(
            check, f"{where}: expected the fields {', '.join(sorted(_AGGREGATE_KEYS))}"
        )
    aggregate_id = _str(obj["id"], check, f"{where}.id")
    result = tuple(
        tuple(_int(n, check, f"{aggregate_id}.result") for n in _list(row, check, "result"))
        for row in _list(obj["result"], check, f"{aggregate_id}.result")
    )
    groups = tuple(
        _str(g, check, f"{aggregate_id}.groups")
        for g in _list(obj["groups"], check, f"{aggregate_id}.groups")
    )
    if not groups:
        raise DomainError(check, f"{aggregate_id}: an aggregate has at least one group")
    return AggregateCounts(
        aggregate_id,
        _str(obj["label"], check, f"{aggregate_id}.label"),
        groups,
        _int(obj["ballots"], check, f"{aggregate_id}.ballots"),
        result,
    )


def _aggregate(obj: Any, where: str) -> Aggregate:
    check = "publication.subtallies"
    counts = _aggregate_counts(obj, where)
    aggregate_id = counts.id
    try:
        tally = parse_encrypted_tally(obj["encrypted_tally"])
        partials = []
        for item in _list(obj["partial_decryptions"], check, f"{aggregate_id}.partial"):
            if not isinstance(item, dict) or set(item) != {"owner", "decryption"}:
                raise DomainError(check, f"{aggregate_id}: a partial decryption needs owner")
            owner = _int(item["owner"], check, f"{aggregate_id}.owner")
            partials.append((owner, PartialDecryption.from_json(item["decryption"])))
    except CryptoError as error:
        raise DomainError(check, f"{aggregate_id}: {error}") from error
    return Aggregate(
        aggregate_id,
        counts.label,
        counts.groups,
        counts.ballots,
        tuple(tuple(row) for row in tally),
        tuple(partials),
        counts.result,
    )


def _subtallies_object(raw: bytes) -> dict[str, Any]:
    check = "publication.subtallies"
    obj = _load(raw, check, SUBTALLIES_FILE)
    if set(obj) != _SUBTALLIES_KEYS:
        raise DomainError(
            check, f"{SUBTALLIES_FILE}: expected the fields {sorted(_SUBTALLIES_KEYS)}"
        )
    _check_version(obj)
    return obj


def _check_version(obj: dict[str, Any]) -> None:
    if obj["version"] != 1:
        raise DomainError(
            "publication.subtallies", f"{SUBTALLIES_FILE}: version {obj['version']!r} is not 1"
        )


_GROUPS_KEY = b',"counted_groups":'
_HEAD_KEYS = _SUBTALLIES_KEYS - {"counted_groups"}


def _subtallies_parts(raw: bytes) -> tuple[dict[str, Any], slice | None]:
    """``subtallies.json`` read but for ``counted_groups`` (its version not yet checked), with
    where that field's JSON is in ``raw``, when the file has the shape the service writes:
    that field last, after ``,"counted_groups":``, its value an object
    (:meth:`domain.tally.Subtallies.to_bytes`). Any other file is read whole (and the slice is
    None), as it always was.

    The two parts read alone give what the whole would: the text before that key, closed by a
    brace, is an object only if the key is the file's own (found nested in a field before, it
    would leave a bracket open), and holding exactly the other fields, the file's value of
    ``counted_groups`` is the one after it. Only a ``counted_groups`` that is not valid JSON
    goes unnoticed by this reading alone (the verifier reads it)."""
    at = raw.find(_GROUPS_KEY)
    start, stop = at + len(_GROUPS_KEY), len(raw) - 1
    if at > 0 and raw.startswith(b"{", start) and raw.endswith(b"}}"):
        try:  # decoded as json decodes UTF-8 (a file in another encoding is read whole)
            head = json.loads((raw[:at] + b"}").decode("utf-8", "surrogatepass"))
        except (ValueError, RecursionError):
            head = None
        if isinstance(head, dict) and set(head) == _HEAD_KEYS:
            return head, slice(start, stop)
    return _subtallies_object(raw), None


def _counted_groups(raw: bytes, obj: dict[str, Any], where: slice | None) -> Any:
    """``counted_groups`` read: the index, when its JSON in ``raw[where]`` is compact; else
    as ``json.loads`` reads it (checked by :func:`_counted_groups_index`). A text that is not
    JSON is refused as the whole file's reading refuses it, in the same words."""
    if where is None:
        return obj["counted_groups"]
    index = CountedGroupsIndex.from_compact_json(raw, where.start, where.stop)
    if index is not None:
        return index
    try:
        return json.loads(raw[where])
    except (ValueError, RecursionError):
        return _subtallies_object(raw)["counted_groups"]  # raises the whole file's error


def _counted_groups_index(counted: Any) -> CountedGroupsIndex:
    """The index of ``counted_groups`` as ``json.loads`` read it, each item checked."""
    check = "publication.subtallies"
    if isinstance(counted, CountedGroupsIndex):  # read in compact form: strings and lists
        return counted
    if not isinstance(counted, dict):
        raise DomainError(check, "counted_groups: expected an object")
    builder = _IndexBuilder()
    for k, v in counted.items():
        ids = tuple(_str(x, check, "counted_groups") for x in _list(v, check, "counted_groups"))
        builder.add(_str(k, check, "counted_groups"), builder.combination(ids))
    return builder.build()


def _dimensions(obj: dict[str, Any], read: Callable[[Any, str], A]) -> tuple[Dimension[A], ...]:
    check = "publication.subtallies"
    dimensions = []
    seen: set[str] = set()
    for i, item in enumerate(_list(obj["dimensions"], check, "dimensions")):
        if not isinstance(item, dict) or set(item) != {"dimension", "aggregates"}:
            raise DomainError(check, f"dimensions[{i}]: expected dimension and aggregates")
        name = _str(item["dimension"], check, f"dimensions[{i}].dimension")
        aggregates = tuple(
            read(a, f"{name}[{j}]") for j, a in enumerate(_list(item["aggregates"], check, name))
        )
        ids = [a.id for a in aggregates]
        if name in seen or len(set(ids)) != len(ids) or seen & set(ids):
            raise DomainError(check, f"dimension {name!r} or one of its aggregates is repeated")
        seen.add(name)
        dimensions.append(Dimension(name, aggregates))
    return tuple(dimensions)


def parse_subtallies(raw: bytes) -> Subtallies:
    """Read ``subtallies.json`` strictly: a clear error names the first thing wrong."""
    check = "publication.subtallies"
    obj, where = _subtallies_parts(raw)
    counted = _counted_groups(raw, obj, where)  # first: the file is JSON, or it is refused so
    _check_version(obj)
    dimensions = _dimensions(obj, _aggregate)
    counted_groups = _counted_groups_index(counted)
    return Subtallies(
        1,
        _str(obj["uuid"], check, "uuid"),
        _str(obj["election_hash"], check, "election_hash"),
        _int(obj["min_group_size"], check, "min_group_size"),
        dimensions,
        counted_groups,
    )


def parse_subtally_counts(raw: bytes) -> SubtallyCounts:
    """What a report shows from ``subtallies.json``, read as strictly as
    :func:`parse_subtallies` reads it but for what the report does not show: the group
    elements of the aggregates' encrypted tallies and partial decryptions are not decoded (a
    subgroup check each, the bulk of the work) and ``counted_groups`` (one entry a counted
    ballot, a hundred megabytes for a million) is not read: in the file the service writes,
    not even parsed (its value is seen to be an object by its first byte); ``unionvote
    verify`` checks both."""
    check = "publication.subtallies"
    obj, where = _subtallies_parts(raw)  # counted_groups left unread in the canonical file
    _check_version(obj)
    dimensions = _dimensions(obj, _aggregate_counts)
    if where is None and not isinstance(obj["counted_groups"], dict):
        raise DomainError(check, "counted_groups: expected an object")
    return SubtallyCounts(
        _str(obj["uuid"], check, "uuid"),
        _str(obj["election_hash"], check, "election_hash"),
        _int(obj["min_group_size"], check, "min_group_size"),
        dimensions,
    )


# -- council.json: what a derived stage rests on ------------------------------------------


@dataclass(frozen=True, slots=True)
class CouncilBasis:
    """A derived stage's candidates and the hashes of what they were taken from: the earlier
    stage's record and its published report (and its election fingerprint φ). Stored as the
    council stage's ``derived_from`` and published as ``council.json``."""

    candidates: tuple[Candidate, ...]
    from_stage: str
    record_sha256: str
    report_sha256: str
    election_hash: str

    def to_obj(self) -> dict[str, Any]:
        return {
            "candidates": [{"name": c.name, "party": c.party} for c in self.candidates],
            "from_stage": self.from_stage,
            "record_sha256": self.record_sha256,
            "report_sha256": self.report_sha256,
            "election_hash": self.election_hash,
        }

    def to_json(self) -> bytes:
        return canonical_json(self.to_obj())


def parse_council_basis(raw: bytes | str) -> CouncilBasis:
    check = "publication.council"
    obj = _load(raw.encode() if isinstance(raw, str) else raw, check, COUNCIL_FILE)
    keys = {"candidates", "from_stage", "record_sha256", "report_sha256", "election_hash"}
    if set(obj) != keys:
        raise DomainError(check, f"{COUNCIL_FILE}: expected the fields {sorted(keys)}")
    candidates = []
    for item in _list(obj["candidates"], check, "candidates"):
        if not isinstance(item, dict) or set(item) != {"name", "party"}:
            raise DomainError(check, "a candidate is {name, party}")
        candidates.append(
            Candidate(_str(item["name"], check, "name"), _str(item["party"], check, "party"))
        )
    return CouncilBasis(
        tuple(candidates),
        _str(obj["from_stage"], check, "from_stage"),
        _str(obj["record_sha256"], check, "record_sha256"),
        _str(obj["report_sha256"], check, "report_sha256"),
        _str(obj["election_hash"], check, "election_hash"),
    )


def _derived_question(stage: Stage) -> ProcessQuestion:
    for question in stage.questions:
        if question.candidates_from is not None:
            return question
    raise DomainError("council.stage", f"stage {stage.id!r} takes no candidates from another")


def derive_council_basis(
    process: Process,
    from_stage: str,
    to_stage: str,
    record: RecordFacts,
    report_sha256: str,
) -> CouncilBasis:
    """The top vote-getter of each party in ``from_stage``'s question that ``to_stage`` takes
    its candidates from (issue 3, §9). A tie for a party's top place is refused, naming the
    tied candidates: the process has no rule to break it, so a person must decide."""
    target = process.stage(to_stage)
    if target.derived_from != from_stage:
        raise DomainError(
            "council.stage",
            f"stage {to_stage!r} derives from {target.derived_from!r}, not {from_stage!r}",
        )
    question_id = _derived_question(target).candidates_from
    source = process.stage(from_stage)
    index = next(i for i, q in enumerate(source.questions) if q.id == question_id)
    answers = source.questions[index].answers()
    result = record.require_result()
    tally = QuestionTally.from_result(
        _record_question(record, index), answers, result.result[index], record.num_tallied or 0
    )
    finalists = top_vote_getters_by_party(tally.counts, [(a.label, a.party) for a in tally.answers])
    if finalists.ties:
        counts = dict(zip((a.label for a in answers), tally.counts, strict=True))
        ties = "; ".join(
            f"{party}: {' and '.join(names)} with {counts[names[0]]:,} votes each"
            for party, names in finalists.ties
        )
        raise DomainError(
            "council.tie",
            f"the top vote-getters are tied ({ties}); the process has no rule to break a tie",
        )
    if not finalists.candidates:
        raise DomainError("council.candidates", f"no candidate of {from_stage!r} got a vote")
    return CouncilBasis(
        tuple(Candidate(name, party) for name, party in finalists.candidates),
        from_stage,
        record.sha256,
        report_sha256,
        record.election_hash,
    )


def _record_question(record: RecordFacts, index: int) -> Question:
    if index >= len(record.questions):
        raise DomainError("publication.record", "the record has fewer questions than the stage")
    return record.questions[index]


# -- the report -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageInputs:
    """The published files a stage's report is built from (None: not published)."""

    stage: str
    process_text: str
    record: RecordFacts
    electorate: bytes | None = None
    subtallies: bytes | None = None
    council: bytes | None = None


def _stage_answers(process: Process, stage: Stage, council: bytes | None) -> list[list[Answer]]:
    derived: Sequence[Candidate] | None = None
    if any(q.candidates_from is not None for q in stage.questions):
        if council is None:
            raise DomainError(
                "publication.council",
                f"stage {stage.id!r} takes its candidates from {stage.derived_from!r}: "
                f"{COUNCIL_FILE} is needed",
            )
        derived = parse_council_basis(council).candidates
    return [list(q.answers(derived if q.candidates_from else None)) for q in stage.questions]


def _check_questions(
    stage: Stage, answers: Sequence[Sequence[Answer]], record: RecordFacts
) -> None:
    expected = [
        (q.question, tuple(a.label for a in a_list))
        for q, a_list in zip(stage.questions, answers, strict=True)
    ]
    actual = [(q.question, q.answers) for q in record.questions]
    if expected != actual:
        raise DomainError(
            "publication.record",
            f"the record's questions and answers are not those of stage {stage.id!r}",
        )


def _breakdowns(
    inputs: StageInputs, process: Process, record: RecordFacts
) -> list[list[Breakdown]]:
    per_question: list[list[Breakdown]] = [[] for _ in record.questions]
    if inputs.subtallies is None:
        return per_question
    subtallies = parse_subtally_counts(inputs.subtallies)
    if (subtallies.uuid, subtallies.election_hash) != (record.uuid, record.election_hash):
        raise DomainError("publication.subtallies", f"{SUBTALLIES_FILE} is of another election")
    by_name = {d.dimension: d for d in subtallies.dimensions}
    for name in process.report.breakdowns:
        dimension = by_name.get(name)
        if dimension is None or not dimension.aggregates:
            for groups_of_question in per_question:  # said, not silently left out
                groups_of_question.append(Breakdown(name, ()))
            continue
        for i, question in enumerate(record.questions):
            groups = []
            for aggregate in dimension.aggregates:
                if len(aggregate.result) != len(record.questions):
                    raise DomainError("publication.subtallies", f"{aggregate.id}: bad result")
                row = aggregate.result[i]
                if len(row) != len(question.answers) + question.blank:
                    raise DomainError("publication.subtallies", f"{aggregate.id}: bad result")
                counts = row[1:] if question.blank else row
                groups.append(GroupTally(aggregate.display_name(name), aggregate.ballots, counts))
            per_question[i].append(Breakdown(name, tuple(groups)))
    return per_question


def build_stage_report(inputs: StageInputs, *, simulation: bool) -> Report:
    """The report of a stage from its published files alone (see the module docstring)."""
    process = parse_process(inputs.process_text, source=PROCESS_FILE)
    stage = process.stage(inputs.stage)
    record = inputs.record
    result = record.require_result()
    answers = _stage_answers(process, stage, inputs.council)
    _check_questions(stage, answers, record)
    weight = record.total_weight if record.weighted else None
    turnout = Turnout(record.num_tallied or 0, weight=weight)
    if inputs.electorate is not None:
        electorate = parse_electorate(inputs.electorate)
        if electorate.stage != stage.id:
            raise DomainError(
                "publication.electorate", f"{ELECTORATE_FILE} is of stage {electorate.stage!r}"
            )
        turnout = Turnout(
            turnout.ballots, electorate.eligible, electorate.registered, weight=weight
        )
    breakdowns = _breakdowns(inputs, process, record)
    tallies = [
        QuestionTally.from_result(q, a, row, turnout.ballots, b)
        for q, a, row, b in zip(record.questions, answers, result.result, breakdowns, strict=True)
    ]

    def digest(content: bytes | None) -> str | None:
        return None if content is None else sha256_hex(content)

    sources = (
        ("record", record.sha256),
        ("election_hash", record.election_hash),
        ("process", sha256_hex(inputs.process_text.encode())),
        ("electorate", digest(inputs.electorate)),
        ("subtallies", digest(inputs.subtallies)),
        ("council", digest(inputs.council)),
    )
    return _build_report(
        f"{process.short_name}: {stage.title}",
        tallies,
        process.report,
        turnout,
        simulation=simulation,
        stage=stage.id,
        sources=sources,
    )


def render_report(report: Report) -> dict[str, bytes]:
    """The report's published files but the chart: ``report.json``, ``.txt``, ``.html``."""
    return {
        "report.json": report.to_json(),
        "report.txt": report.to_text().encode(),
        "report.html": report.to_html(chart=CHART_FILE).encode(),
    }


# -- the decision -----------------------------------------------------------------------------


def decide_stage(
    process_text: str, stage_key: str, record: RecordFacts
) -> tuple[ProcessQuestion, Decision]:
    """Apply the stage's decision rule to its record's result: the derived question (or the
    first) is the one decided. Counts are votes, or weights if the rule says so (the record's
    counts are already weighted then)."""
    process = parse_process(process_text, source=PROCESS_FILE)
    stage = process.stage(stage_key)
    if stage.decision is None:
        raise DomainError("decision.rule", f"stage {stage_key!r} has no decision rule")
    question = next((q for q in stage.questions if q.candidates_from), stage.questions[0])
    index = stage.questions.index(question)
    result = record.require_result()
    row = result.result[index]
    labels = _record_question(record, index)
    counts_row = row[1:] if labels.blank else row
    counts = dict(zip(labels.answers, counts_row, strict=True))
    no_endorsement = (
        ExtraOption.NO_ENDORSEMENT.label
        if ExtraOption.NO_ENDORSEMENT in question.extra_options
        else NO_ENDORSEMENT
    )
    decision = decide(
        counts, stage.decision.rule, weighted=stage.decision.weights, no_endorsement=no_endorsement
    )
    return question, decision


def decision_json(
    stage_key: str, question: ProcessQuestion, decision: Decision, record: RecordFacts
) -> bytes:
    """``decision.json``: the rule, the counts it was applied to, the outcome and why, and
    the record it rests on."""
    return canonical_json(
        {
            "stage": stage_key,
            "question": question.question,
            "rule": decision.rule.value,
            "weighted": decision.weighted,
            "counts": [{"answer": a, "votes": n} for a, n in decision.counts],
            "votes_cast": decision.votes_cast,
            "endorsed": decision.endorsed,
            "reason": decision.reason,
            "record_sha256": record.sha256,
            "election_hash": record.election_hash,
        }
    )
