"""Turnout over time by state, as aggregates only, for the committee's and observers' pages.

A member has voted from the time their *first* accepted ballot was received (a member who
votes again is not counted twice, and a later ballot does not move them in time). Members are
placed in their state through their public credential (``public_credentials.member_id``).
A state with fewer voters, or fewer members who have *not* voted, than the process's
``min_group_size`` is never shown on its own: it joins "other states together"; if that group
would itself be small either way (and not empty), the smallest shown states join it too, until
it is not. Only counts per group and per hour (or
day) leave this module.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy import func, select

from unionvote.services.context import Services
from unionvote.services.process import load_process, stage_row
from unionvote.storage.models import Ballot, ElectionRow, Member, PublicCredentialRow

__all__ = ["NO_STATE", "OTHER_STATES", "Bucket", "Turnout", "TurnoutGroup", "turnout"]

OTHER_STATES: Final = "other states together"
NO_STATE: Final = "no state on the roll"
Bucket = Literal["hour", "day"]
_BATCH: Final = 5000


@dataclass(frozen=True, slots=True)
class TurnoutGroup:
    label: str  # a state, or OTHER_STATES
    voters: int  # members who have voted
    credentials: int  # members with a credential for the stage
    per_period: tuple[int, ...]  # members who first voted in each period of Turnout.periods

    @property
    def percent(self) -> float | None:
        return 100 * self.voters / self.credentials if self.credentials else None


@dataclass(frozen=True, slots=True)
class Turnout:
    stage: str
    bucket: Bucket
    min_group_size: int
    periods: tuple[datetime.datetime, ...]  # the start of each hour or day (UTC)
    groups: tuple[TurnoutGroup, ...]  # shown states by name, then OTHER_STATES if any
    voters: int
    credentials: int

    @property
    def per_period(self) -> tuple[int, ...]:
        """Members who first voted in each period, all groups together."""
        return tuple(sum(g.per_period[i] for g in self.groups) for i in range(len(self.periods)))


def _truncate(at: datetime.datetime, bucket: Bucket) -> datetime.datetime:
    at = at.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


def _merge_small(voters: Counter[str], credentials: Counter[str], minimum: int) -> dict[str, str]:
    """Each state's group label: itself if shown, else OTHER_STATES.

    A group is shown only with at least ``minimum`` members who voted *and* at least
    ``minimum`` who did not: "3 of 3 voted in WY" tells as much about each of them as "0 of 3".
    The other group is held to the same rule (unless it is empty): the smallest shown states
    join it until it holds, or until it is every state (the stage's own totals)."""

    def safe(voted: int, eligible: int) -> bool:
        return voted >= minimum and eligible - voted >= minimum

    shown = sorted(
        (s for s in voters if safe(voters[s], credentials[s])), key=lambda s: (voters[s], s)
    )
    other_voters = sum(n for s, n in voters.items() if s not in shown)
    other_credentials = sum(n for s, n in credentials.items() if s not in shown)
    while shown and other_credentials and not safe(other_voters, other_credentials):
        joining = shown.pop(0)
        other_voters += voters[joining]
        other_credentials += credentials[joining]
    return {state: state if state in shown else OTHER_STATES for state in voters | credentials}


def turnout(services: Services, stage_key: str, *, bucket: Bucket | None = None) -> Turnout:
    """Members who have voted in the stage, per state (small states merged) and per hour or
    day (``bucket``; by default hours when voting has lasted at most two days)."""
    with services.db.sessions() as session:
        minimum = load_process(session).process.report.min_group_size
        stage, _ = stage_row(session, stage_key)
        election_id = session.scalar(select(ElectionRow.id).where(ElectionRow.stage_id == stage.id))
        credentials: Counter[str] = Counter()
        for state, count in session.execute(
            select(Member.state, func.count())
            .join(PublicCredentialRow, PublicCredentialRow.member_id == Member.id)
            .where(PublicCredentialRow.stage_id == stage.id)
            .group_by(Member.state)
        ):
            credentials[state or NO_STATE] += int(count)
        firsts: list[tuple[str, datetime.datetime]] = []
        if election_id is not None:
            first_ballot = (
                select(Ballot.credential, func.min(Ballot.received_at).label("first_at"))
                .where(Ballot.election_id == election_id)
                .group_by(Ballot.credential)
                .subquery()
            )
            query = (
                select(Member.state, first_ballot.c.first_at)
                .join(
                    PublicCredentialRow,
                    (PublicCredentialRow.stage_id == stage.id)
                    & (PublicCredentialRow.credential == first_ballot.c.credential),
                )
                .join(Member, Member.id == PublicCredentialRow.member_id)
                .execution_options(yield_per=_BATCH)
            )
            for state, first_at in session.execute(query):
                firsts.append((state or NO_STATE, _as_utc(first_at)))
    if bucket is None:
        span = max(at for _, at in firsts) - min(at for _, at in firsts) if firsts else None
        bucket = "hour" if span is None or span <= datetime.timedelta(days=2) else "day"
    voters = Counter(state for state, _ in firsts)
    label_of = _merge_small(voters, credentials, minimum)
    periods = sorted({_truncate(at, bucket) for _, at in firsts})
    index = {period: i for i, period in enumerate(periods)}
    counts: dict[str, list[int]] = {}
    for state, at in firsts:
        counts.setdefault(label_of[state], [0] * len(periods))[index[_truncate(at, bucket)]] += 1
    credentials_of: Counter[str] = Counter()
    for state, count in credentials.items():
        credentials_of[label_of[state]] += count
    labels = sorted(label for label in counts if label != OTHER_STATES)
    if OTHER_STATES in counts or credentials_of[OTHER_STATES]:
        labels.append(OTHER_STATES)
    groups = tuple(
        TurnoutGroup(
            label,
            sum(counts.get(label, ())),
            credentials_of[label],
            tuple(counts.get(label, [0] * len(periods))),
        )
        for label in labels
    )
    return Turnout(
        stage_key,
        bucket,
        minimum,
        tuple(periods),
        groups,
        len(firsts),
        sum(credentials.values()),
    )


def _as_utc(at: datetime.datetime) -> datetime.datetime:
    # min() over the column comes back without the column's type on some backends
    if isinstance(at, str):  # pragma: no cover - SQLite without type information
        at = datetime.datetime.fromisoformat(at)
    return at.replace(tzinfo=datetime.UTC) if at.tzinfo is None else at.astimezone(datetime.UTC)
