"""Laws of the report, for any counts: the listed lines are exactly the answers strictly above
the threshold, in descending order; per-party totals add up; no group under the minimum is
ever shown, and hidden groups are never recoverable alone."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.domain.process import Answer, AnswerKind, ReportRules
from unionvote.domain.report import (
    Breakdown,
    GroupStatus,
    GroupTally,
    QuestionTally,
    Turnout,
    build_report,
)

PARTIES = ("Democratic", "Republican", "Independent")

counts_strategy = st.lists(st.integers(0, 5_000), min_size=1, max_size=12)
threshold_strategy = st.fractions(min_value=0, max_value=Fraction(99), max_denominator=4)


def answers(n: int) -> tuple[Answer, ...]:
    return tuple(
        Answer(f"Candidate {i:02}", AnswerKind.CANDIDATE, PARTIES[i % len(PARTIES)])
        for i in range(n)
    )


@settings(max_examples=200, deadline=None)
@given(counts=counts_strategy, threshold=threshold_strategy)
def test_listed_lines_are_exactly_those_above_the_threshold(
    counts: list[int], threshold: Fraction
) -> None:
    labels = answers(len(counts))
    tally = QuestionTally("q", labels, tuple(counts), sum(counts))
    rules = ReportRules(threshold_percent=threshold)
    (question,) = build_report(
        "t", [tally], rules, Turnout(sum(counts)), simulation=False
    ).questions
    total = sum(counts)
    above = {
        a.label
        for a, n in zip(labels, counts, strict=True)
        if total and 100 * n > threshold * total
    }
    assert {line.label for line in question.listed} == above
    by_label = dict(zip((a.label for a in labels), counts, strict=True))
    listed_counts = [by_label[line.label] for line in question.listed]
    assert listed_counts == sorted(listed_counts, reverse=True)
    percents = [line.percent for line in question.listed]
    assert percents == sorted(percents, reverse=True)
    for line in question.listed:
        exact = Fraction(100 * by_label[line.label], total)
        assert abs(line.percent - exact) <= Fraction(1, 2)
    text = build_report("t", [tally], rules, Turnout(total), simulation=False).to_text()
    lines = [f"{line.label} – {line.percent}%" for line in question.listed]
    start = text.splitlines().index("q") + 2
    assert text.splitlines()[start : start + len(lines)] == lines
    assert text.splitlines()[start + len(lines)].startswith("* Candidates who received more")


@settings(max_examples=200, deadline=None)
@given(counts=counts_strategy)
def test_party_totals_add_up(counts: list[int]) -> None:
    labels = answers(len(counts))
    tally = QuestionTally("q", labels, tuple(counts), sum(counts))
    report = build_report("t", [tally], ReportRules(), Turnout(sum(counts)), simulation=False)
    totals = report.questions[0].party_totals
    assert sum(p.count for p in totals) == sum(counts)
    for party in totals:
        assert party.count == sum(
            n for a, n in zip(labels, counts, strict=True) if a.party == party.party
        )
    assert [p.count for p in totals] == sorted((p.count for p in totals), reverse=True)


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 200), min_size=1, max_size=10),
    minimum=st.integers(1, 100),
)
def test_suppression_never_shows_or_exposes_a_small_group(sizes: list[int], minimum: int) -> None:
    labels = answers(2)
    groups = tuple(GroupTally(f"G{i}", n, (n, 0)) for i, n in enumerate(sizes))
    total = sum(sizes)
    tally = QuestionTally("q", labels, (total, 0), total, breakdowns=(Breakdown("state", groups),))
    rules = ReportRules(min_group_size=minimum)
    report = build_report("t", [tally], rules, Turnout(total), simulation=False)
    ((_, lines),) = report.questions[0].breakdowns
    shown = [line for line in lines if line.status is GroupStatus.SHOWN]
    hidden = [line for line in lines if line.status is not GroupStatus.SHOWN]
    assert all(line.group.ballots >= minimum for line in shown)
    assert all(
        line.status is GroupStatus.TOO_SMALL for line in hidden if line.group.ballots < minimum
    )
    if hidden and shown:
        # Hidden groups are never one alone, and together they are not small.
        assert len(hidden) >= 2 and sum(line.group.ballots for line in hidden) >= minimum
    text = report.to_text()
    for line in hidden:
        assert f"{line.group.name} (" not in text
