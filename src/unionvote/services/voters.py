"""The who-has-voted policy of a stage, and the list it governs.

Which members have voted is either **withheld** from everyone (the default) or given to every
staff role alike (**equal access**: the committee, each side's observers and the trustees see
the same list). The committee sets the policy per stage. Every look at the list, and every
refused look, is in the audit log with who looked. The list never says how anyone voted: only
that a ballot was received from their credential (the first time, for a member who voted
again).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import func, select

from unionvote.domain.errors import DomainError
from unionvote.services.context import Services
from unionvote.services.process import stage_row
from unionvote.storage.models import (
    Ballot,
    ElectionRow,
    Member,
    PublicCredentialRow,
    VoterListPolicy,
)

__all__ = [
    "PAGE_SIZE",
    "Policy",
    "PolicySetting",
    "VotedMember",
    "VoterList",
    "VotersWithheld",
    "do_set_voter_list_policy",
    "voter_list",
    "voter_list_policy",
]

PAGE_SIZE: Final = 500
WITHHELD_MESSAGE: Final = (
    "Who has voted is withheld in this stage: nobody, on any side, can see it. "
    "The election committee sets this policy."
)


class Policy(StrEnum):
    WITHHELD = "withheld"
    EQUAL_ACCESS = "equal-access"


class VotersWithheld(DomainError):
    """The list of who has voted is withheld in this stage."""


@dataclass(frozen=True, slots=True)
class PolicySetting:
    stage: str
    policy: Policy
    set_at: datetime.datetime | None  # None: the default, never set
    set_by: str


@dataclass(frozen=True, slots=True)
class VotedMember:
    card_number: str
    first_name: str
    last_name: str
    state: str
    local: str
    first_voted_at: datetime.datetime


@dataclass(frozen=True, slots=True)
class VoterList:
    stage: str
    total: int
    page: int
    pages: int
    members: tuple[VotedMember, ...]


def voter_list_policy(services: Services, stage_key: str) -> PolicySetting:
    with services.db.sessions() as session:
        stage, _ = stage_row(session, stage_key)
        row = session.scalar(select(VoterListPolicy).where(VoterListPolicy.stage_id == stage.id))
        if row is None:
            return PolicySetting(stage_key, Policy.WITHHELD, None, "")
        return PolicySetting(stage_key, Policy(row.policy), row.set_at, row.set_by)


def do_set_voter_list_policy(services: Services, stage_key: str, policy: str) -> PolicySetting:
    """Set the stage's policy (the committee's decision; audited with who set it)."""
    if policy not in {p.value for p in Policy}:
        raise DomainError(
            "voters.policy", f"the policy must be one of {', '.join(p.value for p in Policy)}"
        )
    with services.transaction() as tx:
        stage, _ = stage_row(tx.session, stage_key, for_update=True)
        row = tx.session.scalar(select(VoterListPolicy).where(VoterListPolicy.stage_id == stage.id))
        before = row.policy if row is not None else Policy.WITHHELD.value
        if row is None:
            row = VoterListPolicy(stage_id=stage.id, policy=policy, set_at=tx.at, set_by=tx.actor)
            tx.session.add(row)
        else:
            row.policy, row.set_at, row.set_by = policy, tx.at, tx.actor
        tx.audit("voters.policy", stage_key, policy=policy, before=before)
        return PolicySetting(stage_key, Policy(policy), tx.at, tx.actor)


def voter_list(services: Services, stage_key: str, *, page: int = 1) -> VoterList:
    """One page of the members who have voted, by card number; :class:`VotersWithheld` when
    the policy withholds it. The access (or the refusal) is audited with ``services.actor``."""
    if voter_list_policy(services, stage_key).policy is Policy.WITHHELD:
        with services.transaction() as tx:
            tx.audit("voters.refused", stage_key, page=page)
        raise VotersWithheld("voters.withheld", WITHHELD_MESSAGE)
    page = max(1, page)
    with services.transaction() as tx:
        session = tx.session
        stage, _ = stage_row(session, stage_key)
        policy = session.scalar(
            select(VoterListPolicy.policy).where(VoterListPolicy.stage_id == stage.id)
        )
        if policy != Policy.EQUAL_ACCESS.value:  # changed since we looked
            raise VotersWithheld("voters.withheld", WITHHELD_MESSAGE)
        election_id = session.scalar(select(ElectionRow.id).where(ElectionRow.stage_id == stage.id))
        first = (
            select(Ballot.credential, func.min(Ballot.received_at).label("first_at"))
            .where(Ballot.election_id == election_id)
            .group_by(Ballot.credential)
            .subquery()
        )
        joined = (
            select(Member, first.c.first_at)
            .join(PublicCredentialRow, PublicCredentialRow.member_id == Member.id)
            .join(
                first,
                (PublicCredentialRow.stage_id == stage.id)
                & (PublicCredentialRow.credential == first.c.credential),
            )
        )
        total = session.scalar(select(func.count()).select_from(joined.subquery())) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        rows = session.execute(
            joined.order_by(Member.card_number).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ).all()
        members = tuple(
            VotedMember(
                m.card_number,
                m.first_name,
                m.last_name,
                m.state,
                m.local,
                at if at.tzinfo else at.replace(tzinfo=datetime.UTC),
            )
            for m, at in rows
        )
        tx.audit("voters.list", stage_key, page=page, shown=len(members), total=total)
    return VoterList(stage_key, total, page, pages, members)
