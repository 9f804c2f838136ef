"""How a report reads its sources: the record in one pass from a file, its bytes or the chunks
a database stores it in (the same facts and SHA-256 whichever), and ``subtallies.json`` for
the counts a report shows (as strictly as the full reading, without decoding the group
elements that only the verifier uses)."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from publications import Published, publish_membership

from unionvote.domain.errors import DomainError
from unionvote.domain.publication import (
    ELECTORATE_FILE,
    SUBTALLIES_FILE,
    StageInputs,
    build_stage_report,
    parse_subtallies,
    parse_subtally_counts,
    read_record,
    render_report,
)
from unionvote.domain.report import Report
from unionvote.record.archive import iter_tar_entries
from unionvote.verify import verify_record


@pytest.fixture(scope="module")
def membership(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_membership(tmp_path_factory.mktemp("reading"), trustees="2of3")


def _pieces(content: bytes, size: int) -> Iterator[bytes]:
    return (content[i : i + size] for i in range(0, len(content), size))


def _entries(content: bytes) -> Iterator[bytes]:
    """The record cut at its entries' boundaries, as the server stores it (roughly)."""
    offsets = [entry.offset for entry in iter_tar_entries(io.BytesIO(content))] + [len(content)]
    return (content[a:b] for a, b in itertools.pairwise(offsets))


def test_the_record_gives_the_same_facts_however_its_bytes_come(membership: Published) -> None:
    content = membership.record.read_bytes()
    ballots: list[tuple[str, bytes]] = []
    expected = read_record(membership.record, on_ballot=lambda n, b: ballots.append((n, b)))
    assert expected.sha256 == hashlib.sha256(content).hexdigest()
    assert expected.result is not None and len(ballots) == len(membership.built.spec.votes)
    sources: list[object] = [
        content,
        _entries(content),
        *(_pieces(content, size) for size in (1, 511, 512, 4096, 1 << 20)),
        [b"", *_pieces(content, 1000), b""],  # empty pieces are nothing
    ]
    for source in sources:
        seen: list[tuple[str, bytes]] = []
        facts = read_record(source, on_ballot=lambda n, b, seen=seen: seen.append((n, b)))  # type: ignore[arg-type,misc]
        assert facts == expected
        assert seen == ballots


def test_a_damaged_record_is_refused_the_same_way_from_pieces(membership: Published) -> None:
    content = bytearray(membership.record.read_bytes())
    content[len(content) // 2] ^= 0x40
    with pytest.raises(DomainError) as whole:
        read_record(bytes(content))
    with pytest.raises(DomainError) as pieces:
        read_record(_pieces(bytes(content), 300))
    assert (pieces.value.check, pieces.value.detail) == (whole.value.check, whole.value.detail)
    with pytest.raises(DomainError, match="cut short"):
        read_record(_pieces(membership.record.read_bytes()[:-100], 4096))


def test_an_error_of_the_store_reaches_the_caller(membership: Published) -> None:
    content = membership.record.read_bytes()

    def failing() -> Iterator[bytes]:
        yield content[:5000]
        raise OSError("the database went away")

    with pytest.raises(OSError, match="went away"):
        read_record(failing())


def test_the_counts_are_those_of_the_full_reading(membership: Published) -> None:
    raw = membership.files[SUBTALLIES_FILE]
    full, counts = parse_subtallies(raw), parse_subtally_counts(raw)
    assert (counts.uuid, counts.election_hash, counts.min_group_size) == (
        full.uuid,
        full.election_hash,
        full.min_group_size,
    )
    assert [d.dimension for d in counts.dimensions] == [d.dimension for d in full.dimensions]
    for shown, whole in zip(counts.dimensions, full.dimensions, strict=True):
        assert [(a.id, a.label, a.groups, a.ballots, a.result) for a in shown.aggregates] == [
            (a.id, a.label, a.groups, a.ballots, a.result) for a in whole.aggregates
        ]
        assert [a.display_name(shown.dimension) for a in shown.aggregates] == [
            a.display_name(whole.dimension) for a in whole.aggregates
        ]
    assert any(a.id.endswith(":other") for d in counts.dimensions for a in d.aggregates)


def _with(membership: Published, change: object) -> bytes:
    obj = json.loads(membership.files[SUBTALLIES_FILE])
    change(obj)  # type: ignore[operator]
    return json.dumps(obj).encode()


def _aggregate(obj: dict) -> dict:  # type: ignore[type-arg]
    return obj["dimensions"][0]["aggregates"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o.pop("counted_groups"), "expected the fields"),
        (lambda o: o.update(counted_groups=[]), "counted_groups: expected an object"),
        (lambda o: o.update(version=2), "version 2 is not 1"),
        (lambda o: o.update(uuid=1), "uuid: expected a string"),
        (lambda o: _aggregate(o).pop("encrypted_tally"), "expected the fields"),
        (lambda o: _aggregate(o).update(ballots=-1), "ballots: expected a whole number"),
        (lambda o: _aggregate(o).update(result=[["1"]]), "result: expected a whole number"),
        (lambda o: _aggregate(o).update(groups=[]), "at least one group"),
        (lambda o: _aggregate(o).update(label=None), "label: expected a string"),
        (
            lambda o: o["dimensions"][0]["aggregates"].append(_aggregate(o)),
            "is repeated",
        ),
    ],
)
def test_the_counts_are_read_as_strictly(
    membership: Published, change: object, message: str
) -> None:
    raw = _with(membership, change)
    for parse in (parse_subtallies, parse_subtally_counts):
        with pytest.raises(DomainError, match=message):
            parse(raw)


def test_the_report_does_not_rest_on_the_group_elements_the_verifier_checks(
    membership: Published, tmp_path: Path
) -> None:
    """An aggregate's encrypted tally that is not a group element: the full reading refuses
    it, the report (which never showed it) is the same, and ``unionvote verify`` fails the
    sub-tallies."""

    def spoil(obj: dict) -> None:  # type: ignore[type-arg]
        _aggregate(obj)["encrypted_tally"][0][0]["alpha"] = "ff" * 32

    raw = _with(membership, spoil)
    with pytest.raises(DomainError, match=r"publication\.subtallies"):
        parse_subtallies(raw)
    facts = read_record(membership.record)

    def report(subtallies: bytes) -> Report:
        inputs = StageInputs(
            "membership-vote",
            membership.process,
            facts,
            membership.files[ELECTORATE_FILE],
            subtallies,
        )
        return build_stage_report(inputs, simulation=False)

    spoiled, published = report(raw), report(membership.files[SUBTALLIES_FILE])
    assert render_report(published)["report.json"] == membership.files["report.json"]
    # the same report but for the hash of the file it cites
    assert spoiled.questions == published.questions
    assert dict(spoiled.sources)["subtallies"] == hashlib.sha256(raw).hexdigest()
    assert replace(spoiled, sources=published.sources) == published
    membership_copy = publish_membership(tmp_path, trustees="2of3")
    membership_copy.rewrite(SUBTALLIES_FILE, _with(membership_copy, spoil))
    checks = verify_record(membership_copy.record).checks
    assert checks["subtallies.election"].failures


def test_a_path_given_as_text_is_refused_clearly(membership: Published) -> None:
    with pytest.raises(TypeError, match="a record is read from bytes, a Path or pieces"):
        read_record(str(membership.record))  # type: ignore[arg-type]
