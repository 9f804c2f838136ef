"""The report: the IAM's 2024 lines exactly, the footnote, per-party totals, turnout, group
suppression (small and complementary), canonical JSON and escaped HTML."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from unionvote.domain.errors import DomainError
from unionvote.domain.process import Answer, AnswerKind, ReportRules, parse_process
from unionvote.domain.report import (
    Breakdown,
    GroupStatus,
    GroupTally,
    QuestionTally,
    Report,
    Turnout,
    build_report,
)
from unionvote.record.messages import Question

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IAM = parse_process((EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8"))
IAM_QUESTION = IAM.stages[0].questions[0]
IAM_ANSWERS = IAM_QUESTION.answers()

# In proportion 61/17/7/7 of 20,000, the nine others between 0.25% and 1.75%: none above 2%.
IAM_COUNTS = {
    "Joe Biden": 12_200,
    "Donald Trump": 3_400,
    "Robert F. Kennedy Jr.": 1_400,
    "Ron DeSantis": 1_400,
    "Nikki Haley": 350,
    "Vivek Ramaswamy": 300,
    "Dean Phillips": 250,
    "Chris Christie": 200,
    "Marianne Williamson": 150,
    "Mike Pence": 120,
    "Tim Scott": 100,
    "Doug Burgum": 80,
    "Asa Hutchinson": 50,
}
EXPECTED_LINES = [
    "Joe Biden – 61%",
    "Donald Trump – 17%",
    "Robert F. Kennedy Jr. – 7%",
    "Ron DeSantis – 7%",
]


def iam_tally(breakdowns: tuple[Breakdown, ...] = ()) -> QuestionTally:
    counts = tuple(IAM_COUNTS[a.label] for a in IAM_ANSWERS)
    return QuestionTally(
        IAM_QUESTION.question, IAM_ANSWERS, counts, sum(counts), breakdowns=breakdowns
    )


def iam_report(breakdowns: tuple[Breakdown, ...] = (), simulation: bool = False) -> Report:
    turnout = Turnout(20_000, eligible=600_000, registered=50_000)
    return build_report(
        "IAM 2024", [iam_tally(breakdowns)], IAM.report, turnout, simulation=simulation
    )


def test_iam_2024_lines_exactly() -> None:
    text = iam_report().to_text()
    lines = text.splitlines()
    start = lines.index(EXPECTED_LINES[0])
    assert lines[start : start + 5][:4] == EXPECTED_LINES
    assert lines[start + 4].startswith("* Candidates who received more than 2% of the vote")
    assert "rounded to the nearest point" in lines[start + 4]
    assert sum("%" in line and " – " in line for line in lines[: start + 4]) == 4
    assert not text.startswith("SIMULATION")


def test_per_party_totals_and_turnout() -> None:
    report = iam_report()
    (question,) = report.questions
    assert [(p.party, p.percent) for p in question.party_totals] == [
        ("Democratic", 63),  # 12,600 of 20,000
        ("Republican", 30),  # 6,000
        ("Independent", 7),
    ]
    text = report.to_text()
    assert "Totals by party\nDemocratic – 63%\nRepublican – 30%\nIndependent – 7%" in text
    assert "20,000 ballots counted: 3.3% of 600,000 eligible; 40.0% of 50,000 registered" in text
    assert "Asa Hutchinson (Republican): 50" in text  # the exact counts list everyone


def test_iam_2020_party_totals() -> None:
    answers = (
        Answer("Joe Biden", AnswerKind.CANDIDATE, "Democratic"),
        Answer("Bernie Sanders", AnswerKind.CANDIDATE, "Democratic"),
        Answer("Donald Trump", AnswerKind.CANDIDATE, "Republican"),
    )
    tally = QuestionTally("2020", answers, (500, 160, 340), 1_000)
    report = build_report("2020", [tally], ReportRules(), Turnout(1_000), simulation=False)
    assert [(p.party, p.percent) for p in report.questions[0].party_totals] == [
        ("Democratic", 66),
        ("Republican", 34),
    ]


def test_threshold_is_strictly_above_and_rounding_is_half_up() -> None:
    answers = tuple(Answer(x, AnswerKind.CANDIDATE, "P") for x in "ABCD")
    # A: 2% exactly (not listed); B: 2.5% (listed, rounds to 3); C: 95.5% → 96.
    tally = QuestionTally("q", answers, (80, 100, 3_820, 0), 4_000)
    report = build_report("t", [tally], ReportRules(), Turnout(4_000), simulation=True)
    listed = [(x.label, x.percent) for x in report.questions[0].listed]
    assert listed == [("C", 96), ("B", 3)]
    assert report.to_text().startswith("SIMULATION")
    custom = ReportRules(threshold_percent=Fraction(5, 2))
    report = build_report("t", [tally], custom, Turnout(4_000), simulation=False)
    assert [x.label for x in report.questions[0].listed] == ["C"]
    assert "more than 2.5% of the vote" in report.questions[0].footnote


def test_from_result_reads_blank_first() -> None:
    question = Question("q", ("A", "B"), 0, 1, blank=True)
    answers = (Answer("A", AnswerKind.CANDIDATE, "P"), Answer("B", AnswerKind.EXTRA))
    tally = QuestionTally.from_result(question, answers, [5, 60, 40], ballots=105)
    assert (tally.blank, tally.counts) == (5, (60, 40))
    report = build_report("t", [tally], ReportRules(), Turnout(105), simulation=False)
    assert [(x.label, x.percent) for x in report.questions[0].listed] == [("A", 60), ("B", 40)]
    with pytest.raises(DomainError):
        QuestionTally.from_result(question, answers, [60, 40], ballots=100)


def test_issues_question_shares_are_of_ballots() -> None:
    teamsters = parse_process((EXAMPLES / "teamsters-2024.toml").read_text(encoding="utf-8"))
    issues = teamsters.stages[0].questions[1]
    answers = issues.answers()
    counts = (700, 600, 500, 400, 300, 200, 100, 50, 10, 0)
    tally = QuestionTally(issues.question, answers, counts, ballots=1_000, max=5)
    report = build_report("t", [tally], teamsters.report, Turnout(1_000), simulation=False)
    (question,) = report.questions
    assert question.listed[0].label == "Good jobs and wages" and question.listed[0].percent == 70
    assert len(question.listed) == 8  # 1% and 0% are not above 2%
    assert "choose up to 5" in question.footnote and not question.party_totals


def state(name: str, ballots: int, parent: str | None = None) -> GroupTally:
    counts = tuple(0 for _ in IAM_ANSWERS)
    counts = (ballots, *counts[1:])  # all for Biden: the numbers only matter for disclosure
    return GroupTally(name, ballots, counts, parent)


def statuses(report: Report) -> dict[str, GroupStatus]:
    return {
        line.group.name: line.status
        for _, lines in report.questions[0].breakdowns
        for line in lines
    }


def test_small_group_is_hidden_and_a_second_one_too() -> None:
    groups = (state("Ohio", 400), state("Texas", 300), state("Vermont", 60), state("Alaska", 12))
    report = iam_report((Breakdown("state", groups),))
    assert statuses(report) == {
        "Ohio": GroupStatus.SHOWN,
        "Texas": GroupStatus.SHOWN,
        # Alone, Alaska's votes would be the total minus the others: hide the next smallest.
        "Vermont": GroupStatus.COMPLEMENTARY,
        "Alaska": GroupStatus.TOO_SMALL,
    }
    text = report.to_text()
    assert "Alaska: fewer than 50 ballots: not shown" in text
    assert "Vermont: not shown, so that a smaller group cannot be worked out" in text
    assert "Ohio (400 ballots): Joe Biden 100%, Donald Trump 0%" in text
    published = json.loads(report.to_json())
    groups_json = published["questions"][0]["breakdowns"][0]["groups"]
    assert {g["name"] for g in groups_json if "counts" in g} == {"Ohio", "Texas"}
    assert all("ballots" not in g for g in groups_json if g["status"] != "shown")


def test_two_small_groups_still_small_together_hide_more() -> None:
    groups = (state("A", 500), state("B", 200), state("C", 10), state("D", 20))
    assert statuses(iam_report((Breakdown("state", groups),))) == {
        "A": GroupStatus.SHOWN,
        "B": GroupStatus.COMPLEMENTARY,
        "C": GroupStatus.TOO_SMALL,
        "D": GroupStatus.TOO_SMALL,
    }
    groups = (state("A", 500), state("B", 200), state("C", 40), state("D", 45))
    assert statuses(iam_report((Breakdown("state", groups),)))["B"] is GroupStatus.SHOWN


def test_locals_are_protected_within_their_state() -> None:
    locals_ = (
        state("Local 1", 300, "Ohio"),
        state("Local 2", 30, "Ohio"),
        state("Local 3", 80, "Ohio"),
        state("Local 4", 200, "Texas"),
        state("Local 5", 100, "Texas"),
    )
    result = statuses(iam_report((Breakdown("local", locals_),)))
    assert result["Local 2"] is GroupStatus.TOO_SMALL
    assert result["Local 3"] is GroupStatus.COMPLEMENTARY
    assert result["Local 1"] is result["Local 4"] is result["Local 5"] is GroupStatus.SHOWN


def test_json_is_canonical_and_integers_only() -> None:
    report = iam_report(simulation=True)
    raw = report.to_json()
    obj = json.loads(raw)
    assert (
        raw == json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert obj["simulation"] is True and obj["rules"]["threshold_percent"] == "2"
    assert [x["label"] for x in obj["questions"][0]["listed"]] == [
        line.split(" – ")[0] for line in EXPECTED_LINES
    ]
    assert not list(floats(obj))


def floats(value: object) -> Iterator[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from floats(item)
    elif isinstance(value, list):
        for item in value:
            yield from floats(item)


def test_html_escapes_every_name() -> None:
    answers = (
        Answer("<script>alert(1)</script>", AnswerKind.CANDIDATE, 'P"&<'),
        Answer("Bob", AnswerKind.CANDIDATE, "Q"),
    )
    groups = (GroupTally("<b>Ohio</b>", 100, (50, 50)),)
    tally = QuestionTally(
        "<i>q</i>", answers, (60, 40), 100, breakdowns=(Breakdown("state", groups),)
    )
    page = build_report("<Title>", [tally], ReportRules(), Turnout(100), simulation=True).to_html()
    assert "<script>" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; – 60%" in page
    assert "P&quot;&amp;&lt;" in page and "&lt;Title&gt;" in page
    assert "http" not in page and "<link" not in page and "<style" not in page
    assert '<th scope="col">' in page and "<caption>" in page
    assert page.index("Simulation") < page.index("<h1>")


def test_bad_input_is_refused() -> None:
    answers = (Answer("A", AnswerKind.CANDIDATE, "P"),)
    with pytest.raises(DomainError, match="one count per answer"):
        build_report(
            "t",
            [QuestionTally("q", answers, (1, 2), 3)],
            ReportRules(),
            Turnout(3),
            simulation=False,
        )
    twice = Breakdown("state", (GroupTally("X", 60, (60,)), GroupTally("X", 60, (60,))))
    with pytest.raises(DomainError, match="listed twice"):
        build_report(
            "t",
            [QuestionTally("q", answers, (120,), 120, breakdowns=(twice,))],
            ReportRules(),
            Turnout(120),
            simulation=False,
        )
    with pytest.raises(DomainError):
        build_report("t", [], ReportRules(), Turnout(0), simulation=False)
