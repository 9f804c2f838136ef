"""The council stage and the endorsement (issue 3, §9–10).

- :func:`do_derive_council_stage`: once the membership vote's report is published, the council
  stage's candidates are the top vote-getter of each party in it; they are stored with the
  hashes of the record and report they come from (``StageRow.derived_from``, published as
  ``council.json``), and the council's election is set up from them.
- :func:`do_decide`: once the council's vote is decrypted, the process's decision rule is
  applied to its result (``decision.json``, a ``decisions`` row).
- :func:`do_record_endorsement`: the endorsement record, linking by SHA-256 every stage's
  record and report, the process file, the decision and every published candidate
  questionnaire (``endorsement.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from unionvote.domain.decision import Decision
from unionvote.domain.endorsement import (
    EndorsementRecord,
    Link,
    build_endorsement,
    check_texts,
    questionnaire_link,
    stage_path,
)
from unionvote.domain.errors import DomainError
from unionvote.domain.publication import (
    COUNCIL_FILE,
    DECISION_FILE,
    ENDORSEMENT_FILE,
    PROCESS_FILE,
    CouncilBasis,
    decide_stage,
    decision_json,
    derive_council_basis,
    record_file_name,
    sha256_hex,
)
from unionvote.services.context import Services, Tx
from unionvote.services.process import LoadedProcess, load_process, stage_row
from unionvote.services.publication import (
    exported_record,
    published_content,
    require_head,
    store_published,
)
from unionvote.services.questionnaire import PublishedQuestionnaire, endorsement_links
from unionvote.storage.models import Decision as DecisionRow
from unionvote.storage.models import Endorsement, StageRow

__all__ = [
    "DecidedStage",
    "do_decide",
    "do_derive_council_stage",
    "do_record_endorsement",
]

DONE = ("decrypted", "published")
REPORT = "report.json"


@dataclass(frozen=True, slots=True)
class DecidedStage:
    stage: str
    question: str
    decision: Decision
    sha256: str  # of decision.json


def do_derive_council_stage(
    services: Services, from_stage_key: str, to_stage_key: str
) -> CouncilBasis:
    """Fix the council stage's candidates from the membership vote's published result.
    Refused before that stage's report is published, on a tie for a party's top place
    (naming the tied candidates), and once the council stage is derived."""
    with services.db.sessions() as session:
        _, target_stage = stage_row(session, to_stage_key)
        if target_stage.derived_from != from_stage_key:
            raise DomainError(
                "council.stage",
                f"stage {to_stage_key!r} derives from {target_stage.derived_from!r}, "
                f"not {from_stage_key!r}",
            )
        _check_source(session, from_stage_key)
    with exported_record(services, from_stage_key) as record, services.transaction() as tx:
        session = tx.session
        source = _check_source(session, from_stage_key)
        require_head(session, source, record)
        target, _ = stage_row(session, to_stage_key, for_update=True)
        if target.derived_from is not None:
            raise DomainError(
                "council.derived", f"stage {to_stage_key}'s candidates are already fixed"
            )
        if target.status != "draft" or target.uuid is not None:
            raise DomainError(
                "council.status",
                f"stage {to_stage_key} is {target.status}; its candidates are fixed while it "
                "is a draft, before its electorate is frozen",
            )
        report = published_content(session, source, REPORT)
        assert report is not None  # _check_source
        basis = derive_council_basis(
            load_process(session).process,
            from_stage_key,
            to_stage_key,
            record,
            sha256_hex(report),
        )
        content = basis.to_json()
        target.derived_from = content.decode()
        target.derived_from_stage_id = source.id
        digest = store_published(tx, target, COUNCIL_FILE, content)
        tx.audit(
            "council.derive",
            to_stage_key,
            from_stage=from_stage_key,
            candidates=[c.name for c in basis.candidates],
            council_sha256=digest,
        )
    return basis


def _check_source(session: Session, key: str) -> StageRow:
    row, _ = stage_row(session, key, for_update=True)
    if row.status not in DONE or published_content(session, row, REPORT) is None:
        raise DomainError(
            "council.source",
            f"stage {key} is {row.status}: the council's candidates come from its published "
            f"report (run `unionvote report build {key}` once its result is decrypted)",
        )
    return row


def do_decide(services: Services, stage_key: str) -> DecidedStage:
    """Apply the stage's decision rule to its decrypted result. Refused before the result,
    for a stage without a decision rule, and twice."""
    with services.db.sessions() as session:
        _check_decidable(session, stage_key)
    with exported_record(services, stage_key) as record, services.transaction() as tx:
        session = tx.session
        row = _check_decidable(session, stage_key)
        require_head(session, row, record)
        process_text = load_process(session).row.text
        question, decision = decide_stage(process_text, stage_key, record)
        content = decision_json(stage_key, question, decision, record)
        session.add(
            DecisionRow(
                stage_id=row.id,
                rule=decision.rule.value,
                endorsed=decision.endorsed,
                content=content.decode(),
                at=tx.at,
            )
        )
        digest = store_published(tx, row, DECISION_FILE, content)
        tx.audit(
            "council.decide",
            stage_key,
            rule=decision.rule.value,
            endorsed=decision.endorsed,
            decision_sha256=digest,
        )
    return DecidedStage(stage_key, question.question, decision, digest)


def _check_decidable(session: Session, key: str) -> StageRow:
    row, stage = stage_row(session, key, for_update=True)
    if stage.decision is None:
        raise DomainError("decision.rule", f"stage {key} has no decision rule in the process")
    if row.status not in DONE:
        raise DomainError(
            "decision.status", f"stage {key} is {row.status}: decide once its result is decrypted"
        )
    if session.scalar(select(DecisionRow.id).where(DecisionRow.stage_id == row.id)) is not None:
        raise DomainError("decision.exists", f"stage {key} has already been decided")
    return row


def do_record_endorsement(
    services: Services, *, statement: str, decided_by: str
) -> EndorsementRecord:
    """Record the endorsement (or no endorsement) that the last decision made, with the
    deciding body's statement, published beside the deciding stage's record. Every stage's
    report must be published, and every stage with a decision rule decided; recorded once.
    The latest publication of each published candidate questionnaire is published beside it
    too, and linked."""
    check_texts(decided_by=decided_by, statement=statement)
    questionnaires = endorsement_links(services)
    with services.transaction() as tx:
        session = tx.session
        loaded = load_process(session)
        if session.scalar(select(Endorsement.id)) is not None:
            raise DomainError("endorsement.exists", "the endorsement is already recorded")
        rows = [stage_row(session, s.id, for_update=True) for s in loaded.process.stages]
        deciding = [(row, stage) for row, stage in rows if stage.decision is not None]
        home = (deciding or rows)[-1][0]
        decision: dict[str, object] | None = None
        links: list[Link] = []
        for row, _ in rows:
            links += _stage_links(session, home.key, row)
        for row, _ in deciding:
            content = published_content(session, row, DECISION_FILE)
            if content is None:
                raise DomainError(
                    "endorsement.decision",
                    f"stage {row.key} has not been decided (run `unionvote council decide "
                    f"{row.key}`)",
                )
            decision = json.loads(content)
            links.append(
                Link(
                    "decision",
                    row.key,
                    stage_path(home.key, row.key, DECISION_FILE),
                    sha256_hex(content),
                )
            )
        links.append(_process_link(tx, loaded, home))
        links += [_questionnaire_link(tx, home, published) for published in questionnaires]
        record = build_endorsement(
            union=loaded.process.union,
            decided_by=decided_by,
            statement=statement,
            decision=decision,
            links=links,
            at=tx.at,
        )
        content = record.to_json()
        digest = store_published(tx, home, ENDORSEMENT_FILE, content)
        session.add(
            Endorsement(
                process_id=loaded.row.id,
                endorsed=record.endorsed,
                content=content.decode(),
                digest=digest,
                at=tx.at,
            )
        )
        tx.audit(
            "endorsement.record",
            home.key,
            endorsed=record.endorsed,
            decided_by=record.decided_by,
            endorsement_sha256=digest,
            questionnaires=[published.name for published in questionnaires],
        )
    return record


def _stage_links(session: Session, home: str, row: StageRow) -> list[Link]:
    report = published_content(session, row, REPORT)
    if report is None:
        raise DomainError(
            "endorsement.report",
            f"stage {row.key} has no published report (run `unionvote report build {row.key}`)",
        )
    sources = json.loads(report).get("sources", {})
    record_sha = sources.get("record")
    if not isinstance(record_sha, str):
        raise DomainError("endorsement.report", f"the report of {row.key} names no record")
    return [
        Link("record", row.key, stage_path(home, row.key, record_file_name(row.key)), record_sha),
        Link("report", row.key, stage_path(home, row.key, REPORT), sha256_hex(report)),
    ]


def _process_link(tx: Tx, loaded: LoadedProcess, home: StageRow) -> Link:
    """The process file, published beside the endorsement (the same text every report
    cites)."""
    digest = store_published(tx, home, PROCESS_FILE, loaded.row.text.encode())
    return Link("process", None, PROCESS_FILE, digest)


def _questionnaire_link(tx: Tx, home: StageRow, published: PublishedQuestionnaire) -> Link:
    """A published questionnaire's comparison file, published beside the endorsement."""
    digest = store_published(tx, home, published.name, published.content)
    if digest != published.sha256:
        raise DomainError(
            "endorsement.questionnaire",
            f"{published.name} does not have the SHA-256 it was published with",
        )
    return questionnaire_link(published.name, digest)
