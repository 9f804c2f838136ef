"""Publishing a stage's report (issue 3, §8): built from the stage's record and its
published files only (``domain.publication``), so that ``unionvote verify`` can rebuild it
from the same files and refuse a report that differs.

The report's files (``report.json``, ``.txt``, ``.html``, ``.png``) and the process file they
cite (``process.toml``) are stored in ``published_files`` in the transaction that moves the
stage to ``published``; a published report is final.
"""

from __future__ import annotations

from dataclasses import dataclass

from unionvote.chart import render_chart
from unionvote.domain.errors import DomainError
from unionvote.domain.publication import (
    CHART_FILE,
    COUNCIL_FILE,
    ELECTORATE_FILE,
    PROCESS_FILE,
    SUBTALLIES_FILE,
    StageInputs,
    build_stage_report,
    read_record,
    render_report,
)
from unionvote.domain.report import Report
from unionvote.services.board import record_chunks
from unionvote.services.context import Services
from unionvote.services.process import load_process, stage_row
from unionvote.services.publication import published_content, require_head, store_published

__all__ = ["PublishedReport", "do_publish_report"]

DECRYPTED = "decrypted"
PUBLISHED = "published"


@dataclass(frozen=True, slots=True)
class PublishedReport:
    stage: str
    report: Report
    digests: dict[str, str]  # file name -> SHA-256 in hex

    @property
    def text(self) -> str:
        return self.report.to_text()


def do_publish_report(services: Services, stage_key: str, *, simulation: bool) -> PublishedReport:
    """Build and publish the report of a decrypted stage; ``simulation`` marks a rehearsal
    (synthetic members), and is recorded in ``report.json``. Refused before the result is
    decrypted, and once published."""
    with services.db.sessions() as session:
        row, _ = stage_row(session, stage_key)
        _check_status(stage_key, row.status)
    # Read straight from the stored chunks, in one pass: no copy of the record on disk.
    record = read_record(record_chunks(services, stage_key))
    with services.transaction() as tx:
        session = tx.session
        row, _ = stage_row(session, stage_key, for_update=True)
        _check_status(stage_key, row.status)
        require_head(session, row, record)
        process_text = load_process(session).row.text
        inputs = StageInputs(
            stage_key,
            process_text,
            record,
            published_content(session, row, ELECTORATE_FILE),
            published_content(session, row, SUBTALLIES_FILE),
            published_content(session, row, COUNCIL_FILE),
        )
        report = build_stage_report(inputs, simulation=simulation)
        files = render_report(report)
        files[CHART_FILE] = render_chart(report)
        files[PROCESS_FILE] = process_text.encode()
        digests = {name: store_published(tx, row, name, content) for name, content in files.items()}
        row.status = PUBLISHED
        tx.audit(
            "report.publish",
            stage_key,
            simulation=simulation,
            record_sha256=record.sha256,
            report_sha256=digests["report.json"],
        )
    return PublishedReport(stage_key, report, digests)


def _check_status(stage_key: str, status: str) -> None:
    if status == PUBLISHED:
        raise DomainError(
            "report.published", f"the report of {stage_key} is already published; it is final"
        )
    if status != DECRYPTED:
        raise DomainError(
            "report.status",
            f"stage {stage_key} is {status}: its report is built once the result is decrypted",
        )
