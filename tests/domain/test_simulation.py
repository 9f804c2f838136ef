"""The simulation's plan: exact quotas, seeded, abstentions and revotes as asked."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unionvote.domain.errors import DomainError
from unionvote.domain.simulation import allocate, parse_distribution, plan_votes

EXAMPLE = Path(__file__).parents[2] / "examples" / "iam-2024-shares.toml"


@given(
    st.integers(0, 5000),
    st.lists(st.fractions(min_value=0, max_value=100), min_size=1, max_size=12).filter(
        lambda s: sum(s) > 0
    ),
)
def test_allocation_adds_up_and_is_within_one_of_the_quota(
    total: int, shares: list[Fraction]
) -> None:
    counts = allocate(total, shares)
    assert sum(counts) == total
    for count, share in zip(counts, shares, strict=True):
        assert abs(count - total * share / sum(shares)) < 1


def test_the_iam_shares_come_out_exactly() -> None:
    distribution = parse_distribution(EXAMPLE.read_text(), stage="membership-vote")
    labels = list(distribution.shares["president"])
    counts = allocate(10_000, distribution.for_question("president", labels))
    assert dict(zip(labels, counts, strict=True))["Joe Biden"] == 6100
    assert distribution.abstain == Fraction(22, 100)


@given(st.integers(1, 400), st.integers(0, 2**32))
def test_plans_follow_the_rates(voters: int, seed: int) -> None:
    shares = [Fraction(61), Fraction(17), Fraction(22)]
    plans = plan_votes(voters, shares, abstain=Fraction(1, 5), revote=Fraction(1, 10), seed=seed)
    assert len(plans) == voters - round(voters * Fraction(1, 5))
    assert len({p.voter for p in plans}) == len(plans)
    assert sum(len(p.choices) == 2 for p in plans) == round(len(plans) * Fraction(1, 10))
    assert all(p.choices[0] != p.choices[-1] for p in plans if len(p.choices) == 2)
    finals = [p.choices[-1] for p in plans]
    assert [finals.count(i) for i in range(3)] == allocate(len(plans), shares)
    assert plans == plan_votes(
        voters, shares, abstain=Fraction(1, 5), revote=Fraction(1, 10), seed=seed
    )


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("[x]\n", "simulation.shares"),
        ("[s]\nabstain = 120\n[s.shares.q]\na = 1\n", "simulation.rate"),
        ("[s.shares.q]\na = -1\n", "simulation.share"),
        ("[s.shares.q]\na = 'many'\n", "simulation.share"),
        ("[s.shares.q]\na = 0\n", "simulation.shares"),
        ("not toml = [", "simulation.file"),
    ],
)
def test_bad_distributions_are_refused(text: str, check: str) -> None:
    stage = "x" if text.startswith("[x]") else "s"
    with pytest.raises(DomainError) as caught:
        parse_distribution(text, stage=stage)
    assert caught.value.check == check


def test_an_answer_not_on_the_ballot_is_named() -> None:
    distribution = parse_distribution("[s.shares.q]\nNobody = 1\n", stage="s")
    with pytest.raises(DomainError, match="Nobody"):
        distribution.for_question("q", ["Joe Biden"])
