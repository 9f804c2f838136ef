"""The `.bel` archive of Belenios's specification, section "Public data".

Malformed archives are built here with an independent writer of the v7 tar layout (`raw_entry`),
so the layout is stated twice: once in the module, once as the test's oracle.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import tarfile
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.record import archive
from unionvote.record.archive import (
    BLOCK_SIZE,
    ArchiveReader,
    ArchiveWriter,
    DataEntry,
    Event,
    EventEntry,
    Header,
    check_sidecars,
    iter_tar_entries,
    read_archive,
    write_manifest,
    write_sidecar,
)
from unionvote.record.errors import CHECKS, RecordError

TIMESTAMP = 1_700_000_000
HEADER_CONTENT = b'{"version":1,"timestamp":"1700000000"}'
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "belenios"


# --- an independent statement of the layout -----------------------------------------------------


def raw_entry(name: str, content: bytes, *, typeflag: bytes = b"0") -> bytes:
    """A v7 tar entry as Belenios writes it, built field by field."""
    block = bytearray(BLOCK_SIZE)
    block[: len(name)] = name.encode()
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % len(content)
    block[136:148] = b"%011o\0" % TIMESTAMP
    block[148:156] = b"        "
    block[156:157] = typeflag
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + content + bytes(-len(content) % BLOCK_SIZE)


def data(content: bytes) -> tuple[bytes, str]:
    digest = sha256(content).hexdigest()
    return raw_entry(f"{digest}.data.json", content), digest


def event(content: bytes | dict[str, object]) -> tuple[bytes, str]:
    if isinstance(content, dict):
        content = json.dumps(content, separators=(",", ":")).encode()
    digest = sha256(content).hexdigest()
    return raw_entry(f"{digest}.event.json", content), digest


def valid_prefix() -> tuple[bytes, str, str]:
    """A header, a setup data entry and its Setup event: the archive, the data hash, the event."""
    setup, setup_hash = data(b'{"election":"e"}')
    setup_event, setup_event_hash = event({"height": 0, "type": "Setup", "payload": setup_hash})
    archive_bytes = raw_entry("BELENIOS", HEADER_CONTENT) + setup + setup_event
    return archive_bytes, setup_hash, setup_event_hash


def write_election(writer: ArchiveWriter, ballots: list[bytes]) -> None:
    writer.add_event("Setup", writer.add_data(b'{"election":"e","trustees":"t"}'))
    for ballot in ballots:
        writer.add_event("Ballot", writer.add_data(ballot))
    writer.add_event("EndBallots")
    writer.add_event("EncryptedTally", writer.add_data(b'{"num_tallied":2}'))
    writer.add_event("PartialDecryption", writer.add_data(b'{"owner":1}'))
    writer.add_event("Result", writer.add_data(b'{"result":[[1,1]]}'))


def election_bytes(ballots: list[bytes]) -> bytes:
    stream = io.BytesIO()
    writer = ArchiveWriter(stream)
    writer.write_header(TIMESTAMP)
    write_election(writer, ballots)
    return stream.getvalue()


def entry_offsets(archive_bytes: bytes) -> list[int]:
    return [entry.offset for entry in iter_tar_entries(io.BytesIO(archive_bytes))]


def read_all(archive_bytes: bytes) -> archive.Archive:
    return read_archive(io.BytesIO(archive_bytes))


def expect(check: str, archive_bytes: bytes) -> RecordError:
    assert check in CHECKS
    with pytest.raises(RecordError) as caught:
        read_all(archive_bytes)
    assert caught.value.check == check, str(caught.value)
    return caught.value


# --- writing and reading back ----------------------------------------------------------------


def test_round_trip_keeps_every_entry_in_order() -> None:
    ballots = [b'{"ballot":1}', b'{"ballot":2}']
    read = read_all(election_bytes(ballots))

    assert read.header == Header(version=1, timestamp=TIMESTAMP)
    assert [entry.event.type for entry in read.events] == [
        "Setup",
        "Ballot",
        "Ballot",
        "EndBallots",
        "EncryptedTally",
        "PartialDecryption",
        "Result",
    ]
    assert [entry.event.height for entry in read.events] == list(range(7))
    assert read.events[0].event.parent is None
    for previous, current in zip(read.events, read.events[1:], strict=False):
        assert current.event.parent == previous.hash == previous.event.hash
    assert [entry.payload for entry in read.events[1:3]] == ballots
    assert read.events[3].event.payload is None and read.events[3].payload is None
    assert set(read.data.values()) >= set(ballots)
    assert all(sha256(content).hexdigest() == digest for digest, content in read.data.items())
    kinds = [type(entry) for entry in read.entries]
    assert kinds[:2] == [DataEntry, EventEntry]


def test_event_bytes_are_compact_json_in_the_specification_order() -> None:
    payload, parent = "a" * 64, "b" * 64
    assert Event(None, 0, "Setup", payload).to_bytes() == (
        b'{"height":0,"type":"Setup","payload":"' + payload.encode() + b'"}'
    )
    assert Event(parent, 3, "EndBallots").to_bytes() == (
        b'{"parent":"' + parent.encode() + b'","height":3,"type":"EndBallots"}'
    )
    assert Event.from_bytes(Event(parent, 3, "EndBallots").to_bytes()).parent == parent


def test_header_block_is_laid_out_as_belenios_writes_it() -> None:
    archive_bytes = election_bytes([])
    block = archive_bytes[:BLOCK_SIZE]

    assert block[:100] == b"BELENIOS" + bytes(92)
    assert block[100:108] == b"0000644\0"
    assert block[108:116] == b"0000000\0"
    assert block[116:124] == b"0000000\0"
    assert block[124:136] == b"%011o\0" % len(HEADER_CONTENT)
    assert block[136:148] == b"%011o\0" % TIMESTAMP
    unsigned_sum = sum(block[:148]) + 8 * ord(" ") + sum(block[156:])
    assert block[148:156] == b"%06o\0 " % unsigned_sum
    assert block[156:157] == b"0"
    assert not any(block[157:]), "no link name, no ustar magic"
    assert archive_bytes[BLOCK_SIZE : 2 * BLOCK_SIZE] == HEADER_CONTENT + bytes(
        BLOCK_SIZE - len(HEADER_CONTENT)
    )
    assert archive_bytes.startswith(raw_entry("BELENIOS", HEADER_CONTENT))


def test_python_tarfile_reads_our_archive() -> None:
    archive_bytes = election_bytes([b'{"ballot":1}'])
    read = read_all(archive_bytes)
    with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r:") as tar:
        members = tar.getmembers()
        assert [member.name for member in members] == ["BELENIOS"] + [
            f"{entry.hash}.{'data' if isinstance(entry, DataEntry) else 'event'}.json"
            for entry in read.entries
        ]
        assert {(m.mode, m.uid, m.gid, m.mtime, m.type) for m in members} == {
            (0o644, 0, 0, TIMESTAMP, tarfile.REGTYPE)
        }
        header = tar.extractfile(members[0])
        assert header is not None and header.read() == HEADER_CONTENT


def test_archive_ends_right_after_the_last_entry_with_no_zero_blocks() -> None:
    archive_bytes = election_bytes([b'{"ballot":1}'])
    entries = list(iter_tar_entries(io.BytesIO(archive_bytes)))
    assert len(archive_bytes) == entries[-1].end
    assert len(archive_bytes) % BLOCK_SIZE == 0
    assert any(archive_bytes[-BLOCK_SIZE:])


def test_content_of_a_whole_number_of_blocks_gets_no_padding() -> None:
    content = b"x" * BLOCK_SIZE
    stream = io.BytesIO()
    writer = ArchiveWriter(stream)
    writer.write_header(TIMESTAMP)
    writer.add_data(content)
    assert len(stream.getvalue()) == 2 * BLOCK_SIZE + 2 * BLOCK_SIZE
    assert read_all(stream.getvalue()).data == {sha256(content).hexdigest(): content}


# --- appending -------------------------------------------------------------------------------


def test_appending_after_reopening_equals_writing_in_one_go(tmp_path: Path) -> None:
    path = tmp_path / "election.bel"
    with ArchiveWriter.create(path, timestamp=TIMESTAMP) as writer:
        setup_hash = writer.add_data(b'{"election":"e","trustees":"t"}')
        writer.add_event("Setup", setup_hash)
        writer.add_event("Ballot", writer.add_data(b'{"ballot":1}'))

    with ArchiveWriter.open(path) as writer:
        assert writer.height == 1
        assert writer.header == Header(1, TIMESTAMP)
        assert writer.last_event == read_archive(path).events[-1].hash
        writer.add_event("Ballot", writer.add_data(b'{"ballot":2}'))
        writer.add_event("EndBallots")
        writer.add_event("EncryptedTally", writer.add_data(b'{"num_tallied":2}'))
        writer.add_event("PartialDecryption", writer.add_data(b'{"owner":1}'))
        writer.add_event("Result", writer.add_data(b'{"result":[[1,1]]}'))

    assert path.read_bytes() == election_bytes([b'{"ballot":1}', b'{"ballot":2}'])


def test_create_never_overwrites_a_record(tmp_path: Path) -> None:
    path = tmp_path / "election.bel"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        ArchiveWriter.create(path, timestamp=TIMESTAMP)
    assert path.read_bytes() == b"precious"


def test_appending_drops_end_of_archive_blocks_written_by_other_tools() -> None:
    prefix, _, _ = valid_prefix()
    stream = io.BytesIO(prefix + bytes(10 * BLOCK_SIZE))
    writer = ArchiveWriter.resume(stream)
    writer.add_event("EndBallots")

    assert stream.getvalue()[: len(prefix)] == prefix
    assert [e.event.type for e in read_all(stream.getvalue()).events] == ["Setup", "EndBallots"]
    with tarfile.open(fileobj=io.BytesIO(stream.getvalue()), mode="r:") as tar:
        assert len(tar.getnames()) == 4


def test_appending_refuses_a_truncated_archive() -> None:
    prefix, _, _ = valid_prefix()
    with pytest.raises(RecordError) as caught:
        ArchiveWriter.resume(io.BytesIO(prefix[:-100]))
    assert caught.value.check == "archive.truncated"


def test_a_ballot_is_handed_out_with_its_event_and_then_dropped() -> None:
    archive_bytes = election_bytes([b'{"ballot":1}'])
    reader = ArchiveReader(io.BytesIO(archive_bytes))
    events = list(reader.iter_events())
    setup, ballot = events[0], events[1]
    assert ballot.payload == b'{"ballot":1}'
    assert setup.event.payload is not None
    assert reader.data(setup.event.payload) == b'{"election":"e","trustees":"t"}'
    assert ballot.event.payload is not None
    with pytest.raises(RecordError, match=r"archive\.reference"):
        reader.data(ballot.event.payload)
    assert reader.last_event == events[-1].hash and reader.height == len(events) - 1
    assert reader.end_offset == len(archive_bytes)


def test_the_writer_refuses_what_the_reader_would_reject() -> None:
    writer = ArchiveWriter(io.BytesIO())
    with pytest.raises(RecordError, match=r"archive\.header"):
        writer.add_data(b"{}")
    writer.write_header(TIMESTAMP)
    with pytest.raises(RecordError, match=r"archive\.header"):
        writer.write_header(TIMESTAMP)
    with pytest.raises(RecordError, match=r"archive\.event_order"):
        writer.add_event("Ballot", writer.add_data(b'{"ballot":1}'))
    with pytest.raises(RecordError, match=r"archive\.reference"):
        writer.add_event("Setup", "0" * 64)
    with pytest.raises(RecordError, match=r"archive\.event_json"):
        writer.add_event("EndBallots", writer.add_data(b"{}"))
    ballot = writer.add_data(b'{"ballot":2}')
    writer.add_event("Setup", writer.add_data(b"{}"))
    writer.add_event("Ballot", ballot)
    with pytest.raises(RecordError, match=r"archive\.reference"):
        writer.add_event("Ballot", ballot)


def test_flush_syncs_a_real_file(tmp_path: Path) -> None:
    with ArchiveWriter.create(tmp_path / "e.bel", timestamp=TIMESTAMP) as writer:
        writer.add_event("Setup", writer.add_data(b"{}"))
        writer.flush()
        assert (tmp_path / "e.bel").stat().st_size == 6 * BLOCK_SIZE


# --- every check, on a damaged archive ------------------------------------------------------


def tar_cases() -> Iterator[tuple[str, str, bytes]]:
    prefix, setup_hash, _ = valid_prefix()
    yield "archive.tar", "not a tar", b"hello, this is not a tar archive\n".ljust(BLOCK_SIZE, b"!")
    bad_mode = bytearray(prefix)
    bad_mode[100] = ord("1")
    yield "archive.tar", "bad checksum", bytes(bad_mode)
    bad_padding = bytearray(prefix)
    bad_padding[BLOCK_SIZE + len(HEADER_CONTENT)] = ord("x")
    yield "archive.tar", "padding not zeros", bytes(bad_padding)
    yield "archive.tar", "data after the end", prefix + bytes(BLOCK_SIZE) + b"x"
    yield "archive.tar", "a directory", prefix + raw_entry("dir/", b"", typeflag=b"5")
    yield "archive.truncated", "header cut", prefix + data(b"{}")[0][:300]
    yield "archive.truncated", "content cut", prefix + data(b"x" * 600)[0][: BLOCK_SIZE + 100]
    yield "archive.truncated", "padding cut", prefix + data(b"{}")[0][: BLOCK_SIZE + 10]
    yield "archive.header", "empty", b""
    yield "archive.header", "first not BELENIOS", prefix[BLOCK_SIZE * 2 :]
    yield "archive.header", "header not JSON", raw_entry("BELENIOS", b"{version:1}")
    yield "archive.header", "version 2", raw_entry("BELENIOS", b'{"version":2,"timestamp":"1"}')
    yield "archive.header", "bad timestamp", raw_entry("BELENIOS", b'{"version":1,"timestamp":"x"}')
    yield "archive.entry_name", "not content named", prefix + raw_entry("ballot.json", b"{}")
    yield "archive.entry_name", "second header", prefix + raw_entry("BELENIOS", HEADER_CONTENT)
    yield (
        "archive.entry_name",
        "upper-case hex",
        prefix + raw_entry(f"{setup_hash.upper()}.data.json", b'{"election":"e"}'),
    )
    yield "archive.content_hash", "data", prefix + raw_entry(f"{setup_hash}.data.json", b"{}")


def event_cases() -> Iterator[tuple[str, str, bytes]]:
    prefix, setup_hash, setup_event = valid_prefix()
    header = raw_entry("BELENIOS", HEADER_CONTENT)
    setup, _ = data(b'{"election":"e"}')
    ballot, ballot_hash = data(b'{"ballot":1}')

    def after_setup(fields: dict[str, object] | bytes) -> bytes:
        return prefix + ballot + event(fields)[0]

    ballot_event = {"parent": setup_event, "height": 1, "type": "Ballot", "payload": ballot_hash}
    yield "archive.event_json", "not JSON", after_setup(b"{parent")
    yield "archive.event_json", "not an object", after_setup(b"[]")
    yield "archive.event_json", "unknown type", after_setup({**ballot_event, "type": "Vote"})
    yield "archive.event_json", "spaces", after_setup(json.dumps(ballot_event).encode())
    yield (
        "archive.event_json",
        "field order",
        after_setup({"height": 1, "parent": setup_event, "type": "Ballot", "payload": ballot_hash}),
    )
    yield "archive.event_json", "extra field", after_setup({**ballot_event, "extra": 1})
    yield "archive.event_json", "height as text", after_setup({**ballot_event, "height": "1"})
    yield "archive.event_json", "height as bool", after_setup({**ballot_event, "height": True})
    yield "archive.event_json", "negative height", after_setup({**ballot_event, "height": -1})
    yield "archive.event_json", "no type", after_setup({"parent": setup_event, "height": 1})
    yield (
        "archive.event_json",
        "Ballot without payload",
        after_setup({"parent": setup_event, "height": 1, "type": "Ballot"}),
    )
    yield (
        "archive.event_json",
        "EndBallots with payload",
        after_setup({**ballot_event, "type": "EndBallots"}),
    )
    yield "archive.event_json", "payload not a hash", after_setup({**ballot_event, "payload": "x"})
    yield (
        "archive.event_json",
        "payload in upper case",
        after_setup({**ballot_event, "payload": ballot_hash.upper()}),
    )
    yield (
        "archive.event_json",
        "height with a leading zero",
        after_setup(
            json.dumps(ballot_event, separators=(",", ":")).replace(":1,", ":01,").encode()
        ),
    )
    yield "archive.event_json", "height as a float", after_setup({**ballot_event, "height": 1.0})
    yield (
        "archive.event_json",
        "a parent of null",
        header
        + setup
        + event({"parent": None, "height": 0, "type": "Setup", "payload": setup_hash})[0],
    )
    yield (
        "archive.event_json",
        "duplicate key",
        after_setup(
            b'{"parent":"' + setup_event.encode() + b'","height":1,"height":1,"type":"EndBallots"}'
        ),
    )
    yield (
        "archive.chain",
        "first event with a parent",
        header
        + setup
        + event({"parent": "0" * 64, "height": 0, "type": "Setup", "payload": setup_hash})[0],
    )
    yield "archive.chain", "wrong parent", after_setup({**ballot_event, "parent": "0" * 64})
    yield (
        "archive.chain",
        "no parent",
        after_setup({"height": 1, "type": "Ballot", "payload": ballot_hash}),
    )
    yield (
        "archive.height",
        "first height 1",
        header + setup + event({"height": 1, "type": "Setup", "payload": setup_hash})[0],
    )
    yield "archive.height", "height skipped", after_setup({**ballot_event, "height": 2})
    yield (
        "archive.event_order",
        "Ballot first",
        header + ballot + event({"height": 0, "type": "Ballot", "payload": ballot_hash})[0],
    )
    yield (
        "archive.event_order",
        "Result after Setup",
        after_setup({**ballot_event, "type": "Result"}),
    )
    yield "archive.reference", "payload after its event", prefix + event(ballot_event)[0] + ballot
    yield (
        "archive.reference",
        "ballot used twice",
        after_setup(ballot_event)
        + event(
            {
                "parent": event(ballot_event)[1],
                "height": 2,
                "type": "Ballot",
                "payload": ballot_hash,
            }
        )[0],
    )


@pytest.mark.parametrize(
    ("check", "archive_bytes"),
    [pytest.param(check, raw, id=f"{check}: {case}") for check, case, raw in tar_cases()],
)
def test_a_damaged_tar_raises_the_named_check(check: str, archive_bytes: bytes) -> None:
    expect(check, archive_bytes)


@pytest.mark.parametrize(
    ("check", "archive_bytes"),
    [pytest.param(check, raw, id=f"{check}: {case}") for check, case, raw in event_cases()],
)
def test_a_broken_event_raises_the_named_check(check: str, archive_bytes: bytes) -> None:
    error = expect(check, archive_bytes)
    assert error.entry is not None and error.entry.endswith(".event.json")
    assert str(error).startswith(f"{check} in {error.entry}: ")


def test_the_error_names_the_entry_and_the_check_in_one_line() -> None:
    prefix, setup_hash, _ = valid_prefix()
    error = expect("archive.content_hash", prefix + raw_entry(f"{setup_hash}.data.json", b"{}"))
    assert error.entry == f"{setup_hash}.data.json"
    assert str(error) == (
        f"archive.content_hash in {setup_hash}.data.json: "
        f"the content's SHA-256 is {sha256(b'{}').hexdigest()}"
    )
    assert "\n" not in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.check, copy.detail, copy.entry) == (error.check, error.detail, error.entry)


def test_end_of_archive_zero_blocks_end_the_archive() -> None:
    prefix, _, setup_event = valid_prefix()
    read = read_all(prefix + bytes(2 * BLOCK_SIZE))
    assert [entry.hash for entry in read.events] == [setup_event]


def test_the_header_timestamp_may_be_a_number() -> None:
    header = Header.from_bytes(b'{"version":1,"timestamp":1700000000}')
    assert header.to_bytes() == HEADER_CONTENT


# --- laws ------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    ballots=st.lists(st.binary(max_size=1100), max_size=6),
    extra_data=st.lists(st.binary(max_size=600), max_size=3),
)
def test_any_contents_round_trip(ballots: list[bytes], extra_data: list[bytes]) -> None:
    stream = io.BytesIO()
    writer = ArchiveWriter(stream)
    writer.write_header(TIMESTAMP)
    extra_hashes = [writer.add_data(content) for content in extra_data]
    write_election(writer, ballots)

    read = read_all(stream.getvalue())
    assert [entry.payload for entry in read.events if entry.event.type == "Ballot"] == ballots
    assert read.events[-1].hash == writer.last_event
    assert all(
        read.data[digest] == content
        for digest, content in zip(extra_hashes, extra_data, strict=True)
    )


def _from_bytes_by_json(content: bytes, monkeypatch: pytest.MonkeyPatch) -> Event | str:
    """What ``Event.from_bytes`` gives without its shortcut for canonical content: the event,
    or the error's check and detail."""
    with monkeypatch.context() as patch:
        patch.setattr(archive, "_CANONICAL_EVENT", re.compile(rb"(?!)"))  # matches nothing
        return _event_or_error(content)


def _event_or_error(content: bytes) -> Event | str:
    try:
        return Event.from_bytes(content, "entry")
    except RecordError as error:
        return f"{error.check}: {error.detail} ({error.entry})"


_HASHES = st.text("0123456789abcdef", min_size=64, max_size=64)
_EVENTS = st.builds(
    lambda parent, height, kind, payload: (parent, height, kind, payload),
    st.one_of(st.none(), _HASHES),
    st.one_of(st.integers(0, 30), st.integers(0, 10**20)),
    st.sampled_from([*archive.EVENT_TYPES, "Vote", "ballot"]),
    st.one_of(st.none(), _HASHES),
)


@settings(max_examples=300, deadline=None)
@given(fields=_EVENTS, position=st.integers(0, 300), mask=st.integers(0, 255))
def test_the_shortcut_for_canonical_events_agrees_with_the_json_parser(
    fields: tuple[str | None, int, str, str | None], position: int, mask: int
) -> None:
    """An event's bytes, as written or with one byte changed, read the same (the same event or
    the same error) with and without the shortcut that reads canonical events by pattern."""
    parent, height, kind, payload = fields
    obj: dict[str, object] = {} if parent is None else {"parent": parent}
    obj.update({"height": height, "type": kind})
    if payload is not None:
        obj["payload"] = payload
    content = bytearray(json.dumps(obj, separators=(",", ":")).encode())
    if mask and position < len(content):
        content[position] ^= mask
    with pytest.MonkeyPatch.context() as monkeypatch:
        expected = _from_bytes_by_json(bytes(content), monkeypatch)
    assert _event_or_error(bytes(content)) == expected


def test_every_event_type_reads_back_by_the_shortcut() -> None:
    parent, payload = "0" * 64, "f" * 64
    for kind in archive.EVENT_TYPES:
        for first in (True, False):
            written = Event(
                None if first else parent,
                0 if first else 12,
                kind,
                None if kind in ("EndBallots", "EndShuffles") else payload,
            )
            assert archive._CANONICAL_EVENT.fullmatch(written.to_bytes()) is not None
            assert Event.from_bytes(written.to_bytes()) == written


_SAMPLE = election_bytes([b'{"ballot":1}', b"x" * 700])
_OFFSETS = entry_offsets(_SAMPLE)
# The BELENIOS content is not content-addressed, and the checksum field's NUL and space are not
# read (tools differ there): any other byte is covered by a checksum or a hash.
_UNCOVERED = set(range(BLOCK_SIZE, BLOCK_SIZE + len(HEADER_CONTENT))) | {
    offset + end for offset in _OFFSETS for end in (154, 155)
}
_COVERED = [position for position in range(len(_SAMPLE)) if position not in _UNCOVERED]


@settings(max_examples=150, deadline=None)
@given(position=st.sampled_from(_COVERED), mask=st.integers(min_value=1, max_value=255))
def test_changing_any_covered_byte_raises(position: int, mask: int) -> None:
    damaged = bytearray(_SAMPLE)
    damaged[position] ^= mask
    with pytest.raises(RecordError):
        read_all(bytes(damaged))


@settings(max_examples=150, deadline=None)
@given(
    cut=st.one_of(
        st.sampled_from(_OFFSETS[1:]), st.integers(min_value=1, max_value=len(_SAMPLE) - 1)
    )
)
def test_a_prefix_is_an_archive_at_an_entry_boundary_and_truncated_elsewhere(cut: int) -> None:
    if cut in _OFFSETS[1:]:
        read = read_all(_SAMPLE[:cut])
        assert len(read.entries) == _OFFSETS.index(cut) - 1
    else:
        expect("archive.truncated", _SAMPLE[:cut])


# --- sidecars --------------------------------------------------------------------------------


def published(tmp_path: Path) -> Path:
    record = tmp_path / "election.bel"
    record.write_bytes(election_bytes([b'{"ballot":1}']))
    write_sidecar(tmp_path, "report.json", b'{"result":"yes"}')
    write_sidecar(tmp_path, "process.toml", b"stages = 1\n")
    write_manifest(tmp_path, ["report.json", "process.toml"], record)
    return record


def test_sidecars_are_listed_and_checked(tmp_path: Path) -> None:
    record = published(tmp_path)
    assert write_sidecar(tmp_path, "notes.txt", b"n") == sha256(b"n").hexdigest()
    manifest = json.loads((tmp_path / "manifest.json").read_bytes())
    assert manifest == {
        "files": [
            {"name": "process.toml", "sha256": sha256(b"stages = 1\n").hexdigest()},
            {"name": "report.json", "sha256": sha256(b'{"result":"yes"}').hexdigest()},
        ],
        "last_event": read_archive(record).events[-1].hash,
        "record": sha256(record.read_bytes()).hexdigest(),
    }
    assert (tmp_path / "manifest.json").read_bytes() == json.dumps(
        manifest, sort_keys=True, separators=(",", ":")
    ).encode()
    check_sidecars(tmp_path, record)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "election.bel",
        "manifest.json",
        "notes.txt",
        "process.toml",
        "report.json",
    ]


def test_a_changed_or_missing_sidecar_raises(tmp_path: Path) -> None:
    published(tmp_path)
    (tmp_path / "report.json").write_bytes(b'{"result":"no"}')
    with pytest.raises(RecordError, match=r"sidecar\.hash in report\.json"):
        check_sidecars(tmp_path)
    (tmp_path / "report.json").unlink()
    with pytest.raises(RecordError, match=r"sidecar\.hash in report\.json: .*missing"):
        check_sidecars(tmp_path)


def test_a_grown_record_no_longer_matches_its_manifest(tmp_path: Path) -> None:
    record = published(tmp_path)
    with ArchiveWriter.open(record) as writer:
        writer.add_data(b'{"late":true}')
    with pytest.raises(RecordError, match=r"sidecar\.hash in election\.bel"):
        check_sidecars(tmp_path, record)


def test_a_bad_manifest_raises(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"sidecar\.manifest"):
        check_sidecars(tmp_path)
    (tmp_path / "manifest.json").write_text(
        '{"files":[{"name":"../secret","sha256":"' + "0" * 64 + '"}],"last_event":null,"record":""}'
    )
    with pytest.raises(RecordError, match=r"sidecar\.manifest"):
        check_sidecars(tmp_path)


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "manifest.json"])
def test_a_sidecar_name_is_a_plain_file_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="plain file name"):
        write_sidecar(tmp_path, name, b"")


# --- the public surface and real Belenios archives ---------------------------------------------


def test_public_surface() -> None:
    assert sorted(archive.__all__) == sorted(
        [
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
    )


def _real_archives() -> list[Path]:
    return sorted(FIXTURES.rglob("*.bel")) if FIXTURES.is_dir() else []


@pytest.mark.parametrize(
    "path",
    [pytest.param(path, id=path.name) for path in _real_archives()]
    or [pytest.param(None, id="none")],
)
def test_a_real_belenios_archive_reads_and_rewrites_byte_for_byte(path: Path | None) -> None:
    """Archives written by Debian's belenios-tool: our writer must reproduce them exactly."""
    if path is None:
        pytest.skip(f"no Belenios archives in {FIXTURES} yet")
    original = path.read_bytes()
    read = read_archive(path)
    assert all(
        entry.mtime == read.header.timestamp for entry in iter_tar_entries(io.BytesIO(original))
    )

    stream = io.BytesIO()
    writer = ArchiveWriter(stream)
    writer.write_header(read.header.timestamp)
    for entry in read.entries:
        if isinstance(entry, DataEntry):
            assert writer.add_data(entry.content) == entry.hash
        else:
            assert writer.add_event(entry.event.type, entry.event.payload) == entry.hash
    assert stream.getvalue() == original


def test_a_header_checksummed_the_old_signed_way_is_read() -> None:
    """Some old tools summed a header's bytes as signed: a byte of 128 or more counts
    negative. Both sums are accepted; anything else is a bad checksum."""
    from unionvote.record.archive import HEADER_NAME, _parse_tar_header

    prefix, _, _ = valid_prefix()
    block = bytearray(prefix[:BLOCK_SIZE])
    block[265] = 0xE9  # the owner's user name: a byte no field we read uses
    rest = bytes(block[:148] + block[156:])
    unsigned = sum(rest) + 8 * ord(" ")
    for total in (unsigned, unsigned - 256 * sum(1 for b in rest if b >= 128)):
        block[148:156] = b"%06o\0 " % total
        assert _parse_tar_header(bytes(block), 0)[0] == HEADER_NAME
    block[148:156] = b"%06o\0 " % (unsigned + 1)
    with pytest.raises(RecordError, match="bad checksum"):
        _parse_tar_header(bytes(block), 0)
