"""Publishing a stage's report from its stored record and published files, on SQLite and
PostgreSQL: the files stored, the status, the audit entry; refused before the result and
twice; the exported directory verifies."""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from publications import (
    MEMBERSHIP,
    Published,
    membership_votes,
    process_text,
    publish_membership,
    seed_election,
)
from sqlalchemy import delete, func, select

from unionvote.domain.errors import DomainError, ElectionError
from unionvote.domain.publication import ELECTORATE_FILE, SUBTALLIES_FILE
from unionvote.record.archive import iter_tar_entries
from unionvote.services import report as report_service
from unionvote.services.context import FixedClock, Services
from unionvote.services.process import do_init_process
from unionvote.services.publication import export_stage, read_published
from unionvote.services.report import do_publish_report
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, PublishedFile, RecordChunk, StageRow
from unionvote.verify import verify_record

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def membership(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_membership(tmp_path_factory.mktemp("built"))


@pytest.fixture
def services(database: Database) -> Services:
    services = Services(database, FixedClock(NOW))
    do_init_process(services, process_text(), source_name="test.toml")
    return services


def seed(services: Services, membership: Published) -> None:
    files = {n: membership.files[n] for n in (ELECTORATE_FILE, SUBTALLIES_FILE)}
    seed_election(services, MEMBERSHIP, membership.built, files)


def status(services: Services, key: str) -> str:
    with services.db.sessions() as session:
        row = session.scalar(select(StageRow).where(StageRow.key == key))
        assert row is not None
        return row.status


def test_publish_report_stores_the_files_and_publishes_the_stage(
    services: Services, membership: Published, tmp_path: Path
) -> None:
    seed(services, membership)
    published = do_publish_report(services, MEMBERSHIP, simulation=True)
    assert status(services, MEMBERSHIP) == "published"
    text = read_published(services, MEMBERSHIP, "report.txt").decode()
    assert text == published.text and text.startswith("SIMULATION")
    assert "Ada Lovelace – 50%" in text and "Totals by party\nDemocratic – 67%" in text
    report = json.loads(read_published(services, MEMBERSHIP, "report.json"))
    assert report["simulation"] is True and report["stage"] == MEMBERSHIP
    assert report["sources"]["record"] == published.report.sources[0][1]
    png = read_published(services, MEMBERSHIP, "report.png")
    assert png.startswith(b"\x89PNG\r\n")
    page = read_published(services, MEMBERSHIP, "report.html").decode()
    assert '<img src="report.png" alt="Simulation. Bar chart' in page
    with services.db.sessions() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "report.publish")
        ).one()
        assert json.loads(audit.detail)["report_sha256"] == published.digests["report.json"]

    exported = export_stage(services, MEMBERSHIP, tmp_path / "out")
    assert exported.directory == tmp_path / "out" / MEMBERSHIP
    assert {"process.toml", "report.png", ELECTORATE_FILE} <= set(exported.files)
    result = verify_record(exported.record)
    assert result.ok, [f.line() for f in result.failures]
    assert result.checks["report.json"].passed and result.checks["subtallies.result"].passed
    assert export_stage(services, MEMBERSHIP, tmp_path / "out").manifest_sha256 == (
        exported.manifest_sha256
    )


def test_a_report_is_published_once(services: Services, membership: Published) -> None:
    seed(services, membership)
    do_publish_report(services, MEMBERSHIP, simulation=False)
    with pytest.raises(DomainError, match="already published"):
        do_publish_report(services, MEMBERSHIP, simulation=True)
    text = read_published(services, MEMBERSHIP, "report.txt").decode()
    assert not text.startswith("SIMULATION")


def test_no_report_before_the_result(services: Services) -> None:
    with pytest.raises(DomainError, match="is draft: its report is built once the result"):
        do_publish_report(services, MEMBERSHIP, simulation=False)
    with pytest.raises(DomainError, match="there is no stage 'nowhere'"):
        do_publish_report(services, "nowhere", simulation=False)


def test_a_bad_published_file_changes_nothing(services: Services, membership: Published) -> None:
    files = {
        ELECTORATE_FILE: membership.files[ELECTORATE_FILE].replace(b"membership", b"council"),
        SUBTALLIES_FILE: membership.files[SUBTALLIES_FILE],
    }
    seed_election(services, MEMBERSHIP, membership.built, files)
    with pytest.raises(DomainError, match=r"electorate\.json is of stage 'council-vote'"):
        do_publish_report(services, MEMBERSHIP, simulation=False)
    assert status(services, MEMBERSHIP) == "decrypted"
    with services.db.sessions() as session:
        names = session.scalars(select(PublishedFile.name)).all()
        assert sorted(names) == [ELECTORATE_FILE, SUBTALLIES_FILE]
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1  # the init


def test_read_published_names_what_is_there(services: Services, membership: Published) -> None:
    seed(services, membership)
    with pytest.raises(DomainError, match=r"has not published report.txt .*electorate.json"):
        read_published(services, MEMBERSHIP, "report.txt")


def test_export_refuses_a_directory_with_other_files(
    services: Services, membership: Published, tmp_path: Path
) -> None:
    seed(services, membership)
    (tmp_path / MEMBERSHIP).mkdir()
    (tmp_path / MEMBERSHIP / "notes.txt").write_text("mine")
    with pytest.raises(DomainError, match=r"notes\.txt"):
        export_stage(services, MEMBERSHIP, tmp_path)


def test_membership_votes_shape() -> None:
    assert membership_votes((1, 2)) == ((0, ((1, 0, 0),)), (1, ((0, 1, 0),)), (2, ((0, 1, 0),)))


def _nothing_published(services: Services) -> None:
    assert status(services, MEMBERSHIP) == "decrypted"
    with services.db.sessions() as session:
        names = session.scalars(select(PublishedFile.name)).all()
        assert sorted(names) == [ELECTORATE_FILE, SUBTALLIES_FILE]


def test_the_report_reads_the_stored_record_as_it_stands(
    services: Services, membership: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record is read straight from its stored chunks: a read that stops short of the
    stored head (as if the record grew meanwhile) is refused, changing nothing."""
    seed(services, membership)
    real = report_service.record_chunks

    def all_but_the_last(services: Services, stage_key: str) -> Iterator[bytes]:
        stored = b"".join(real(services, stage_key))
        assert stored == membership.record.read_bytes()
        last = list(iter_tar_entries(io.BytesIO(stored)))[-1]  # the Result event
        return iter([stored[: last.offset]])

    monkeypatch.setattr(report_service, "record_chunks", all_but_the_last)
    with pytest.raises(DomainError, match="changed while it was read; retry"):
        do_publish_report(services, MEMBERSHIP, simulation=False)
    _nothing_published(services)


def test_a_missing_chunk_of_the_record_is_an_error(
    services: Services, membership: Published
) -> None:
    seed(services, membership)
    with services.db.sessions() as session, session.begin():
        session.execute(delete(RecordChunk).where(RecordChunk.seq == 0))
    with pytest.raises(ElectionError, match="a chunk of the stored record is missing"):
        do_publish_report(services, MEMBERSHIP, simulation=False)
    _nothing_published(services)
