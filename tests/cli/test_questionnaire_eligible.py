"""``unionvote questionnaire eligible KEY``: who may be in a forum or on a ballot under the
questionnaire's rule, and who may not and why (a SQLite file, a real SMTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from questionnaire_support import KEY, START, setup_questionnaire, smtp_server
from typer.testing import CliRunner

from unionvote.cli.context import open_services
from unionvote.cli.main import app
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import do_decline, do_submit

runner = CliRunner()


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'unionvote.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    open_services(create=True).db.dispose()
    yield url


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["questionnaire", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_eligible_lists_who_may_take_part_and_why(database_url: str) -> None:
    services = Services(open_services().db, FixedClock(START))
    with smtp_server() as (inbox, mailer):
        tokens = setup_questionnaire(services, mailer, inbox)
    answers = {"pro-act": "yes", "trade": "2", "pensions": "Fully fund them."}
    do_submit(services, tokens["rivera"], answers, None)
    do_decline(services, tokens["hale"], "Not this year.", None)

    code, out = run("eligible", KEY)
    assert code == 0, out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "Rule: only candidates who answered may be in a forum or on a ballot." in lines
    allowed = lines.index("May take part (1):")
    kept_out = lines.index("May not take part (3):")
    assert lines[allowed + 1] == ("Ana Rivera (rivera, Democratic): answered the questionnaire")
    assert lines[kept_out + 1 : kept_out + 4] == [
        "Thomas Hale (hale, Republican): declined to answer: only candidates who answered "
        "may take part",
        # The CLI runs on today's clock: the due date (2024) has passed.
        "Grace Okafor (okafor, Democratic): did not respond by the due date: only candidates "
        "who answered may take part",
        "Victor Brandt (brandt, Republican): did not respond by the due date: only candidates "
        "who answered may take part",
    ]

    code, out = run("eligible", "no-such")
    assert code == 1 and "no-such" in out
