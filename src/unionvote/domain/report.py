"""The published report of a vote, in the IAM's format (issue 3, §8), computed only from the
result, the process's report rules and the published counts.

- One line per answer whose exact share is *strictly* above the threshold (default 2%),
  ``Joe Biden – 61%``, in descending order, then a footnote that states the threshold and the
  rounding: to the nearest whole point, halves away from zero, computed exactly (fractions,
  never floats).
- Shares are of the votes for an answer (blank ballots are not votes). On a question where a
  member may choose several answers (an issues question), shares are of the ballots cast on
  that question, so they add up to more than 100%.
- Per-party totals, turnout against the eligible and the registered, the exact counts.
- Results by group (state, local): a group of fewer than ``min_group_size`` ballots is never
  shown, nor any group whose hiding is needed to stop a small one being worked out by
  subtraction (see ``_suppress``).

``Report.to_text()``, ``to_json()`` (canonical bytes, for a hashed file beside the record) and
``to_html()`` (a self-contained page; every name is escaped) render the same content; the JSON
also names the stage and the SHA-256 of every published file the report derives from
(``sources``), so that a verifier can rebuild it from exactly those files.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Any

from unionvote.domain.errors import DomainError
from unionvote.domain.process import Answer, AnswerKind, ReportRules
from unionvote.record.messages import Question

__all__ = [
    "Breakdown",
    "GroupStatus",
    "GroupTally",
    "QuestionTally",
    "Report",
    "Turnout",
    "build_report",
    "one_decimal_percent",
    "whole_percent",
]

DASH = "–"  # the IAM writes an en dash


@dataclass(frozen=True, slots=True)
class GroupTally:
    """The counts of one group (a state, or a local within ``parent``, its state)."""

    name: str
    ballots: int
    counts: tuple[int, ...]
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Breakdown:
    dimension: str  # "state", "local"
    groups: tuple[GroupTally, ...]


@dataclass(frozen=True, slots=True)
class QuestionTally:
    """A question's result with its answers labelled; ``ballots`` counted on it, ``blank`` of
    them blank; ``max`` is how many answers a member could choose."""

    question: str
    answers: tuple[Answer, ...]
    counts: tuple[int, ...]
    ballots: int
    blank: int = 0
    max: int = 1
    breakdowns: tuple[Breakdown, ...] = ()

    @classmethod
    def from_result(
        cls,
        question: Question,
        answers: Sequence[Answer],
        row: Sequence[int],
        ballots: int,
        breakdowns: Sequence[Breakdown] = (),
    ) -> QuestionTally:
        """From one row of the record's ``result``: the blank count comes first if the
        question allows blank (Belenios's order)."""
        if len(answers) != len(question.answers) or len(row) != len(answers) + question.blank:
            raise DomainError("report.result", "the result does not match the question")
        blank = row[0] if question.blank else 0
        counts = tuple(row[1:] if question.blank else row)
        return cls(
            question.question,
            tuple(answers),
            counts,
            ballots,
            blank,
            question.max,
            tuple(breakdowns),
        )


@dataclass(frozen=True, slots=True)
class Turnout:
    ballots: int
    eligible: int | None = None
    registered: int | None = None
    weight: int | None = None  # a weighted vote: the votes the counted ballots carry in all


class GroupStatus(Enum):
    SHOWN = "shown"
    TOO_SMALL = "too small"
    COMPLEMENTARY = "hidden to protect a smaller group"


@dataclass(frozen=True, slots=True)
class ListedLine:
    label: str
    percent: int


@dataclass(frozen=True, slots=True)
class PartyTotal:
    party: str
    count: int
    percent: int


@dataclass(frozen=True, slots=True)
class GroupLine:
    group: GroupTally
    status: GroupStatus
    percents: tuple[ListedLine, ...]  # only when shown


@dataclass(frozen=True, slots=True)
class QuestionReport:
    tally: QuestionTally
    denominator: int
    listed: tuple[ListedLine, ...]
    party_totals: tuple[PartyTotal, ...]
    footnote: str
    breakdowns: tuple[tuple[str, tuple[GroupLine, ...]], ...]


def _round(share: Fraction) -> int:
    """To the nearest whole number, halves away from zero (shares are never negative)."""
    return math.floor(share + Fraction(1, 2))


def _percent(count: int, denominator: int) -> Fraction:
    return Fraction(100 * count, denominator) if denominator else Fraction(0)


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def _one_decimal(share: Fraction) -> str:
    tenths = math.floor(share * 10 + Fraction(1, 2))
    return f"{tenths // 10}.{tenths % 10}"


def whole_percent(count: int, denominator: int) -> int:
    """``count`` of ``denominator`` as the report rounds a share: to the nearest point, exactly."""
    return _round(_percent(count, denominator))


def one_decimal_percent(count: int, denominator: int) -> str:
    """``count`` of ``denominator`` to one decimal, as the report writes turnout."""
    return _one_decimal(_percent(count, denominator))


def _suppress(groups: Sequence[GroupTally], minimum: int) -> dict[int, GroupStatus]:
    """Which groups (by index) to hide. A group under ``minimum`` ballots is hidden. Within one
    parent total that is published, a single hidden group could be recovered by subtracting
    the others, and several hidden groups that are small *together* expose a small group too:
    so the smallest shown groups are hidden as well until at least two are hidden and their
    ballots together reach ``minimum``."""
    status = {i: GroupStatus.SHOWN for i in range(len(groups))}
    parents: dict[str | None, list[int]] = {}
    for i, group in enumerate(groups):
        parents.setdefault(group.parent, []).append(i)
    for members in parents.values():
        hidden = [i for i in members if groups[i].ballots < minimum]
        for i in hidden:
            status[i] = GroupStatus.TOO_SMALL
        if not hidden:
            continue
        shown = sorted(
            (i for i in members if groups[i].ballots >= minimum),
            key=lambda i: (groups[i].ballots, groups[i].name),
        )
        total = sum(groups[i].ballots for i in hidden)
        count = len(hidden)
        while shown and (count == 1 or total < minimum):
            i = shown.pop(0)
            status[i] = GroupStatus.COMPLEMENTARY
            total += groups[i].ballots
            count += 1
    return status


def _check(tally: QuestionTally) -> None:
    n = len(tally.answers)
    if len(tally.counts) != n or any(c < 0 for c in tally.counts) or tally.ballots < 0:
        raise DomainError("report.result", f"{tally.question!r}: one count per answer, none < 0")
    for breakdown in tally.breakdowns:
        keys = [(g.parent, g.name) for g in breakdown.groups]
        if len(set(keys)) != len(keys):
            raise DomainError("report.groups", f"{breakdown.dimension}: a group is listed twice")
        if any(len(g.counts) != n or g.ballots < 0 for g in breakdown.groups):
            raise DomainError("report.groups", f"{breakdown.dimension}: one count per answer")


def _question_report(tally: QuestionTally, rules: ReportRules) -> QuestionReport:
    _check(tally)
    single = tally.max == 1
    denominator = sum(tally.counts) if single else tally.ballots - tally.blank
    order = sorted(
        range(len(tally.answers)), key=lambda i: (-tally.counts[i], tally.answers[i].label)
    )
    listed = tuple(
        ListedLine(tally.answers[i].label, _round(_percent(tally.counts[i], denominator)))
        for i in order
        if _percent(tally.counts[i], denominator) > rules.threshold_percent
    )
    kinds = {a.kind for a in tally.answers}
    who = "Candidates who" if kinds == {AnswerKind.CANDIDATE} else "Answers that"
    footnote = (
        f"* {who} received more than {_number(rules.threshold_percent)}% of the vote are "
        "listed; percentages are rounded to the nearest point (halves rounded up)."
    )
    if not single:
        footnote += (
            f" Each member could choose up to {tally.max}, so percentages are of the "
            f"{denominator:,} ballots cast on this question and add up to more than 100%."
        )
    parties: dict[str, int] = {}
    if rules.party_totals and single:
        for answer, count in zip(tally.answers, tally.counts, strict=True):
            if answer.party is not None:
                parties[answer.party] = parties.get(answer.party, 0) + count
    party_totals = tuple(
        PartyTotal(p, n, _round(_percent(n, denominator)))
        for p, n in sorted(parties.items(), key=lambda item: (-item[1], item[0]))
    )
    listed_indices = [i for i in order if tally.answers[i].label in {x.label for x in listed}]
    breakdowns = []
    for breakdown in tally.breakdowns:
        status = _suppress(breakdown.groups, rules.min_group_size)
        lines = []
        for i, group in enumerate(breakdown.groups):
            percents: tuple[ListedLine, ...] = ()
            if status[i] is GroupStatus.SHOWN:
                own = sum(group.counts) if single else group.ballots
                percents = tuple(
                    ListedLine(tally.answers[j].label, _round(_percent(group.counts[j], own)))
                    for j in listed_indices
                )
            lines.append(GroupLine(group, status[i], percents))
        breakdowns.append((breakdown.dimension, tuple(lines)))
    return QuestionReport(tally, denominator, listed, party_totals, footnote, tuple(breakdowns))


@dataclass(frozen=True, slots=True)
class Report:
    """A stage's report. ``sources`` maps each input's name (``record``, ``process``…) to its
    SHA-256 in hex, or to None when the stage published no such file."""

    title: str
    simulation: bool
    rules: ReportRules
    turnout: Turnout
    questions: tuple[QuestionReport, ...]
    stage: str | None = None
    sources: tuple[tuple[str, str | None], ...] = ()

    def chart_description(self) -> str:
        """What the chart shows, in words: the alternative text of the chart image."""
        parts = []
        for q in self.questions:
            bars = ", ".join(f"{x.label} {x.percent}%" for x in q.listed) or "nobody listed"
            parts.append(f"{q.tally.question}: {bars}.")
            if q.party_totals:
                totals = ", ".join(f"{p.party} {p.percent}%" for p in q.party_totals)
                parts.append(f"Totals by party: {totals}.")
        prefix = "Simulation. " if self.simulation else ""
        return prefix + "Bar chart of the listed results. " + " ".join(parts)

    def _turnout_parts(self) -> list[tuple[str, int, str]]:
        parts = []
        for what, total in (
            ("eligible", self.turnout.eligible),
            ("registered", self.turnout.registered),
        ):
            if total:
                parts.append((what, total, _one_decimal(_percent(self.turnout.ballots, total))))
        return parts

    def to_text(self) -> str:
        out: list[str] = []
        if self.simulation:
            out.append("SIMULATION – not a real vote; these are not real results")
        out += [self.title, ""]
        for q in self.questions:
            out += [q.tally.question, ""]
            out += [f"{line.label} {DASH} {line.percent}%" for line in q.listed]
            out += [q.footnote, ""]
            if q.party_totals:
                out.append("Totals by party")
                out += [f"{p.party} {DASH} {p.percent}%" for p in q.party_totals]
                out.append("")
            out.append("Exact counts")
            for answer, count in zip(q.tally.answers, q.tally.counts, strict=True):
                party = f" ({answer.party})" if answer.party else ""
                out.append(f"{answer.label}{party}: {count:,}")
            if q.tally.blank:
                out.append(f"Blank: {q.tally.blank:,}")
            out.append(f"Ballots counted: {q.tally.ballots:,}")
            if self.turnout.weight is not None:
                out.append(
                    f"Weighted vote: these ballots carry {self.turnout.weight:,} votes in all; "
                    "the counts and percentages are of votes, not ballots."
                )
            out.append("")
            for dimension, lines in q.breakdowns:
                if not lines:
                    out += [
                        f"Results by {dimension}: not shown, since no group reached "
                        f"{self.rules.min_group_size} ballots.",
                        "",
                    ]
                    continue
                out.append(
                    f"Results by {dimension} (groups of fewer than "
                    f"{self.rules.min_group_size} ballots are not shown)"
                )
                out += [self._group_text(line) for line in lines]
                out.append("")
        out.append("Turnout")
        parts = [f"{pct}% of {total:,} {what}" for what, total, pct in self._turnout_parts()]
        out.append(
            f"{self.turnout.ballots:,} ballots counted"
            + (": " + "; ".join(parts) if parts else ".")
        )
        published = [(name, value) for name, value in self.sources if value is not None]
        if published:
            out += ["", "Derived only from these published files (SHA-256; φ for the election)"]
            out += [f"{name}: {value}" for name, value in published]
        return "\n".join(out) + "\n"

    def _group_text(self, line: GroupLine) -> str:
        name = line.group.name + (f" ({line.group.parent})" if line.group.parent else "")
        if line.status is GroupStatus.TOO_SMALL:
            return f"{name}: fewer than {self.rules.min_group_size} ballots: not shown"
        if line.status is GroupStatus.COMPLEMENTARY:
            return f"{name}: not shown, so that a smaller group cannot be worked out by subtraction"
        shares = ", ".join(f"{p.label} {p.percent}%" for p in line.percents)
        return f"{name} ({line.group.ballots:,} ballots): {shares}"

    def to_json(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces, UTF-8, integers and strings only)."""
        obj = {
            "title": self.title,
            "stage": self.stage,
            "sources": dict(self.sources),
            "simulation": self.simulation,
            "rules": {
                "threshold_percent": _number(self.rules.threshold_percent),
                "rounding": self.rules.rounding,
                "min_group_size": self.rules.min_group_size,
                "party_totals": self.rules.party_totals,
            },
            "turnout": {
                "ballots": self.turnout.ballots,
                "eligible": self.turnout.eligible,
                "registered": self.turnout.registered,
                "weight": self.turnout.weight,
            },
            "questions": [_question_json(q) for q in self.questions],
        }
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def to_html(self, chart: str | None = None) -> str:
        """A self-contained page: no scripts, styles or links outside it; names escaped.
        ``chart`` names the chart image published beside the page (``report.png``), shown
        with :meth:`chart_description` as its alternative text."""

        def e(text: object) -> str:
            return html.escape(str(text), quote=True)

        out = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            f'<head><meta charset="utf-8"><title>{e(self.title)}</title></head>',
            "<body>",
        ]
        if self.simulation:
            out.append('<p role="note"><strong>Simulation</strong>: not a real vote.</p>')
        out.append(f"<h1>{e(self.title)}</h1>")
        if chart is not None:
            out.append(
                f'<figure><img src="{e(chart)}" alt="{e(self.chart_description())}">'
                "<figcaption>The listed results as bars (percent).</figcaption></figure>"
            )
        for q in self.questions:
            out.append(f"<section><h2>{e(q.tally.question)}</h2>")
            out.append(
                "<ul>"
                + "".join(f"<li>{e(x.label)} {DASH} {x.percent}%</li>" for x in q.listed)
                + "</ul>"
            )
            out.append(f"<p>{e(q.footnote)}</p>")
            if q.party_totals:
                shares = [(p.party, f"{p.percent}%") for p in q.party_totals]
                out.append(_table("Totals by party", ("Party", "Share"), shares, e))
            rows = [
                (a.label, a.party or "", f"{n:,}")
                for a, n in zip(q.tally.answers, q.tally.counts, strict=True)
            ]
            rows.append(("Ballots counted", "", f"{q.tally.ballots:,}"))
            if self.turnout.weight is not None:
                rows.append(
                    ("Votes these ballots carry (weighted vote)", "", f"{self.turnout.weight:,}")
                )
            out.append(_table("Exact counts", ("Answer", "Party", "Votes"), rows, e))
            for dimension, lines in q.breakdowns:
                if not lines:
                    out.append(
                        f"<p>{e(f'Results by {dimension}: not shown, since no group reached')} "
                        f"{self.rules.min_group_size:,} ballots.</p>"
                    )
                    continue
                out.append(
                    _table(
                        f"Results by {dimension}",
                        (dimension.capitalize(), "Result"),
                        [(line.group.name, self._group_text(line)) for line in lines],
                        e,
                    )
                )
            out.append("</section>")
        parts = [f"{pct}% of {total:,} {what}" for what, total, pct in self._turnout_parts()]
        out.append(
            f"<p>Turnout: {self.turnout.ballots:,} ballots counted; {e('; '.join(parts))}</p>"
        )
        out += ["</body>", "</html>"]
        return "\n".join(out) + "\n"


def _table(
    caption: str, head: Sequence[str], rows: Sequence[Sequence[str]], e: Callable[[object], str]
) -> str:
    header = "".join(f'<th scope="col">{e(h)}</th>' for h in head)
    body = "".join(
        "<tr>"
        + f'<th scope="row">{e(r[0])}</th>'
        + "".join(f"<td>{e(c)}</td>" for c in r[1:])
        + "</tr>"
        for r in rows
    )
    return (
        f"<table><caption>{e(caption)}</caption><thead><tr>{header}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _question_json(q: QuestionReport) -> dict[str, Any]:
    return {
        "question": q.tally.question,
        "ballots": q.tally.ballots,
        "blank": q.tally.blank,
        "max": q.tally.max,
        "denominator": q.denominator,
        "listed": [{"label": x.label, "percent": x.percent} for x in q.listed],
        "footnote": q.footnote,
        "party_totals": [
            {"party": p.party, "count": p.count, "percent": p.percent} for p in q.party_totals
        ],
        "counts": [
            {"label": a.label, "kind": a.kind.value, "party": a.party, "count": n}
            for a, n in zip(q.tally.answers, q.tally.counts, strict=True)
        ],
        "breakdowns": [
            {
                "dimension": dimension,
                "groups": [
                    {"name": g.group.name, "parent": g.group.parent, "status": g.status.value}
                    | (
                        {"ballots": g.group.ballots, "counts": list(g.group.counts)}
                        if g.status is GroupStatus.SHOWN
                        else {}
                    )
                    for g in lines
                ],
            }
            for dimension, lines in q.breakdowns
        ],
    }


def build_report(
    title: str,
    tallies: Sequence[QuestionTally],
    rules: ReportRules,
    turnout: Turnout,
    *,
    simulation: bool,
    stage: str | None = None,
    sources: Sequence[tuple[str, str | None]] = (),
) -> Report:
    """The report of one stage: every question's lines, totals, counts and breakdowns."""
    if not tallies:
        raise DomainError("report", "a report needs at least one question")
    return Report(
        title,
        simulation,
        rules,
        turnout,
        tuple(_question_report(t, rules) for t in tallies),
        stage,
        tuple(sources),
    )
