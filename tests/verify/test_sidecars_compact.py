"""``counted_groups`` tampered with but written as the service writes it (compact, credentials
in order, last in the file), so that ``unionvote verify`` reads it as its compact index
(domain.publication.CountedGroupsIndex): each change is found and named as when the file was
read whole, and a credential written twice counts with its last groups, as json reads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from publications import Published, publish_membership

from unionvote.crypto.encoding import compact_json
from unionvote.domain.publication import SUBTALLIES_FILE, CountedGroupsIndex
from unionvote.verify import verify_record
from unionvote.verify.report import Report


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_membership(tmp_path_factory.mktemp("compact"), trustees="2of3")


@pytest.fixture
def membership(published: Published, tmp_path: Path) -> Published:
    """A private copy of the stage's directory, to tamper with."""
    directory = tmp_path / published.directory.name
    shutil.copytree(published.directory, directory)
    return Published(
        directory,
        directory / published.record.name,
        published.built,
        published.process,
        dict(published.files),
    )


def _compact(obj: dict[str, Any], entries: list[tuple[str, list[str]]]) -> bytes:
    """The file as the service writes it, with ``entries`` (in that order) as its groups."""
    head = compact_json({k: v for k, v in obj.items() if k != "counted_groups"})
    body = ",".join(f"{json.dumps(k)}:{compact_json(v).decode()}" for k, v in entries)
    raw = head[:-1] + b',"counted_groups":{' + body.encode() + b"}}"
    at = raw.index(b',"counted_groups":') + len(b',"counted_groups":')
    assert CountedGroupsIndex.from_compact_json(raw, at, len(raw) - 1) is not None
    return raw


def _coverage(membership: Published, entries: list[tuple[str, list[str]]]) -> list[str]:
    membership.rewrite(SUBTALLIES_FILE, _compact(membership.json(SUBTALLIES_FILE), entries))
    report: Report = verify_record(membership.record)
    return [f.detail for f in report.checks["subtallies.coverage"].failures]


def _groups(membership: Published) -> list[tuple[str, list[str]]]:
    return sorted(membership.json(SUBTALLIES_FILE)["counted_groups"].items())


def test_the_file_with_its_credentials_in_order_passes(membership: Published) -> None:
    """Every sub-tally check passes (the report, which cites the file's SHA-256, does not).
    The test's published file has its credentials in the voters' order: read compact too,
    then sorted; the other tests of ``verify.sidecars`` read it so."""
    assert _coverage(membership, _groups(membership)) == []
    report = verify_record(membership.record)
    subtallies = [c for name, c in report.checks.items() if name.startswith("subtallies.")]
    assert len(subtallies) == 7 and all(c.passed and not c.failures for c in subtallies)


def test_a_stranger_and_a_credential_in_upper_case_are_named(membership: Published) -> None:
    groups = _groups(membership)
    stranger, upper = "ab" * 32, groups[1][0].upper()
    entries = sorted([*groups, (stranger, groups[0][1]), (upper, groups[1][1])])
    problems = _coverage(membership, entries)
    assert len(problems) == 1 and problems[0].startswith("2 listed credentials have no counted")
    assert stranger in problems[0] and upper in problems[0]


def test_a_credential_left_out_is_named(membership: Published) -> None:
    groups = _groups(membership)
    problems = _coverage(membership, groups[1:])
    assert problems == [f"1 counted credentials are in no group: {groups[0][0]}"]


def test_a_credential_written_twice_counts_with_its_last_groups(membership: Published) -> None:
    groups = _groups(membership)
    credential, ids = groups[0]
    wrong = [ids[0], ids[0]]  # twice in one dimension, none in another
    assert _coverage(membership, [(credential, wrong), *groups]) == []
    problems = _coverage(membership, [groups[0], (credential, wrong), *groups[1:]])
    assert len(problems) == 1 and credential in problems[0]
    assert problems[0].startswith("1 credentials are not in exactly one known aggregate")
