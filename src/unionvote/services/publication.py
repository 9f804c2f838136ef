"""A stage's published files: storing them (in ``published_files``, committed with the change
they describe), reading them, and exporting a stage's directory for the public.

The exported directory of stage ``membership-vote`` is ``OUT/membership-vote/``: the record
``membership-vote.bel``, every published file of the stage (``process.toml``,
``electorate.json``, ``subtallies.json``, ``report.json``/``.txt``/``.html``/``.png``,
``council.json``, ``decision.json``, ``endorsement.json``…) and ``manifest.json`` with the
SHA-256 of each and of the record. Stage directories are siblings, so the links between stages
(``../membership-vote/report.json``) resolve in the exported tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from unionvote.domain.errors import DomainError
from unionvote.domain.publication import RecordFacts, read_record, record_file_name
from unionvote.record.archive import MANIFEST_NAME, write_manifest, write_sidecar
from unionvote.services.context import Services, Tx
from unionvote.services.elections import export_record
from unionvote.services.process import stage_row
from unionvote.storage.models import ElectionRow, PublishedFile, StageRow

__all__ = [
    "ExportedStage",
    "export_stage",
    "exported_record",
    "published_content",
    "published_names",
    "read_published",
    "require_head",
    "store_published",
]

# Working copies that other services keep in ``published_files`` until they are final.
_NOT_PUBLIC_SUFFIX = ".pending.json"


@dataclass(frozen=True, slots=True)
class ExportedStage:
    directory: Path
    record: Path
    files: tuple[str, ...]
    manifest_sha256: str


def store_published(tx: Tx, stage: StageRow, name: str, content: bytes) -> str:
    """Publish ``name`` for ``stage`` in this transaction (replacing an earlier version);
    returns its SHA-256 in hex."""
    digest = hashlib.sha256(content).hexdigest()
    row = tx.session.scalar(
        select(PublishedFile).where(PublishedFile.stage_id == stage.id, PublishedFile.name == name)
    )
    if row is None:
        tx.session.add(
            PublishedFile(stage_id=stage.id, name=name, content=content, digest=digest, at=tx.at)
        )
    else:
        row.content, row.digest, row.at = content, digest, tx.at
    return digest


def published_content(session: Session, stage: StageRow, name: str) -> bytes | None:
    """The content of a published file of ``stage``, or None if there is none."""
    return session.scalar(
        select(PublishedFile.content).where(
            PublishedFile.stage_id == stage.id, PublishedFile.name == name
        )
    )


def published_names(session: Session, stage: StageRow) -> list[str]:
    names = session.scalars(
        select(PublishedFile.name).where(PublishedFile.stage_id == stage.id)
    ).all()
    return sorted(n for n in names if not n.endswith(_NOT_PUBLIC_SUFFIX))


def read_published(services: Services, stage_key: str, name: str) -> bytes:
    """A published file of a stage; a clear error if the stage has not published it."""
    with services.db.sessions() as session:
        row, _ = stage_row(session, stage_key)
        content = published_content(session, row, name)
        if content is None:
            have = ", ".join(published_names(session, row)) or "nothing yet"
            raise DomainError(
                "publication.missing",
                f"stage {stage_key!r} has not published {name} (it has published: {have})",
            )
        return content


@contextmanager
def exported_record(services: Services, stage_key: str) -> Iterator[RecordFacts]:
    """The stage's record read in one streaming pass straight from its stored chunks (a
    record can be larger than memory; no copy of it is written); yields what reports and
    decisions need from it."""
    from unionvote.services.board import record_chunks  # board reads published files: import here

    yield read_record(record_chunks(services, stage_key))


def require_head(session: Session, stage: StageRow, facts: RecordFacts) -> None:
    """The record read is still the stored one (nothing was appended since the export)."""
    head = session.scalar(select(ElectionRow.head).where(ElectionRow.stage_id == stage.id))
    if head != facts.last_event:
        raise DomainError(
            "publication.record", f"the record of {stage.key} changed while it was read; retry"
        )


def export_stage(services: Services, stage_key: str, out_dir: Path) -> ExportedStage:
    """Write the stage's published directory, ``out_dir/<stage>/``: the record, every
    published file and the manifest. Files of an earlier export are replaced; a directory
    holding anything else is refused."""
    directory = out_dir / stage_key
    with services.db.sessions() as session:
        row, _ = stage_row(session, stage_key)
        files = {
            name: published_content(session, row, name) or b""
            for name in published_names(session, row)
        }
    record = directory / record_file_name(stage_key)
    ours = {*files, record.name, MANIFEST_NAME}
    directory.mkdir(parents=True, exist_ok=True)
    strangers = sorted(
        p.name for p in directory.iterdir() if p.name not in ours and not p.name.startswith(".")
    )
    if strangers:
        raise DomainError(
            "publication.export",
            f"{directory} holds files that stage {stage_key} does not publish "
            f"({', '.join(strangers[:5])}); export into an empty directory",
        )
    export_record(services, stage_key, record)
    for name, content in files.items():
        write_sidecar(directory, name, content)
    manifest = write_manifest(directory, files, record)
    with services.transaction() as tx:
        tx.audit("publication.export", stage_key, directory=str(directory), manifest=manifest)
    return ExportedStage(directory, record, tuple(sorted(files)), manifest)
