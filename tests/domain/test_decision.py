"""Council decisions: each rule with and without weights, ties, no endorsement as an outcome;
and the finalists derived from the membership vote."""

from __future__ import annotations

import pytest

from unionvote.domain.decision import (
    CouncilVote,
    DecisionRule,
    decide,
    tally_council_votes,
    top_vote_getters_by_party,
)
from unionvote.domain.errors import DomainError

MAJORITY = DecisionRule.SIMPLE_MAJORITY
TWO_THIRDS = DecisionRule.TWO_THIRDS
UNANIMITY = DecisionRule.UNANIMITY


def test_unanimous_council_endorses() -> None:
    decision = decide({"Joe Biden": 40, "Donald Trump": 0}, UNANIMITY)
    assert decision.endorsed == "Joe Biden" and not decision.no_endorsement
    assert decision.reason == "Joe Biden is endorsed by 40 of 40 votes (unanimity)."


def test_simple_majority_needs_more_than_half() -> None:
    assert decide({"A": 11, "B": 10}, MAJORITY).endorsed == "A"
    split = decide({"A": 10, "B": 10}, MAJORITY)
    assert split.no_endorsement and "tied" in split.reason
    plurality = decide({"A": 10, "B": 6, "C": 5}, MAJORITY)
    assert plurality.no_endorsement
    assert "needs more than half" in plurality.reason and "A had 10 of 21 votes" in plurality.reason


def test_two_thirds_boundary() -> None:
    assert decide({"A": 20, "B": 10}, TWO_THIRDS).endorsed == "A"  # exactly two thirds
    assert decide({"A": 19, "B": 10}, TWO_THIRDS).no_endorsement


def test_unanimity_failing_is_no_endorsement() -> None:
    decision = decide({"A": 39, "B": 1}, UNANIMITY)
    assert decision.endorsed is None
    assert decision.reason.startswith("No endorsement: unanimity needs every one")


def test_council_may_choose_no_endorsement() -> None:
    decision = decide({"A": 3, "No endorsement": 7}, MAJORITY)
    assert decision.no_endorsement and "the council chose it" in decision.reason


def test_no_votes_is_no_endorsement() -> None:
    assert decide({}, MAJORITY).no_endorsement
    with pytest.raises(DomainError):
        decide({"A": -1}, MAJORITY)


def test_weights_change_the_outcome() -> None:
    votes = [
        CouncilVote("big local", "A", weight=70),
        CouncilVote("small 1", "B", weight=20),
        CouncilVote("small 2", "B", weight=10),
        CouncilVote("abstains", None, weight=50),
    ]
    heads = tally_council_votes(votes, weighted=False)
    assert heads == {"A": 1, "B": 2}
    assert decide(heads, TWO_THIRDS).endorsed == "B"
    weights = tally_council_votes(votes, weighted=True)
    assert weights == {"A": 70, "B": 30}  # blank votes are not votes cast
    decision = decide(weights, TWO_THIRDS, weighted=True)
    assert decision.endorsed == "A" and "70 of 100 weighted votes" in decision.reason
    assert decide(weights, UNANIMITY, weighted=True).no_endorsement


def test_a_member_votes_once() -> None:
    with pytest.raises(DomainError, match="voted twice"):
        tally_council_votes([CouncilVote("x", "A"), CouncilVote("x", "B")], weighted=False)


IAM = [
    ("Joe Biden", "Democratic"),
    ("Dean Phillips", "Democratic"),
    ("Donald Trump", "Republican"),
    ("Ron DeSantis", "Republican"),
    ("Robert F. Kennedy Jr.", "Independent"),
    ("No endorsement", None),
]


def test_top_vote_getter_of_each_party() -> None:
    finalists = top_vote_getters_by_party([12_200, 250, 3_400, 1_400, 1_400, 9_999], IAM)
    assert finalists.candidates == (
        ("Joe Biden", "Democratic"),
        ("Donald Trump", "Republican"),
        ("Robert F. Kennedy Jr.", "Independent"),
    )
    assert finalists.ties == ()


def test_tied_top_vote_getters_all_go_forward() -> None:
    finalists = top_vote_getters_by_party([100, 20, 50, 50, 0, 0], IAM)
    assert finalists.candidates == (
        ("Joe Biden", "Democratic"),
        ("Donald Trump", "Republican"),
        ("Ron DeSantis", "Republican"),
    )  # the Independent got no votes: nobody goes forward for that party
    assert finalists.ties == (("Republican", ("Donald Trump", "Ron DeSantis")),)
    with pytest.raises(DomainError):
        top_vote_getters_by_party([1, 2], IAM)
