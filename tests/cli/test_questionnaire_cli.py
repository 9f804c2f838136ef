"""``unionvote questionnaire`` on a SQLite file with a real SMTP server: define, import, send,
a campaign answers by its link, status, a refused bad file, close after the due date, publish."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from questionnaire_support import CAMPAIGNS, CONTACT, QUESTIONNAIRE, Inbox, smtp_server
from typer.testing import CliRunner

from unionvote.cli.context import open_services
from unionvote.cli.main import app
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import do_close, do_decline, do_submit

runner = CliRunner()
ANSWERS = {"pro-act": "yes", "trade": "2", "pensions": "Fully fund them."}


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'unionvote.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    open_services(create=True).db.dispose()
    yield url


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["questionnaire", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def due_in(tmp_path: Path, days: int) -> Path:
    due = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    text = QUESTIONNAIRE.read_text(encoding="utf-8").replace(
        "due = 2024-03-01T23:59:00Z", f"due = {due:%Y-%m-%dT%H:%M:%SZ}"
    )
    path = tmp_path / "questionnaire.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_committee_runs_a_questionnaire_from_the_terminal(
    database_url: str, tmp_path: Path
) -> None:
    path = due_in(tmp_path, 30)
    code, out = run("define", str(path))
    assert code == 0, out
    assert "Defined issues-2024 version 1" in out
    code, out = run("import", "issues-2024", str(CAMPAIGNS))
    assert code == 0 and "4 campaign(s) added" in out, out
    code, out = run(
        "add-campaign", "issues-2024", "lopez", "--name", "Maria Lopez", "--party",
        "Independent", "--contact-name", "Ann", "--contact-email", "ann@lopez.example",
    )  # fmt: skip
    assert code == 0, out

    with smtp_server() as (inbox, mailer):
        smtp = f"{mailer.host}:{mailer.port}"
        code, out = run(
            "send", "issues-2024", "--smtp", smtp, "--from", "committee@union.example",
            "--base-url", "https://vote.example.org",
        )  # fmt: skip
        assert code == 0, out
        assert "6 sent, 0 bounced" in out
        tokens = {key: inbox.token(address) for key, address in CONTACT.items()}
        check_inbox(inbox)

    services = Services(open_services().db)
    do_submit(services, tokens["rivera"], ANSWERS, None)
    do_decline(services, tokens["hale"], "Not this year.", None)

    code, out = run("status", "issues-2024")
    assert code == 0, out
    assert re.search(r"Ana Rivera.*submitted", out) and re.search(r"Thomas Hale.*declined", out)
    assert re.search(r"Grace Okafor.*sent", out)

    code, out = run("close", "issues-2024")
    assert code == 1 and "close it after that" in out

    # the due date passes (the clock, not the file): close, then publish
    later = Services(
        services.db, FixedClock(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=31))
    )
    assert do_close(later, "issues-2024").no_response == ("okafor", "brandt", "lopez")
    # Before publication members read nothing: ``show`` says so; the committee sees it live.
    code, out = run("show", "issues-2024")
    assert code == 1 and "not published yet" in out, out
    code, out = run("show", "issues-2024", "--committee")
    assert code == 0, out
    assert "Declined to answer" in out and "Did not respond" in out and "Fully fund them." in out
    code, out = run("show", "issues-2024", "--language", "fr")
    assert code != 0 and "expected en or es" in out
    code, out = run("publish", "issues-2024", "--out", str(tmp_path / "out"))
    assert code == 0, out
    code, out = run("show", "issues-2024", "--language", "es")
    assert code == 0 and "As published on" in out and "Se negó a responder" in out, out
    assert "Fully fund them." in out
    written = (tmp_path / "out" / "questionnaire-issues-2024.json").read_bytes()
    assert hashlib.sha256(written).hexdigest() in out
    statuses = {c["key"]: c["status"] for c in json.loads(written)["candidates"]}
    assert statuses == {
        "rivera": "answered",
        "hale": "declined",
        "okafor": "did-not-respond",
        "brandt": "did-not-respond",
        "lopez": "did-not-respond",
    }
    code, out = run("list")
    assert code == 0 and "issues-2024" in out


def check_inbox(inbox: Inbox) -> None:
    assert len(inbox.messages) == 6
    assert {m["To"] for m in inbox.messages} >= set(CONTACT.values())


def test_a_bad_file_lists_every_problem(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        due_in(tmp_path, 30)
        .read_text(encoding="utf-8")
        .replace('kind = "yes-no"', 'kind = "maybe"')
        .replace("max_words = 150", "max_words = 0"),
        encoding="utf-8",
    )
    code, out = run("define", str(bad))
    assert code == 1
    assert "2 problems in bad.toml" in out
    assert "questions[0].kind" in out and "questions[2].max_words" in out
    code, out = run("status", "issues-2024")
    assert code == 1 and "there is no questionnaire 'issues-2024'" in out
