"""The endorsement record links the published candidate questionnaire (issue 6): the comparison
file is published beside the endorsement with its SHA-256, `unionvote verify` checks the link
like the others, and a tampered digest or file fails it. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

import pytest
from publications import (
    COUNCIL,
    MEMBERSHIP,
    Published,
    council_election,
    electorate_json,
    process_text,
    publish_membership,
    seed_election,
)
from questionnaire_support import CAMPAIGNS, KEY, QUESTIONNAIRE

from unionvote.domain.endorsement import (
    QUESTIONNAIRE_FORMAT,
    Link,
    build_endorsement,
    parse_endorsement,
    questionnaire_key,
)
from unionvote.domain.errors import DomainError
from unionvote.domain.publication import ELECTORATE_FILE, ENDORSEMENT_FILE, SUBTALLIES_FILE
from unionvote.record.archive import MANIFEST_NAME, write_manifest
from unionvote.services.context import FixedClock, Services
from unionvote.services.council import do_decide, do_derive_council_stage, do_record_endorsement
from unionvote.services.process import do_init_process
from unionvote.services.publication import export_stage, read_published
from unionvote.services.questionnaire import (
    PUBLICATION_FORMAT,
    do_define_questionnaire,
    do_import_campaigns,
    do_publish,
)
from unionvote.services.report import do_publish_report
from unionvote.storage.database import Database
from unionvote.verify import verify_record
from unionvote.verify.report import Report

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.UTC)
NAME = f"questionnaire-{KEY}.json"


@pytest.fixture(scope="module")
def membership(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_membership(tmp_path_factory.mktemp("built"))


def failed(report: Report) -> set[str]:
    return {c.name for c in report.checks.values() if c.failures}


def endorse(database: Database, membership: Published, tmp_path: Path) -> Services:
    services = Services(database, FixedClock(NOW))
    do_init_process(services, process_text(), source_name="test.toml")
    files = {n: membership.files[n] for n in (ELECTORATE_FILE, SUBTALLIES_FILE)}
    seed_election(services, MEMBERSHIP, membership.built, files)
    do_publish_report(services, MEMBERSHIP, simulation=True)
    basis = do_derive_council_stage(services, MEMBERSHIP, COUNCIL)
    built = council_election(tmp_path / "council.bel", process_text(), basis, [0, 0, 1, 2, 0])
    seed_election(services, COUNCIL, built, {ELECTORATE_FILE: electorate_json(COUNCIL, 5, 5)})
    do_publish_report(services, COUNCIL, simulation=True)
    do_decide(services, COUNCIL)
    return services


def test_the_format_names_agree() -> None:
    assert QUESTIONNAIRE_FORMAT == PUBLICATION_FORMAT


def test_the_endorsement_links_the_published_questionnaire(
    database: Database, membership: Published, tmp_path: Path
) -> None:
    services = endorse(database, membership, tmp_path)
    do_define_questionnaire(services, QUESTIONNAIRE.read_text(encoding="utf-8"))
    do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"))
    do_publish(services, KEY, early=True)
    published = do_publish(services, KEY, early=True)  # the latest publication is the one linked

    record = do_record_endorsement(services, statement="We endorse.", decided_by="Council")
    links = [link for link in record.links if link.role == "questionnaire"]
    assert links == [Link("questionnaire", None, NAME, published.sha256)]
    assert questionnaire_key(links[0]) == KEY
    assert read_published(services, COUNCIL, NAME) == published.content

    out = tmp_path / "published"
    export_stage(services, MEMBERSHIP, out)
    council = export_stage(services, COUNCIL, out)
    report = verify_record(council.record)
    assert report.ok, [f.line() for f in report.failures]
    assert report.checks["endorsement.links"].checked == len(record.links)

    directory = council.directory
    original = (directory / ENDORSEMENT_FILE).read_bytes()
    listed = list(council.files)

    # A changed digest in the endorsement (the manifest rewritten to match): the link fails.
    tampered = json.loads(original)
    for link in tampered["links"]:
        if link["role"] == "questionnaire":
            link["sha256"] = "0" * 64
    (directory / ENDORSEMENT_FILE).write_bytes(json.dumps(tampered).encode())
    write_manifest(directory, listed, council.record)
    report = verify_record(council.record)
    assert failed(report) == {"endorsement.links"}
    assert f"{NAME}: SHA-256 {published.sha256}, the endorsement says 0000" in (
        report.checks["endorsement.links"].failures[0].detail
    )

    # A file of another questionnaire under this name (its digest stated): the link fails.
    other = json.loads(published.content)
    other["questionnaire"]["key"] = "another"
    other_bytes = json.dumps(other).encode()
    tampered = json.loads(original)
    for link in tampered["links"]:
        if link["role"] == "questionnaire":
            link["sha256"] = hashlib.sha256(other_bytes).hexdigest()
    (directory / ENDORSEMENT_FILE).write_bytes(json.dumps(tampered).encode())
    (directory / NAME).write_bytes(other_bytes)
    write_manifest(directory, listed, council.record)
    report = verify_record(council.record)
    assert failed(report) == {"endorsement.links"}
    assert "is not the questionnaire 'issues-2024'" in (
        report.checks["endorsement.links"].failures[0].detail
    )

    # The file missing from the manifest (unlisted): it is not among the published files.
    (directory / ENDORSEMENT_FILE).write_bytes(original)
    (directory / NAME).write_bytes(published.content)
    write_manifest(directory, [n for n in listed if n != NAME], council.record)
    report = verify_record(council.record)
    assert "published.manifest" in failed(report)
    assert any(
        "is not among the published files" in f.detail
        for f in report.checks["endorsement.links"].failures
    )
    assert (directory / MANIFEST_NAME).is_file()


def test_an_endorsement_without_a_questionnaire_stays_valid(
    database: Database, membership: Published, tmp_path: Path
) -> None:
    services = endorse(database, membership, tmp_path)
    record = do_record_endorsement(services, statement="We endorse.", decided_by="Council")
    assert "questionnaire" not in {link.role for link in record.links}
    assert parse_endorsement(record.to_json()) == record
    out = tmp_path / "published"
    export_stage(services, MEMBERSHIP, out)
    report = verify_record(export_stage(services, COUNCIL, out).record)
    assert report.ok, [f.line() for f in report.failures]


def test_a_questionnaire_link_must_name_a_questionnaire_file() -> None:
    at = NOW
    decision = {"endorsed": None}
    for link, message in (
        (Link("questionnaire", None, "../x/questionnaire-a.json", "0" * 64), "questionnaire-<key>"),
        (Link("questionnaire", COUNCIL, NAME, "0" * 64), "names no stage"),
        (Link("poll", None, "poll.json", "0" * 64), "not 'poll'"),
    ):
        with pytest.raises(DomainError, match=message):
            build_endorsement(
                union="U",
                decided_by="Council",
                statement="S",
                decision=decision,
                links=[link],
                at=at,
            )
        raw = json.dumps(
            {
                "version": 1,
                "union": "U",
                "outcome": "no endorsement",
                "endorsed": None,
                "decided_by": "Council",
                "statement": "S",
                "decision": None,
                "links": [link.to_obj()],
                "at": "2024-03-01T12:00:00Z",
            }
        ).encode()
        with pytest.raises(DomainError, match=message):
            parse_endorsement(raw)
