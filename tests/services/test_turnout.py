"""Turnout over time by state: aggregates only, a small state never shown on its own, a member
who votes again counted once, at the time of their first ballot."""

from __future__ import annotations

import datetime

from test_elections import NONE, OPENS, A, make_vote

from unionvote.services.turnout import OTHER_STATES, turnout
from unionvote.storage.database import Database

HOUR = datetime.timedelta(hours=1)


def cast_at(vote, hour: int, voters: list[int]) -> None:
    vote.clock.current = OPENS + hour * HOUR + datetime.timedelta(minutes=10)
    for voter in voters:
        vote.cast(voter, (A, NONE))


def test_small_states_join_the_other_states_and_so_may_the_smallest(database: Database) -> None:
    # The roll: members 0-6 in MI, 7-10 in OH, 11 in WY, 12 with no state; minimum 2.
    vote = make_vote(database, minimum=2)
    cast_at(vote, 1, [0, 1, 2])
    cast_at(vote, 2, [7, 8, 11])
    cast_at(vote, 3, [0, 12])  # member 0 votes again: still counted once, in hour 1
    result = turnout(vote.services, "membership-vote")
    assert result.bucket == "hour" and result.min_group_size == 2
    assert result.periods == tuple(OPENS + h * HOUR for h in (1, 2, 3))
    # WY and no-state (2 voters of 2) would be an "other" group where everyone voted: OH
    # (2 of 4, the smallest shown) joins them, so the other group has 4 voters of 6.
    shown = {g.label: (g.voters, g.credentials, g.per_period) for g in result.groups}
    assert shown == {
        "MI": (3, 7, (3, 0, 0)),
        OTHER_STATES: (4, 6, (0, 3, 1)),
    }
    assert [g.label for g in result.groups] == ["MI", OTHER_STATES]
    assert result.voters == 7 and result.credentials == 13
    assert result.per_period == (3, 3, 1)
    assert all(g.voters >= 2 and g.credentials - g.voters >= 2 for g in result.groups)


def test_no_group_says_that_nobody_in_it_voted(database: Database) -> None:
    vote = make_vote(database, minimum=2)
    cast_at(vote, 1, [0, 1, 2, 3, 7, 8])
    result = turnout(vote.services, "membership-vote", bucket="day")
    assert result.bucket == "day"
    assert result.periods == (OPENS.replace(hour=0),)
    # WY and no-state voted 0 times: shown alone as 0 of 2 that would tell; OH joins them.
    shown = {g.label: (g.voters, g.credentials) for g in result.groups}
    assert shown == {"MI": (4, 7), OTHER_STATES: (2, 6)}


def test_no_group_says_that_everyone_in_it_voted(database: Database) -> None:
    """Every member in OH voted: "4 of 4" would tell each one's choice to vote, so OH is
    not shown on its own, however many voted."""
    vote = make_vote(database, minimum=2)
    cast_at(vote, 1, [0, 1, 2, 7, 8, 9, 10])
    result = turnout(vote.services, "membership-vote")
    shown = {g.label: (g.voters, g.credentials) for g in result.groups}
    assert shown == {"MI": (3, 7), OTHER_STATES: (4, 6)}


def test_every_state_large_enough_both_ways_is_shown(database: Database) -> None:
    vote = make_vote(database, minimum=1)
    cast_at(vote, 1, [0, 1, 2, 3, 4, 5, 7, 8, 9, 12])
    result = turnout(vote.services, "membership-vote")
    labels = [g.label for g in result.groups]
    # WY (0 of 1) and no-state (1 of 1) go together: 1 of 2
    assert labels == ["MI", "OH", OTHER_STATES]
    assert [(g.voters, g.credentials) for g in result.groups] == [(6, 7), (3, 4), (1, 2)]


def test_when_every_member_voted_only_the_totals_are_shown(database: Database) -> None:
    vote = make_vote(database, minimum=1)
    cast_at(vote, 1, list(range(13)))
    result = turnout(vote.services, "membership-vote")
    assert [(g.label, g.voters, g.credentials) for g in result.groups] == [(OTHER_STATES, 13, 13)]
    assert result.groups[0].percent == 100.0


def test_before_any_ballot(database: Database) -> None:
    vote = make_vote(database, minimum=3, set_up=False)
    result = turnout(vote.services, "membership-vote")
    assert result.voters == 0 and result.periods == ()
    assert [(g.label, g.voters, g.credentials) for g in result.groups] == [(OTHER_STATES, 0, 13)]
