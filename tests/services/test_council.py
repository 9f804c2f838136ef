"""The council stage derived from the membership vote, its decision and the endorsement record,
on SQLite and PostgreSQL; both exported directories verify, links included."""

from __future__ import annotations

import datetime
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
from sqlalchemy import select

from unionvote.domain.errors import DomainError
from unionvote.domain.publication import COUNCIL_FILE, ELECTORATE_FILE, SUBTALLIES_FILE
from unionvote.services.context import FixedClock, Services
from unionvote.services.council import do_decide, do_derive_council_stage, do_record_endorsement
from unionvote.services.process import do_init_process
from unionvote.services.publication import export_stage, read_published
from unionvote.services.report import do_publish_report
from unionvote.storage.database import Database
from unionvote.storage.models import Decision, Endorsement, StageRow
from unionvote.verify import verify_record

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def membership(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_membership(tmp_path_factory.mktemp("built"))


@pytest.fixture(scope="module")
def tied(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_membership(tmp_path_factory.mktemp("tied"), (3, 3, 6))


def start(database: Database, membership: Published, rule: str = "simple majority") -> Services:
    services = Services(database, FixedClock(NOW))
    do_init_process(services, process_text(rule=rule), source_name="test.toml")
    files = {n: membership.files[n] for n in (ELECTORATE_FILE, SUBTALLIES_FILE)}
    seed_election(services, MEMBERSHIP, membership.built, files)
    return services


def run_council(services: Services, tmp_path: Path, votes: list[int]) -> None:
    """The council's election as the ballot box would run it from the derived candidates."""
    basis = do_derive_council_stage(services, MEMBERSHIP, COUNCIL)
    built = council_election(tmp_path / "council.bel", process_text(), basis, votes)
    seed_election(services, COUNCIL, built, {ELECTORATE_FILE: electorate_json(COUNCIL, 5, 5)})


def test_the_whole_council_stage_and_endorsement(
    database: Database, membership: Published, tmp_path: Path
) -> None:
    services = start(database, membership)
    with pytest.raises(DomainError, match="published report"):
        do_derive_council_stage(services, MEMBERSHIP, COUNCIL)
    do_publish_report(services, MEMBERSHIP, simulation=True)
    run_council(services, tmp_path, [0, 0, 1, 2, 0])
    with services.db.sessions() as session:
        council = session.scalars(select(StageRow).where(StageRow.key == COUNCIL)).one()
        derived = json.loads(council.derived_from or "")
        assert council.derived_from_stage_id is not None
    assert [c["name"] for c in derived["candidates"]] == ["Ada Lovelace", "Alan Turing"]
    assert derived["from_stage"] == MEMBERSHIP and len(derived["record_sha256"]) == 64
    assert (
        read_published(services, COUNCIL, COUNCIL_FILE)
        == json.dumps(derived, sort_keys=True, separators=(",", ":")).encode()
    )

    with pytest.raises(DomainError, match="council-vote has no published report"):
        do_record_endorsement(services, statement="We endorse.", decided_by="Council")
    do_publish_report(services, COUNCIL, simulation=True)
    with pytest.raises(DomainError, match="not been decided"):
        do_record_endorsement(services, statement="We endorse.", decided_by="Council")
    decided = do_decide(services, COUNCIL)
    assert decided.decision.endorsed == "Ada Lovelace"
    assert decided.decision.reason == "Ada Lovelace is endorsed by 3 of 5 votes (simple majority)."
    with pytest.raises(DomainError, match="already been decided"):
        do_decide(services, COUNCIL)

    record = do_record_endorsement(
        services,
        statement="The State Council Presidents endorse Ada Lovelace.",
        decided_by="State Council Presidents",
    )
    assert record.endorsed == "Ada Lovelace" and record.outcome == "endorsement"
    assert {link.role for link in record.links} == {"record", "report", "process", "decision"}
    with pytest.raises(DomainError, match="already recorded"):
        do_record_endorsement(services, statement="Again.", decided_by="Council")
    with services.db.sessions() as session:
        assert session.scalars(select(Decision)).one().endorsed == "Ada Lovelace"
        content = session.scalars(select(Endorsement)).one().content
    assert content.encode() == read_published(services, COUNCIL, "endorsement.json")

    out = tmp_path / "published"
    for key in (MEMBERSHIP, COUNCIL):
        exported = export_stage(services, key, out)
        report = verify_record(exported.record)
        assert report.ok, [f.line() for f in report.failures]
    assert report.checks["endorsement.links"].checked == len(record.links)
    assert report.checks["council.link"].passed and report.checks["decision.result"].passed


def test_no_endorsement_is_a_valid_outcome(
    database: Database, membership: Published, tmp_path: Path
) -> None:
    services = start(database, membership, rule="two thirds")
    do_publish_report(services, MEMBERSHIP, simulation=False)
    run_council(services, tmp_path, [0, 0, 0, 1, 1])  # 3 of 5: not two thirds
    do_publish_report(services, COUNCIL, simulation=False)
    decided = do_decide(services, COUNCIL)
    assert decided.decision.no_endorsement and "two thirds" in decided.decision.reason
    record = do_record_endorsement(services, statement="No endorsement.", decided_by="Council")
    assert record.endorsed is None
    assert json.loads(record.to_json())["outcome"] == "no endorsement"


def test_a_tie_for_a_partys_top_place_is_refused(database: Database, tied: Published) -> None:
    services = start(database, tied)
    do_publish_report(services, MEMBERSHIP, simulation=False)
    with pytest.raises(DomainError, match="Ada Lovelace and Grace Hopper with 3 votes each"):
        do_derive_council_stage(services, MEMBERSHIP, COUNCIL)
    with services.db.sessions() as session:
        council = session.scalars(select(StageRow).where(StageRow.key == COUNCIL)).one()
        assert council.derived_from is None


def test_deriving_twice_and_deciding_early_are_refused(
    database: Database, membership: Published
) -> None:
    services = start(database, membership)
    do_publish_report(services, MEMBERSHIP, simulation=False)
    do_derive_council_stage(services, MEMBERSHIP, COUNCIL)
    with pytest.raises(DomainError, match="already fixed"):
        do_derive_council_stage(services, MEMBERSHIP, COUNCIL)
    with pytest.raises(DomainError, match="decide once its result is decrypted"):
        do_decide(services, COUNCIL)
    with pytest.raises(DomainError, match="no decision rule"):
        do_decide(services, MEMBERSHIP)
    with pytest.raises(DomainError, match="derives from 'membership-vote', not 'council-vote'"):
        do_derive_council_stage(services, COUNCIL, COUNCIL)
    with pytest.raises(DomainError, match="derives from None, not 'membership-vote'"):
        do_derive_council_stage(services, MEMBERSHIP, MEMBERSHIP)


def test_an_empty_statement_is_refused(database: Database, membership: Published) -> None:
    services = start(database, membership)
    with pytest.raises(DomainError, match="statement is empty"):
        do_record_endorsement(services, statement="  ", decided_by="Council")
