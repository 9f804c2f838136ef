"""The results page over a published report, on SQLite and PostgreSQL: real HTML from
``report.json`` with the same numbers as ``report.txt`` (the IAM lines, the footnote, the
totals by party, the exact counts, every breakdown's shares, the turnout), the chart's text
alternative word for word the report's own description, Spanish, no inline styles, and the
report's files to download."""

from __future__ import annotations

import datetime
import html
import json
import re
import warnings
from pathlib import Path

import pytest
from publications import (
    MEMBERSHIP,
    Published,
    process_text,
    publish_membership,
    seed_election,
)
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning

from unionvote.domain.errors import DomainError
from unionvote.domain.process import Answer, AnswerKind, ReportRules
from unionvote.domain.publication import ELECTORATE_FILE, SUBTALLIES_FILE
from unionvote.domain.report import Breakdown, GroupTally, QuestionTally, Turnout, build_report
from unionvote.services.board import published_results
from unionvote.services.context import FixedClock, Services
from unionvote.services.process import do_init_process
from unionvote.services.publication import read_published, store_published
from unionvote.services.report import PublishedReport, do_publish_report
from unionvote.storage.database import Database
from unionvote.storage.models import StageRow
from unionvote.web.app import create_app
from unionvote.web.settings import WebSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.UTC)
SECRET = "a test secret that is long enough for the session"


@pytest.fixture(scope="module")
def membership(tmp_path_factory: pytest.TempPathFactory) -> Published:
    # 9, 3 and 6 votes: three answers listed; groups of at least 3 ballots shown
    return publish_membership(tmp_path_factory.mktemp("built"))


def published(database: Database, membership: Published) -> tuple[TestClient, PublishedReport]:
    services = Services(database, FixedClock(NOW))
    do_init_process(services, process_text(), source_name="test.toml")
    files = {n: membership.files[n] for n in (ELECTORATE_FILE, SUBTALLIES_FILE)}
    seed_election(services, MEMBERSHIP, membership.built, files)
    report = do_publish_report(services, MEMBERSHIP, simulation=False)
    settings = WebSettings(dev=True, session_secret=SECRET, verify_board=False)
    return TestClient(create_app(settings, services=services)), report


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _rows(page: str, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, as the text of their cells."""
    found = re.search(
        r"<caption[^>]*>" + re.escape(caption) + r"</caption>(.*?)</table>", page, re.DOTALL
    )
    assert found is not None, f"no table {caption!r}"
    return [
        [_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.DOTALL)
    ]


def test_the_results_page_shows_the_reports_numbers(
    database: Database, membership: Published
) -> None:
    client, report = published(database, membership)
    text = report.text
    page = client.get(f"/stages/{MEMBERSHIP}/results")
    assert page.status_code == 200, page.text
    body = page.text
    assert " style=" not in body and "<style" not in body  # the CSP allows no inline style
    (question,) = report.report.questions
    # the IAM lines, in the report's order, exactly as report.txt writes them
    lines = [_text(li) for li in re.findall(r"<li>(.*?)</li>", body.split('class="listed"')[1])]
    iam = [f"{x.label} – {x.percent}%" for x in question.listed]
    assert lines[: len(iam)] == iam and all(line in text for line in iam)
    # the footnote, built in the page's language, is the published one in English
    footnote = re.search(r'<p class="footnote">(.*?)</p>', body, re.DOTALL)
    assert footnote is not None and _text(footnote.group(1)) == question.footnote
    # totals by party and exact counts
    parties = _rows(body, "Totals by party")
    assert parties[1:] == [
        [p.party, f"{p.count:,}", f"{p.percent}%"] for p in question.party_totals
    ]
    counts = _rows(body, "Exact counts")
    for answer, count in zip(question.tally.answers, question.tally.counts, strict=True):
        assert [answer.label, answer.party or "", f"{count:,}"] in counts
    assert ["Ballots counted", "", f"{question.tally.ballots:,}"] in counts
    # every breakdown: each shown group's shares are report.txt's, each hidden one says why
    assert question.breakdowns, "the fixture should have breakdowns"
    checked = 0
    for dimension, groups in question.breakdowns:
        size = report.report.rules.min_group_size
        assert f"Results by {dimension} (groups of fewer than {size} ballots" in text
        assert f"Groups of fewer than {size} ballots are not shown." in body
        rows = _rows(body, f"Results by {dimension}")[1:]
        assert len(rows) == len(groups)
        for row, line in zip(rows, groups, strict=True):
            name = line.group.name + (f" ({line.group.parent})" if line.group.parent else "")
            assert row[0] == name
            if line.percents:
                shares = ", ".join(f"{p.label} {p.percent}%" for p in line.percents)
                assert f"{name} ({line.group.ballots:,} ballots): {shares}" in text
                assert row[1:] == [f"{line.group.ballots:,}"] + [
                    f"{p.percent}%" for p in line.percents
                ]
                checked += 1
            else:
                assert "not shown" in row[1]
    assert checked > 0
    # turnout, as report.txt words it
    turnout = _text(body.split('id="turnout"')[1].split("</section>")[0])
    ballots = report.report.turnout.ballots
    assert f"{ballots:,} ballots counted" in turnout
    for what, total, pct in report.report._turnout_parts():
        assert f"{pct}% of {total:,} {what} members" in turnout
        assert f"{pct}% of {total:,} {what}" in text
    # the chart's text alternative carries the same numbers: the report's own description
    alt = re.search(r'<img src="/stages/[^"]+/results/chart.png" class="chart" alt="([^"]*)"', body)
    assert alt is not None
    assert " ".join(html.unescape(alt.group(1)).split()) == report.report.chart_description()
    chart = client.get(f"/stages/{MEMBERSHIP}/results/chart.png")
    assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")
    # the files: report.txt and report.json as published, and the sources with their hashes
    download = client.get(f"/stages/{MEMBERSHIP}/results/report.txt")
    assert download.status_code == 200 and download.text == text
    assert download.headers["content-type"].startswith("text/plain")
    assert "attachment" in download.headers["content-disposition"]
    data = client.get(f"/stages/{MEMBERSHIP}/results/report.json")
    assert data.json() == json.loads(
        read_published(client.app.state.services, MEMBERSHIP, "report.json")
    )
    sources = dict(
        (row[0], row[1])
        for row in _rows(body, "Derived only from these published files (SHA-256)")[1:]
    )
    assert sources == {k: v for k, v in report.report.sources if v is not None}


def test_the_results_page_in_spanish(database: Database, membership: Published) -> None:
    client, report = published(database, membership)
    page = client.get(f"/stages/{MEMBERSHIP}/results", params={"lang": "es"}).text
    assert '<html lang="es">' in page
    assert "Totales por partido" in page and "Recuento exacto" in page
    (question,) = report.report.questions
    for x in question.listed:  # names as published, numbers the same
        assert f"<li>{html.escape(x.label)} – {x.percent}%</li>" in page
    assert "Candidates who" not in page and "Answers that" not in page


def test_the_view_refuses_before_publication(database: Database) -> None:
    services = Services(database, FixedClock(NOW))
    do_init_process(services, process_text(), source_name="test.toml")
    with pytest.raises(DomainError, match=r"has not published report\.json"):
        published_results(services, MEMBERSHIP)


def test_the_results_template_has_no_inline_style() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "unionvote" / "web" / "templates"
    assert "style=" not in (root / "public" / "results.html").read_text(encoding="utf-8")


def test_hidden_groups_several_choices_blank_and_weights(database: Database) -> None:
    """A report with what the fixture's lacks: a group too small and one hidden to protect
    it, a question with several choices and blank ballots, a weighted vote, a name to escape."""
    services = Services(database, FixedClock(NOW))
    do_init_process(services, process_text(), source_name="test.toml")
    candidates = (
        Answer("Ada <Lovelace>", AnswerKind.CANDIDATE, "Democratic"),
        Answer("Alan Turing", AnswerKind.CANDIDATE, "Republican"),
        Answer("Grace Hopper", AnswerKind.CANDIDATE, "Democratic"),
    )
    states = Breakdown(
        "state",
        (
            GroupTally("MI", 700, (400, 250, 50)),
            GroupTally("OH", 60, (30, 20, 10)),
            GroupTally("VT", 12, (6, 6, 0)),
            GroupTally("TX", 228, (100, 100, 28)),
        ),
    )
    endorse = QuestionTally("Whom to endorse?", candidates, (536, 376, 88), 1000, 0, 1, (states,))
    issues = QuestionTally(
        "Which issues matter most?",
        (
            Answer("Wages", AnswerKind.OPTION),
            Answer("Safety", AnswerKind.OPTION),
            Answer("Pensions", AnswerKind.OPTION),
        ),
        (700, 450, 10),
        1000,
        40,
        2,
    )
    rules = ReportRules(min_group_size=50, breakdowns=("state",))
    report = build_report(
        "General membership vote",
        (endorse, issues),
        rules,
        Turnout(1000, eligible=1500, registered=1200, weight=1234),
        simulation=True,
        stage=MEMBERSHIP,
    )
    with services.transaction() as tx:
        row = tx.session.scalar(select(StageRow).where(StageRow.key == MEMBERSHIP))
        assert row is not None
        store_published(tx, row, "report.json", report.to_json())
        store_published(tx, row, "report.txt", report.to_text().encode())
    settings = WebSettings(dev=True, session_secret=SECRET, verify_board=False)
    client = TestClient(create_app(settings, services=services))
    body = client.get(f"/stages/{MEMBERSHIP}/results").text
    text = report.to_text()
    assert "Simulation" in body and "Ada &lt;Lovelace&gt; – 54%" in body
    assert "<Lovelace>" not in body
    footnotes = [_text(f) for f in re.findall(r'<p class="footnote">(.*?)</p>', body, re.DOTALL)]
    assert footnotes == [q.footnote for q in report.questions]
    assert "Each member could choose up to 2" in footnotes[1]
    rows = _rows(body, "Results by state")[1:]
    assert [r[0] for r in rows] == ["MI", "OH", "VT", "TX"]
    assert rows[0] == ["MI", "700", "57%", "36%", "7%"] and "MI (700 ballots): " in text
    assert "Ada <Lovelace> 57%, Alan Turing 36%, Grace Hopper 7%" in text
    assert rows[2] == ["VT", "fewer than 50 ballots: not shown"]
    assert rows[1] == [
        "OH",
        "not shown, so that a smaller group cannot be worked out by subtraction",
    ]
    issues_counts = _rows(body, "Exact counts")  # the first table so captioned: endorse
    assert ["Ballots counted", "", "1,000"] in issues_counts
    assert "Blank" in body and ">40<" in body
    assert "these ballots carry 1,234 votes in all" in body
    assert "Weighted vote: these ballots carry 1,234 votes in all" in text
    assert "<figure" not in body  # no chart published: none shown
