"""Belenios's public election record, the ``.bel`` archive (specification, "Public data").

The specification's section "Public data" publishes everything public about an election in one
append-only old-style tar archive: a ``BELENIOS`` header entry, then content-addressed entries
``<sha256>.data.json`` and ``<sha256>.event.json``, the events forming a hash chain. This module

- writes that archive byte for byte as Belenios writes it, so ``belenios-tool`` reads ours and we
  can append to an archive after reopening it (:class:`ArchiveWriter`);
- reads it as a stream, checking every rule of the section as it goes (:func:`iter_tar_entries`,
  :class:`ArchiveReader`, :func:`read_archive`);
- hashes our own files published beside it and lists them in ``manifest.json``
  (:func:`write_sidecar`, :func:`write_manifest`, :func:`check_sidecars`).

Every broken rule raises :class:`~unionvote.record.errors.RecordError` with a named check. The
writer refuses to write anything the reader would reject. Nothing here reads the clock: the
archive's timestamp is a parameter.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Container, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import (
    BinaryIO,
    Final,
    Literal,
    NamedTuple,
    Self,
    TypeAlias,
    TypeGuard,
    cast,
    get_args,
)

from unionvote.record.errors import RecordError

__all__ = [
    "ARCHIVE_VERSION",
    "BLOCK_SIZE",
    "EVENT_TYPES",
    "HEADER_NAME",
    "MANIFEST_NAME",
    "Archive",
    "ArchiveReader",
    "ArchiveWriter",
    "DataEntry",
    "Event",
    "EventEntry",
    "EventType",
    "Header",
    "TarEntry",
    "check_sidecars",
    "iter_tar_entries",
    "read_archive",
    "write_manifest",
    "write_sidecar",
]

StrPath: TypeAlias = str | os.PathLike[str]

BLOCK_SIZE: Final = 512
"""Tar's block: every header is one block, every content is padded to whole blocks."""

HEADER_NAME: Final = "BELENIOS"
"""The name of the archive's first entry, the ``header`` structure."""

ARCHIVE_VERSION: Final = 1
"""The ``version`` of the ``header`` structure this module reads and writes."""

EventType: TypeAlias = Literal[
    "Setup",
    "Ballot",
    "EndBallots",
    "EncryptedTally",
    "Shuffle",
    "EndShuffles",
    "PartialDecryption",
    "Result",
]
"""The specification's ``event_type``."""

EVENT_TYPES: Final[tuple[EventType, ...]] = get_args(EventType)

_WITHOUT_PAYLOAD: Final[frozenset[str]] = frozenset({"EndBallots", "EndShuffles"})

# The specification's "typical sequence" table: Setup, Ballot*, EndBallots, EncryptedTally,
# [Shuffle* EndShuffles] (only for non-homomorphic questions), PartialDecryption+, Result.
_NEXT_TYPES: Final[Mapping[str | None, frozenset[str]]] = {
    None: frozenset({"Setup"}),
    "Setup": frozenset({"Ballot", "EndBallots"}),
    "Ballot": frozenset({"Ballot", "EndBallots"}),
    "EndBallots": frozenset({"EncryptedTally"}),
    "EncryptedTally": frozenset({"Shuffle", "EndShuffles", "PartialDecryption"}),
    "Shuffle": frozenset({"Shuffle", "EndShuffles"}),
    "EndShuffles": frozenset({"PartialDecryption"}),
    "PartialDecryption": frozenset({"PartialDecryption", "Result"}),
    "Result": frozenset(),
}

# A ballot's data entry serves its one Ballot event; forgetting it afterwards keeps the memory
# of a reader or writer independent of the number of ballots. Reader and writer share the rule.
_CONSUMED_PAYLOADS: Final[frozenset[str]] = frozenset({"Ballot"})

_HASH = re.compile(r"[0-9a-f]{64}")
# An event in its canonical form (see ``Event.to_bytes``), the only form the reader accepts:
# content that matches is parsed without the JSON parser (every Ballot event of a record).
_CANONICAL_EVENT = re.compile(
    rb'\{(?:"parent":"([0-9a-f]{64})",)?"height":(0|[1-9][0-9]{0,17}),"type":"([A-Za-z]{1,20})"'
    rb'(?:,"payload":"([0-9a-f]{64})")?\}'
)
_ENTRY_NAME = re.compile(r"([0-9a-f]{64})\.(data|event)\.json")
_DIGITS = re.compile(r"[0-9]+")
_SIDECAR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

_MAX_OCTAL_11: Final = 8**11  # size and mtime are 11 octal digits
_CHUNK: Final = 1 << 16


def _sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _padding(size: int) -> int:
    return -size % BLOCK_SIZE


# --- tar -------------------------------------------------------------------------------------


def _tar_header(name: str, size: int, mtime: int) -> bytes:
    """One old-style (v7) tar header block exactly as Belenios writes it ("Public data").

    Fields: name NUL-padded to 100 bytes, mode ``0000644``, uid and gid ``0000000``, size and
    mtime as 11 octal digits, checksum as 6 octal digits then NUL and space, typeflag ``0``, no
    link name and no ustar magic.
    """
    encoded = name.encode("ascii")
    if not 0 < len(encoded) <= 99:
        raise ValueError(f"a tar entry name must be 1 to 99 ASCII bytes, not {name!r}")
    if not 0 <= size < _MAX_OCTAL_11 or not 0 <= mtime < _MAX_OCTAL_11:
        raise ValueError(f"size {size} or mtime {mtime} does not fit in 11 octal digits")
    block = bytearray(BLOCK_SIZE)
    block[0 : len(encoded)] = encoded
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % size
    block[136:148] = b"%011o\0" % mtime
    block[148:156] = b" " * 8  # the checksum is computed with its own field as spaces
    block[156:157] = b"0"
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def _octal(field: bytes, what: str, offset: int) -> int:
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text or text.translate(None, b"01234567"):  # empty, or a byte left that is no digit
        raise RecordError(
            "archive.tar",
            f"the {what} field {field!r} of the tar header at byte {offset} is not octal",
        )
    return int(text, 8)


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, or fewer only at the end of the stream."""
    if size <= _CHUNK:  # the usual case, in one read (a buffered stream returns it whole)
        first = stream.read(size)
        if len(first) == size or not first:
            return first
        parts, missing = [first], size - len(first)
    else:
        parts, missing = [], size
    while missing > 0:
        part = stream.read(min(missing, _CHUNK))  # a forged size must not allocate gigabytes
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


@dataclass(frozen=True)
class TarEntry:
    """One regular file of the tar archive: its name, content, mtime and where its header starts."""

    name: str
    content: bytes
    mtime: int
    offset: int

    @property
    def end(self) -> int:
        """The byte offset just past this entry's padded content, where the next header starts."""
        return self.offset + BLOCK_SIZE + len(self.content) + _padding(len(self.content))


def _high_bytes(block: bytes) -> int:
    """How many bytes of a header, its checksum field aside, are 128 or more."""
    rest = block[:148] + block[156:]
    return len(rest) - len(rest.translate(None, bytes(range(128, 256))))


def _parse_tar_header(block: bytes, offset: int) -> tuple[str, int, int]:
    """The name, size and mtime in a header block, after checking its checksum and type."""
    stored = _octal(block[148:156], "checksum", offset)
    # (the sum of the whole block less its checksum field; trailing zeros add nothing, and a
    # header is mostly trailing zeros)
    unsigned = sum(block.rstrip(b"\0")) - sum(block[148:156]) + 8 * ord(" ")
    # Old tools summed signed bytes: only worth computing when the usual sum does not match.
    if stored != unsigned and stored != unsigned - 256 * _high_bytes(block):
        raise RecordError(
            "archive.tar",
            f"bad checksum in the tar header at byte {offset}: "
            f"stored {stored:o}, computed {unsigned:o}",
        )
    if block[156:157] not in (b"0", b"\0"):
        raise RecordError(
            "archive.tar", f"the tar entry at byte {offset} has type {block[156:157]!r}, not a file"
        )
    raw_name = block[:100].split(b"\0", 1)[0]
    try:
        name = raw_name.decode("ascii")
    except UnicodeDecodeError:
        raise RecordError(
            "archive.entry_name",
            f"the tar entry at byte {offset} has a non-ASCII name {raw_name!r}",
        ) from None
    return name, _octal(block[124:136], "size", offset), _octal(block[136:148], "mtime", offset)


def iter_tar_entries(stream: BinaryIO) -> Iterator[TarEntry]:
    """Stream the entries of an old-style tar archive ("Public data"), one in memory at a time.

    Belenios writes no end-of-archive blocks, so the archive ends at the end of the stream; a zero
    block (written by other tools) also ends it, when only zeros follow. Raises
    ``archive.truncated`` for a header or content cut short and ``archive.tar`` for a bad header,
    non-zero padding, or data after an end-of-archive block.
    """
    offset = 0
    while True:
        block = _read_up_to(stream, BLOCK_SIZE)
        if not block:
            return
        if len(block) < BLOCK_SIZE:
            raise RecordError(
                "archive.truncated",
                f"the tar header at byte {offset} is cut short: {len(block)} of {BLOCK_SIZE} bytes",
            )
        if not any(block):
            _check_only_zeros_follow(stream, offset)
            return
        name, size, mtime = _parse_tar_header(block, offset)
        padded = size + _padding(size)
        body = _read_up_to(stream, padded)
        if len(body) < padded:
            raise RecordError(
                "archive.truncated",
                f"content cut short: {len(body)} of {padded} bytes (with padding) present",
                name,
            )
        if body.count(0, size) != padded - size:
            raise RecordError("archive.tar", "the padding after the content is not zeros", name)
        yield TarEntry(name, body[:size], mtime, offset)
        offset += BLOCK_SIZE + padded


def _check_only_zeros_follow(stream: BinaryIO, offset: int) -> None:
    while chunk := stream.read(_CHUNK):
        if chunk.count(0) != len(chunk):
            raise RecordError(
                "archive.tar", f"data follows the end-of-archive zero block at byte {offset}"
            )


# --- structures ------------------------------------------------------------------------------


def _load_object(content: bytes, check: str, entry: str) -> dict[str, object]:
    """Strict JSON: UTF-8, no duplicate keys, no NaN or Infinity, an object at the top."""

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate keys in {keys}")
        return dict(pairs)

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    try:
        value: object = json.loads(
            content.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants
        )
    except ValueError as error:  # also UnicodeDecodeError and JSONDecodeError
        raise RecordError(check, f"not valid JSON: {error}", entry) from None
    except RecursionError:
        raise RecordError(check, "JSON nested too deeply", entry) from None
    if not isinstance(value, dict):
        raise RecordError(check, "not a JSON object", entry)
    return value


@dataclass(frozen=True)
class Header:
    """The specification's ``header`` structure, content of the ``BELENIOS`` entry.

    ``timestamp`` is the beginning of the election in Unix seconds; Belenios writes it as a JSON
    string, which :meth:`to_bytes` does too, and it is also the mtime of every tar entry.
    """

    version: int
    timestamp: int

    def __post_init__(self) -> None:
        if not _is_int(self.version) or not _is_int(self.timestamp):
            raise RecordError(
                "archive.header", "version and timestamp must be integers", HEADER_NAME
            )
        if self.version != ARCHIVE_VERSION:
            raise RecordError("archive.header", f"version {self.version}, expected 1", HEADER_NAME)
        if not 0 <= self.timestamp < _MAX_OCTAL_11:
            raise RecordError(
                "archive.header", f"timestamp {self.timestamp} out of range", HEADER_NAME
            )

    def to_bytes(self) -> bytes:
        """Compact JSON as Belenios writes it: ``{"version":1,"timestamp":"<seconds>"}``."""
        return _compact_json({"version": self.version, "timestamp": str(self.timestamp)})

    @classmethod
    def from_bytes(cls, content: bytes) -> Header:
        """Parse a header; ``timestamp`` may be a JSON number or a string of digits."""
        fields = _load_object(content, "archive.header", HEADER_NAME)
        if set(fields) != {"version", "timestamp"}:
            raise RecordError(
                "archive.header",
                f"fields {sorted(fields)}, expected timestamp, version",
                HEADER_NAME,
            )
        version, timestamp = fields["version"], fields["timestamp"]
        if isinstance(timestamp, str) and _DIGITS.fullmatch(timestamp):
            timestamp = int(timestamp)
        if not _is_int(version) or not _is_int(timestamp):
            raise RecordError(
                "archive.header", f"version {version!r} or timestamp {timestamp!r}", HEADER_NAME
            )
        return cls(version, timestamp)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Event:
    """The specification's ``event`` structure: one link of the archive's hash chain.

    ``parent`` is the hash of the previous event (absent at height 0); ``payload`` is the hash of
    a data entry that precedes the event (absent for ``EndBallots`` and ``EndShuffles``).
    """

    parent: str | None
    height: int
    type: EventType
    payload: str | None = None

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise RecordError("archive.event_json", f"unknown event type {self.type!r}")
        if not _is_int(self.height) or self.height < 0:
            raise RecordError("archive.event_json", f"height {self.height!r} is not an integer ≥ 0")
        for field, value in (("parent", self.parent), ("payload", self.payload)):
            if value is not None and not (isinstance(value, str) and _HASH.fullmatch(value)):
                raise RecordError("archive.event_json", f"{field} {value!r} is not a SHA-256 hash")
        if (self.payload is None) != (self.type in _WITHOUT_PAYLOAD):
            has = "has no" if self.payload is None else "has a"
            raise RecordError("archive.event_json", f"a {self.type} event {has} payload")

    def to_bytes(self) -> bytes:
        """Compact JSON, fields in the order parent, height, type, payload, absent ones left out."""
        fields: dict[str, object] = {}
        if self.parent is not None:
            fields["parent"] = self.parent
        fields["height"] = self.height
        fields["type"] = self.type
        if self.payload is not None:
            fields["payload"] = self.payload
        return _compact_json(fields)

    @property
    def hash(self) -> str:
        """SHA-256 of :meth:`to_bytes` in hex: the event's name in the archive and its children's
        ``parent``."""
        return _sha256_hex(self.to_bytes())

    @classmethod
    def from_bytes(cls, content: bytes, entry: str = "event") -> Event:
        """Parse an event, which must be exactly in the canonical form of :meth:`to_bytes`."""
        match = _CANONICAL_EVENT.fullmatch(content)
        if match is not None:  # canonical by construction: the JSON parser would agree
            parent, height, event_type, payload = match.groups()
            try:
                return cls(
                    None if parent is None else parent.decode("ascii"),
                    int(height),
                    cast(EventType, event_type.decode("ascii")),
                    None if payload is None else payload.decode("ascii"),
                )
            except RecordError:
                pass  # (an unknown type, a payload where none belongs): said below, with entry
        fields = _load_object(content, "archive.event_json", entry)
        unknown = set(fields) - {"parent", "height", "type", "payload"}
        if unknown or "height" not in fields or "type" not in fields:
            raise RecordError("archive.event_json", f"fields {list(fields)}", entry)
        parent, height = fields.get("parent"), fields["height"]
        event_type, payload = fields["type"], fields.get("payload")
        if not (
            (parent is None or isinstance(parent, str))
            and isinstance(height, int)
            and isinstance(event_type, str)
            and (payload is None or isinstance(payload, str))
        ):
            raise RecordError("archive.event_json", "a field has the wrong JSON type", entry)
        try:
            event = cls(parent, height, cast(EventType, event_type), payload)
        except RecordError as error:
            raise RecordError(error.check, error.detail, entry) from None
        if event.to_bytes() != content:
            raise RecordError(
                "archive.event_json",
                "not canonical: compact JSON with fields parent, height, type, payload in order",
                entry,
            )
        return event


class DataEntry(NamedTuple):
    """A ``<hash>.data.json`` entry: the SHA-256 of its content in hex, and the content."""

    hash: str
    content: bytes


class EventEntry(NamedTuple):
    """A ``<hash>.event.json`` entry, parsed, with the content of the data its payload names."""

    hash: str
    event: Event
    payload: bytes | None


class _Chain:
    """The rules an event obeys relative to the events and data before it ("Public data")."""

    def __init__(self) -> None:
        self.last_hash: str | None = None
        self.last: Event | None = None

    def check(self, event: Event, entry: str, available: Container[str]) -> None:
        last = self.last
        if last is None:
            if event.parent is not None:
                raise RecordError("archive.chain", "the first event has a parent", entry)
            if event.height != 0:
                raise RecordError(
                    "archive.height", f"the first event has height {event.height}", entry
                )
        else:
            if event.parent != self.last_hash:
                raise RecordError(
                    "archive.chain",
                    f"parent {event.parent} is not the previous event {self.last_hash}",
                    entry,
                )
            if event.height != last.height + 1:
                raise RecordError(
                    "archive.height",
                    f"height {event.height} after height {last.height}",
                    entry,
                )
        previous_type = None if last is None else last.type
        if event.type not in _NEXT_TYPES[previous_type]:
            after = "first" if previous_type is None else f"after {previous_type}"
            raise RecordError("archive.event_order", f"a {event.type} event {after}", entry)
        if event.payload is not None and event.payload not in available:
            raise RecordError(
                "archive.reference",
                f"payload {event.payload} is not a data entry earlier in the archive "
                "(not already used by a Ballot event)",
                entry,
            )

    def advance(self, event_hash: str, event: Event) -> None:
        self.last_hash, self.last = event_hash, event


def _split_name(entry: TarEntry) -> tuple[Literal["data", "event"], str]:
    """The kind and hash named by an entry, checked against the SHA-256 of its content."""
    match = _ENTRY_NAME.fullmatch(entry.name)
    if match is None:
        raise RecordError(
            "archive.entry_name",
            "the name is not <sha256 hex>.data.json or <sha256 hex>.event.json",
            entry.name,
        )
    digest = _sha256_hex(entry.content)
    if digest != match.group(1):
        raise RecordError("archive.content_hash", f"the content's SHA-256 is {digest}", entry.name)
    return ("data" if match.group(2) == "data" else "event"), digest


# --- reading ---------------------------------------------------------------------------------


class ArchiveReader:
    """A single pass over a ``.bel`` archive, checking every rule of "Public data" as it reads.

    The ``BELENIOS`` header is read on construction (:attr:`header`); then :meth:`entries`, or
    :meth:`iter_events`, continues from where the last call stopped. Data entries are kept by
    hash for :meth:`data`, except a Ballot event's payload, which is handed out with its event
    and then dropped (kept if ``keep_ballots``): memory does not grow with the number of ballots.
    """

    def __init__(self, stream: BinaryIO, *, keep_ballots: bool = False) -> None:
        self._stream = stream
        self._owns_stream = False
        self._keep_ballots = keep_ballots
        self._tar = iter_tar_entries(stream)
        self._chain = _Chain()
        self._data: dict[str, bytes] = {}
        self._ballots: dict[str, bytes] = {}
        first = next(self._tar, None)
        if first is None:
            raise RecordError("archive.header", f"the archive is empty: no {HEADER_NAME} entry")
        if first.name != HEADER_NAME:
            raise RecordError("archive.header", f"the first entry is not {HEADER_NAME}", first.name)
        self.header: Header = Header.from_bytes(first.content)
        self.end_offset: int = first.end
        """Where the next entry of the archive would start: just past the last entry read."""

    @classmethod
    def open(cls, path: StrPath, *, keep_ballots: bool = False) -> ArchiveReader:
        """Open the archive at ``path``; use it as a context manager to close the file."""
        with ExitStack() as on_failure:
            stream = on_failure.enter_context(Path(path).open("rb"))
            reader = cls(stream, keep_ballots=keep_ballots)
            reader._owns_stream = True
            on_failure.pop_all()
        return reader

    def entries(self) -> Iterator[DataEntry | EventEntry]:
        """The entries after the header, in archive order, each checked before it is yielded."""
        for tar_entry in self._tar:
            if tar_entry.name == HEADER_NAME:
                raise RecordError("archive.entry_name", "a second header entry", tar_entry.name)
            kind, digest = _split_name(tar_entry)
            if kind == "data":
                self._data[digest] = tar_entry.content
                self.end_offset = tar_entry.end
                yield DataEntry(digest, tar_entry.content)
                continue
            event = Event.from_bytes(tar_entry.content, tar_entry.name)
            self._chain.check(event, tar_entry.name, self._data)
            payload = None
            if event.payload is not None:
                payload = self._data[event.payload]
                if event.type in _CONSUMED_PAYLOADS:
                    del self._data[event.payload]
                    if self._keep_ballots:
                        self._ballots[event.payload] = payload
            self._chain.advance(digest, event)
            self.end_offset = tar_entry.end
            yield EventEntry(digest, event, payload)

    def read_to_end(self) -> None:
        """Read (and so check) every remaining entry, keeping nothing but the chain's end."""
        for _ in self.entries():
            pass

    def iter_events(self) -> Iterator[EventEntry]:
        """The events, in chain order, each with its payload's content (``None`` if it has none)."""
        for entry in self.entries():
            if isinstance(entry, EventEntry):
                yield entry

    def data(self, digest: str) -> bytes:
        """The content of a data entry already read, by its hash ("can refer to other payloads")."""
        content = self._data.get(digest, self._ballots.get(digest))
        if content is None:
            raise RecordError(
                "archive.reference",
                "no such data entry read so far (or a ballot already handed out)",
                f"{digest}.data.json",
            )
        return content

    @property
    def last_event(self) -> str | None:
        """The hash of the last event read, ``None`` before the first."""
        return self._chain.last_hash

    @property
    def height(self) -> int | None:
        """The height of the last event read, ``None`` before the first."""
        return None if self._chain.last is None else self._chain.last.height

    def close(self) -> None:
        """Close the file if :meth:`open` opened it."""
        if self._owns_stream:
            self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class Archive:
    """A whole archive read into memory: fine for tests and small records, not for big ones."""

    header: Header
    entries: tuple[DataEntry | EventEntry, ...]
    events: tuple[EventEntry, ...]
    data: Mapping[str, bytes]


def read_archive(source: StrPath | BinaryIO) -> Archive:
    """Read and check a whole archive ("Public data"), keeping every entry."""
    if isinstance(source, str | os.PathLike):
        with ArchiveReader.open(source, keep_ballots=True) as reader:
            return _read_all(reader)
    return _read_all(ArchiveReader(source, keep_ballots=True))


def _read_all(reader: ArchiveReader) -> Archive:
    entries = tuple(reader.entries())
    events = tuple(entry for entry in entries if isinstance(entry, EventEntry))
    data = {entry.hash: entry.content for entry in entries if isinstance(entry, DataEntry)}
    return Archive(reader.header, entries, events, data)


# --- writing ---------------------------------------------------------------------------------


class ArchiveWriter:
    """Appends entries to a ``.bel`` archive exactly as Belenios writes them ("Public data").

    Start a new archive with :meth:`create` (or on an empty stream, then :meth:`write_header`);
    continue an existing one with :meth:`open` (or :meth:`resume`). Each ``add_*`` writes one
    whole entry; :meth:`flush` makes the archive durable. The writer refuses, with the same
    :class:`RecordError` the reader would raise, anything that would break the archive's rules.
    """

    def __init__(self, stream: BinaryIO) -> None:
        """A writer on an empty stream, positioned where the archive starts."""
        self._stream = stream
        self._owns_stream = False
        self._header: Header | None = None
        self._chain = _Chain()
        self._available: set[str] = set()
        self._failed = False

    @classmethod
    def create(cls, path: StrPath, *, timestamp: int) -> ArchiveWriter:
        """Create a new archive at ``path`` (never overwriting a file) and write its header."""
        with ExitStack() as on_failure:
            stream = on_failure.enter_context(Path(path).open("xb"))
            writer = cls(stream)
            writer._owns_stream = True
            writer.write_header(timestamp)
            on_failure.pop_all()
        return writer

    @classmethod
    def open(cls, path: StrPath) -> ArchiveWriter:
        """Open the existing archive at ``path`` for appending (see :meth:`resume`)."""
        with ExitStack() as on_failure:
            stream = on_failure.enter_context(Path(path).open("r+b"))
            writer = cls.resume(stream)
            writer._owns_stream = True
            on_failure.pop_all()
        return writer

    @classmethod
    def resume(cls, stream: BinaryIO) -> ArchiveWriter:
        """Read and check the whole archive in a readable, writable, seekable ``stream``, then
        position the writer after its last entry.

        End-of-archive zero blocks, if another tool wrote them, are cut off so that appended
        entries stay visible; nothing else is ever rewritten. A damaged archive (e.g. one
        ending in a partial entry) raises the reader's :class:`RecordError`.
        """
        stream.seek(0)
        reader = ArchiveReader(stream)
        reader.read_to_end()
        writer = cls(stream)
        writer._header = reader.header
        writer._chain = reader._chain
        writer._available = set(reader._data)
        stream.seek(reader.end_offset)
        stream.truncate()
        return writer

    @classmethod
    def continue_chain(
        cls, stream: BinaryIO, *, timestamp: int, last_event: Event
    ) -> ArchiveWriter:
        """A writer on an empty ``stream`` whose entries continue an archive stored elsewhere
        (the server's database keeps the archive as consecutive chunks): header ``timestamp``,
        ending with ``last_event``. The chain rules (parent, height, order) are checked against
        that event without re-reading the archive; payloads must be data added through it."""
        writer = cls(stream)
        writer._header = Header(ARCHIVE_VERSION, timestamp)
        writer._chain.advance(last_event.hash, last_event)
        return writer

    @property
    def header(self) -> Header | None:
        """The archive's header, ``None`` until written."""
        return self._header

    @property
    def last_event(self) -> str | None:
        """The hash of the last event, the ``parent`` of the next; ``None`` before the first."""
        return self._chain.last_hash

    @property
    def height(self) -> int | None:
        """The height of the last event; ``None`` before the first."""
        return None if self._chain.last is None else self._chain.last.height

    @property
    def last(self) -> Event | None:
        """The last event written (or continued from); ``None`` before the first."""
        return self._chain.last

    def write_header(self, timestamp: int) -> None:
        """Write the ``BELENIOS`` entry, ``{"version":1,"timestamp":"<timestamp>"}``.

        ``timestamp`` (Unix seconds, the beginning of the election) is also the mtime of every
        entry, as in Belenios's archives.
        """
        if self._header is not None:
            raise RecordError("archive.header", "the header is already written", HEADER_NAME)
        header = Header(ARCHIVE_VERSION, timestamp)
        self._write_entry(HEADER_NAME, header.to_bytes(), header.timestamp)
        self._header = header

    def add_data(self, content: bytes) -> str:
        """Write a ``<hash>.data.json`` entry and return its hash, for an event's payload or for
        other data to refer to. The content is written as given (its canonical form is the
        caller's business)."""
        header = self._require_header()
        digest = _sha256_hex(content)
        self._write_entry(f"{digest}.data.json", content, header.timestamp)
        self._available.add(digest)
        return digest

    def add_event(self, event_type: EventType, payload: str | None = None) -> str:
        """Write the next event of the chain and return its hash.

        ``parent`` and ``height`` follow from the last event; ``payload`` is the hash of a data
        entry added before (``None`` for ``EndBallots`` and ``EndShuffles``).
        """
        header = self._require_header()
        last = self._chain.last
        event = Event(
            parent=self._chain.last_hash,
            height=0 if last is None else last.height + 1,
            type=event_type,
            payload=payload,
        )
        content = event.to_bytes()
        digest = _sha256_hex(content)
        name = f"{digest}.event.json"
        self._chain.check(event, name, self._available)
        self._write_entry(name, content, header.timestamp)
        self._chain.advance(digest, event)
        if payload is not None and event.type in _CONSUMED_PAYLOADS:
            self._available.discard(payload)
        return digest

    def flush(self) -> None:
        """Flush buffers and ``fsync`` the file, so what was added survives a crash."""
        self._stream.flush()
        try:
            descriptor = self._stream.fileno()
        except io.UnsupportedOperation:  # an in-memory stream: nothing to sync
            return
        os.fsync(descriptor)

    def close(self) -> None:
        """Flush (with ``fsync``) and close the file if this writer opened it."""
        try:
            if not self._stream.closed:
                self.flush()
        finally:
            if self._owns_stream:
                self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _require_header(self) -> Header:
        if self._header is None:
            raise RecordError("archive.header", f"the {HEADER_NAME} entry must come first")
        return self._header

    def _write_entry(self, name: str, content: bytes, mtime: int) -> None:
        if self._failed:
            raise RecordError(
                "archive.truncated",
                "an earlier write failed, so the archive may end in a partial entry; reopen it",
                name,
            )
        view = memoryview(
            _tar_header(name, len(content), mtime) + content + bytes(_padding(len(content)))
        )
        try:
            while view:
                view = view[self._stream.write(view) :]
        except BaseException:
            self._failed = True
            raise


# --- sidecars --------------------------------------------------------------------------------

MANIFEST_NAME: Final = "manifest.json"
"""Our list of the hashed files published beside the archive (not part of Belenios's record)."""


def _check_sidecar_name(name: str) -> None:
    if not _SIDECAR_NAME.fullmatch(name) or name == MANIFEST_NAME:
        raise ValueError(f"{name!r} is not a plain file name for a sidecar")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, content: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with partial.open("wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    partial.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_sidecar(directory: StrPath, name: str, content: bytes) -> str:
    """Publish one of our own files (``report.json``, ``process.toml``…) beside the archive.

    The file is replaced atomically and synced; returns the SHA-256 of ``content`` in hex.
    """
    _check_sidecar_name(name)
    _write_atomically(Path(directory) / name, content)
    return _sha256_hex(content)


def _summarise_record(record: Path) -> tuple[str, str | None]:
    """The SHA-256 of the archive and its last event, both from the same bytes."""
    with ArchiveReader.open(record) as reader:
        reader.read_to_end()
        size = reader._stream.tell()
        reader._stream.seek(0)
        digest = hashlib.sha256()
        missing = size
        while missing > 0 and (chunk := reader._stream.read(min(_CHUNK, missing))):
            digest.update(chunk)
            missing -= len(chunk)
        return digest.hexdigest(), reader.last_event


def write_manifest(directory: StrPath, files: Iterable[str], record: StrPath) -> str:
    """Write ``manifest.json`` in ``directory`` and return its SHA-256 in hex.

    It lists ``files`` (sidecars in ``directory``) with their SHA-256, the SHA-256 of the
    ``record`` archive and the hash of its last event, as compact JSON with sorted keys. The
    archive is read and checked first.
    """
    folder = Path(directory)
    listing = []
    for name in sorted(set(files)):
        _check_sidecar_name(name)
        listing.append({"name": name, "sha256": _sha256_file(folder / name)})
    record_hash, last_event = _summarise_record(Path(record))
    manifest = {"files": listing, "last_event": last_event, "record": record_hash}
    content = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("ascii")
    _write_atomically(folder / MANIFEST_NAME, content)
    return _sha256_hex(content)


def check_sidecars(directory: StrPath, record: StrPath | None = None) -> None:
    """Check every file ``manifest.json`` lists in ``directory``, and the archive if given.

    Raises ``sidecar.hash`` for a missing file or a different SHA-256 (the archive's included)
    and ``sidecar.manifest`` for a malformed manifest or a last event that is not the archive's.
    """
    folder = Path(directory)
    manifest_path = folder / MANIFEST_NAME
    try:
        content = manifest_path.read_bytes()
    except FileNotFoundError:
        raise RecordError("sidecar.manifest", "missing", MANIFEST_NAME) from None
    manifest = _load_object(content, "sidecar.manifest", MANIFEST_NAME)
    files, record_hash = manifest.get("files"), manifest.get("record")
    last_event = manifest.get("last_event")
    if (
        set(manifest) != {"files", "last_event", "record"}
        or not isinstance(files, list)
        or not (isinstance(record_hash, str) and _HASH.fullmatch(record_hash))
        or not (last_event is None or (isinstance(last_event, str) and _HASH.fullmatch(last_event)))
    ):
        raise RecordError("sidecar.manifest", "expected files, last_event, record", MANIFEST_NAME)
    for item in files:
        name, expected = _listed_file(item)
        path = folder / name
        if not path.is_file():
            raise RecordError("sidecar.hash", "listed in manifest.json but missing", name)
        if (actual := _sha256_file(path)) != expected:
            raise RecordError("sidecar.hash", f"SHA-256 {actual}, manifest says {expected}", name)
    if record is not None:
        path = Path(record)
        actual, actual_last = _summarise_record(path)
        if actual != record_hash:
            raise RecordError(
                "sidecar.hash", f"SHA-256 {actual}, manifest says {record_hash}", path.name
            )
        if actual_last != last_event:
            raise RecordError(
                "sidecar.manifest",
                f"last event {last_event}, archive's is {actual_last}",
                path.name,
            )


def _listed_file(item: object) -> tuple[str, str]:
    if isinstance(item, dict) and set(item) == {"name", "sha256"}:
        name, digest = item["name"], item["sha256"]
        if isinstance(name, str) and isinstance(digest, str) and _HASH.fullmatch(digest):
            try:
                _check_sidecar_name(name)
            except ValueError:
                pass
            else:
                return name, digest
    raise RecordError("sidecar.manifest", f"bad file listing {item!r}", MANIFEST_NAME)
