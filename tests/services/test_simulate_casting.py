"""A simulated vote (``services.simulation.simulate``), on SQLite and PostgreSQL.

Its worker processes make each member's ballots and cast them through ``do_cast`` on their
own connections: every ballot is acknowledged once, a revote is cast after the member's first
ballot (so the result is exactly the planned quotas), and the record verifies.
"""

from __future__ import annotations

import datetime
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_elections import STAGE, make_vote
from test_elections_tally import decrypt

from unionvote.domain.errors import DomainError
from unionvote.domain.simulation import Distribution, allocate
from unionvote.services.elections import (
    do_close,
    do_compute_result,
    do_tally,
    election_status,
    export_record,
)
from unionvote.services.simulation import _shared_database, simulate
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry
from unionvote.verify import verify_record

MEMBERS = 30
SHARES = Distribution(
    {
        "president": {
            "Ann Able": Fraction(1, 2),
            "Bob Baker": Fraction(1, 3),
            "Cy Cole": Fraction(1, 6),
        },
        "issues": {"Jobs": Fraction(1, 2), "Health": Fraction(1, 2)},
    },
    abstain=Fraction(1, 5),
    revote=Fraction(1, 4),
)


def test_a_simulation_casts_every_planned_ballot_and_the_result_is_the_plan(
    database: Database, tmp_path: Path
) -> None:
    vote = make_vote(database, roll=[("MI", "751")] * MEMBERS)
    assert _shared_database(vote.services), "the simulation must cast in its worker processes"
    credentials = dict(zip(vote.cards, vote.credentials, strict=True))
    seen: list[tuple[int, int]] = []
    summary = simulate(
        vote.services,
        STAGE,
        credentials,
        SHARES,
        seed=11,
        workers=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    voting = MEMBERS - round(MEMBERS * SHARES.abstain)
    revotes = round(voting * SHARES.revote)
    assert (summary.members, summary.voted, summary.abstained) == (MEMBERS, voting, 6)
    assert (summary.revotes, summary.ballots_cast) == (revotes, voting + revotes)
    assert seen[-1] == (summary.ballots_cast, summary.ballots_cast)

    status = election_status(vote.services, STAGE)
    assert (status.ballots_received, status.counted) == (summary.ballots_cast, voting)
    with database.transaction() as session:
        audited = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "ballot.cast")
        )
        assert audited == summary.ballots_cast
        # the worker processes ran with this services' clock and actor
        actors = set(
            session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "ballot.cast"))
        )
        assert actors == {vote.services.actor}

    vote.clock.advance(days=7)
    do_close(vote.services, STAGE)
    do_tally(vote.services, STAGE)
    decrypt(vote)
    result = do_compute_result(vote.services, STAGE)
    # The last ballot of each member counts: the final choices are the exact quotas.
    assert list(result.result[0]) == allocate(
        voting, [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)]
    )
    assert list(result.result[1]) == [*allocate(voting, [Fraction(1, 2)] * 2), 0]

    exported = export_record(vote.services, STAGE, tmp_path / "record.bel")
    report = verify_record(exported.path)
    assert report.ok, report.verdict()


def test_a_refused_ballot_stops_the_simulation_with_its_reason(database: Database) -> None:
    vote = make_vote(database, roll=[("MI", "751")] * 6)
    credentials = dict(zip(vote.cards, vote.credentials, strict=True))
    vote.clock.current = vote.clock.current + datetime.timedelta(days=30)  # after the window
    with pytest.raises(DomainError) as refused:
        simulate(vote.services, STAGE, credentials, SHARES, seed=3, workers=2)
    assert refused.value.check == "ballot.window"
    assert election_status(vote.services, STAGE).ballots_received == 0
