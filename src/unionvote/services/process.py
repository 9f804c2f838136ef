"""Loading a union's process file into the database: the process and one row per stage.

A database holds one process (one union's endorsement, from registration to the endorsement
record). Every later service reads its rules from the stored text, so what ran is what was
loaded, and its digest is published.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from unionvote.domain.errors import DomainError
from unionvote.domain.process import Process, Stage, parse_process
from unionvote.services.context import Services
from unionvote.storage.models import ProcessRow, StageRow

__all__ = ["LoadedProcess", "do_init_process", "load_process", "stage_row"]


@dataclass(frozen=True)
class LoadedProcess:
    row: ProcessRow
    process: Process

    @property
    def digest(self) -> str:
        return self.row.digest


def do_init_process(services: Services, text: str, *, source_name: str) -> LoadedProcess:
    """Check the process file and store it with its stages. Refused if a process is loaded."""
    process = parse_process(text, source=source_name)  # raises ProcessError with line numbers
    with services.transaction() as tx:
        if tx.session.scalar(select(ProcessRow.id)) is not None:
            raise DomainError(
                "process.exists",
                "this database already holds a process; use a new database for a new process",
            )
        digest = hashlib.sha256(text.encode()).hexdigest()
        row = ProcessRow(
            name=process.union,
            short_name=process.short_name,
            source_name=source_name,
            text=text,
            digest=digest,
            loaded_at=tx.at,
        )
        tx.session.add(row)
        tx.session.flush()
        for stage in process.stages:
            tx.session.add(StageRow(process_id=row.id, key=stage.id, title=stage.title))
        tx.audit("process.load", process.short_name, source=source_name, digest=digest)
    return LoadedProcess(row, process)


def load_process(session: Session) -> LoadedProcess:
    """The process in this database, parsed from its stored text."""
    row = session.scalar(select(ProcessRow))
    if row is None:
        raise DomainError("process.missing", "no process is loaded; run `unionvote init` first")
    process = _parsed.get(row.digest)
    if process is None:
        process = _parsed[row.digest] = parse_process(row.text, source=row.source_name)
    return LoadedProcess(row, process)


# A stored process never changes (its digest names its text): parse it once per process, not
# once per transaction — every registration and ballot looks its stage up.
_parsed: dict[str, Process] = {}


def stage_row(session: Session, key: str, *, for_update: bool = False) -> tuple[StageRow, Stage]:
    """A stage by its key (``membership-vote``), with its rules; a clear error if unknown."""
    loaded = load_process(session)
    query = select(StageRow).where(StageRow.process_id == loaded.row.id, StageRow.key == key)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        known = ", ".join(s.id for s in loaded.process.stages)
        raise DomainError("stage.unknown", f"there is no stage {key!r} (the stages are: {known})")
    return row, loaded.process.stage(key)
