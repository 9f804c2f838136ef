"""``unionvote roll`` and ``unionvote registration`` on a SQLite file: the import shows its
differences and applies only when told, a bad roll is listed and refused, the frozen digest is
the one ``roll digest`` recomputes without a database, and registration runs from the terminal
(a one-time code through a real SMTP server)."""

from __future__ import annotations

import datetime
import email
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from typer.testing import CliRunner

from unionvote.cli.context import open_services
from unionvote.cli.registration import app as registration_app
from unionvote.cli.roll import app as roll_app
from unionvote.services.process import do_init_process
from unionvote.storage.models import Member, Registration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLE = EXAMPLES / "roll-sample.csv"
PROCESS = EXAMPLES / "iam-2024.toml"
runner = CliRunner()


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'unionvote.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    services = open_services(create=True)
    do_init_process(services, PROCESS.read_text(encoding="utf-8"), source_name=PROCESS.name)
    services.db.dispose()
    yield url


def members() -> int:
    services = open_services()
    with services.db.transaction() as session:
        n = session.scalar(select(func.count()).select_from(Member)) or 0
    services.db.dispose()
    return n


def roll(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(roll_app, list(args), input=stdin)


def registration(*args: str) -> Any:
    return runner.invoke(registration_app, list(args))


def digest_in(output: str) -> str:
    match = re.search(r"Digest[^:]*:\s+([0-9a-f]{64})", output)
    assert match is not None, output
    return match[1]


def test_import_shows_the_differences_and_applies_only_when_told(database_url: str) -> None:
    declined = roll("import", str(SAMPLE), stdin="n\n")
    assert declined.exit_code == 0, declined.output
    assert "30 members — 30 added, 0 changed, 0 removed, 0 unchanged" in declined.output
    assert "Apply these changes?" in declined.output
    assert "Nothing was changed." in declined.output
    assert members() == 0

    applied = roll("import", str(SAMPLE), "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Imported: 30 added, 0 changed, 0 removed." in applied.output
    assert "1004217" in applied.output  # the table of changes
    assert members() == 30

    shown = roll("show")
    assert shown.exit_code == 0, shown.output
    assert "Members in the roll: 30" in shown.output
    assert "good standing 23" in shown.output and "US 27, CA 3" in shown.output
    assert "state council president 8" in shown.output


def test_a_changed_roll_shows_its_changes(database_url: str, tmp_path: Path) -> None:
    roll("import", str(SAMPLE), "--yes")
    text = SAMPLE.read_text(encoding="utf-8").replace("m1004388@", "daniel@", 1)
    changed = tmp_path / "roll-v2.csv"
    changed.write_text("\n".join(text.splitlines()[:-1]) + "\n", encoding="utf-8")
    result = roll("import", str(changed), stdin="y\n")
    assert result.exit_code == 0, result.output
    assert "0 added, 1 changed (email 1), 1 removed, 28 unchanged" in result.output
    assert "Imported: 0 added, 1 changed, 1 removed." in result.output


def test_a_bad_roll_lists_every_bad_row_and_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("arrears", "owes money")
    lines[7] = lines[7].replace(",US,", ",USA,")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = roll("import", str(bad), "--yes")
    assert result.exit_code == 1
    assert "bad.csv was refused, nothing was imported: 2 problems on 2 lines" in result.output
    assert "bad.csv:line 4: dues_status: unknown dues status 'owes money'" in result.output
    assert "bad.csv:line 8: country: 'USA' is not an ISO 3166 country code" in result.output
    assert "Traceback" not in result.output
    assert members() == 0
    missing = roll("import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_the_frozen_digest_is_recomputed_without_the_database(database_url: str) -> None:
    roll("import", str(SAMPLE), "--yes")
    frozen = roll("freeze", "membership-vote")
    assert frozen.exit_code == 0, frozen.output
    assert "Electorate of membership-vote frozen: 19 members." in frozen.output
    observed = roll("digest", str(SAMPLE), "--process", str(PROCESS), "--stage", "membership-vote")
    assert observed.exit_code == 0, observed.output
    assert "Eligible members: 19" in observed.output
    assert digest_in(observed.output) == digest_in(frozen.output)
    twice = roll("freeze", "membership-vote")
    assert twice.exit_code == 1 and "cannot be frozen twice" in twice.output

    council = roll("freeze", "council-vote")
    assert council.exit_code == 0, council.output
    assert "All 8 registered; election identifier" in council.output
    observed = roll("digest", str(SAMPLE), "--process", str(PROCESS), "--stage", "council-vote")
    assert digest_in(observed.output) == digest_in(council.output)


def test_registration_from_the_terminal(database_url: str) -> None:
    roll("import", str(SAMPLE), "--yes")
    roll("freeze", "membership-vote")
    now = datetime.datetime.now(datetime.UTC)
    naive = registration("open", "membership-vote", "--opens", "2024-03-01T09:00", "--closes", "x")
    assert naive.exit_code == 1 and "needs a time zone" in naive.output
    opened = registration(
        "open",
        "membership-vote",
        "--opens",
        (now - datetime.timedelta(hours=1)).isoformat(),
        "--closes",
        (now + datetime.timedelta(days=7)).isoformat(),
    )
    assert opened.exit_code == 0, opened.output

    ok = registration(
        "register", "membership-vote", "1040260", "--last-name", "kim", "--postal-code", "30080"
    )
    assert ok.exit_code == 0 and ok.output.startswith("registered: You are registered")
    again = registration(
        "register", "membership-vote", "1040260", "--last-name", "KIM", "--postal-code", "30080"
    )
    assert again.exit_code == 0 and again.output.startswith("already-registered")
    wrong = registration(
        "register", "membership-vote", "1040260", "--last-name", "Lee", "--postal-code", "30080"
    )
    assert wrong.exit_code == 1 and wrong.output.startswith("wrong-details: We could not match")
    refused = registration(
        "register", "membership-vote", "1031356", "--last-name", "Müller", "--postal-code", "63031"
    )
    assert refused.exit_code == 1 and "arrears" in refused.output
    neither = registration("register", "membership-vote", "1031356")
    assert neither.exit_code == 1 and "give the last name and the postal code" in neither.output

    status = registration("status", "membership-vote")
    assert status.exit_code == 0, status.output
    assert "Eligible: 19   Registered: 1" in status.output
    assert "registered 1, already-registered 1, not-eligible 1, unknown 0" in status.output
    assert "wrong-details 1, outside-window 0" in status.output

    closed = registration("close", "membership-vote")
    assert closed.exit_code == 0, closed.output
    assert "1 registered of 19 eligible" in closed.output
    assert re.search(r"electorate\.json SHA-256: [0-9a-f]{64}", closed.output)
    again = registration("close", "membership-vote")
    assert again.exit_code == 1 and "already closed" in again.output


def test_a_code_requested_from_the_terminal(database_url: str) -> None:
    roll("import", str(SAMPLE), "--yes")
    roll("freeze", "membership-vote")
    now = datetime.datetime.now(datetime.UTC)
    registration(
        "open",
        "membership-vote",
        "--opens",
        (now - datetime.timedelta(hours=1)).isoformat(),
        "--closes",
        (now + datetime.timedelta(days=7)).isoformat(),
    )
    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sent = registration(
            "request-code",
            "membership-vote",
            "1063372",
            "--smtp",
            f"127.0.0.1:{port}",
            "--from",
            "elections@iam.example",
        )
        spanish = registration(
            "request-code",
            "membership-vote",
            "1052248",
            "--smtp",
            f"127.0.0.1:{port}",
            "--from",
            "elections@iam.example",
            "--language",
            "es",
        )
    finally:
        controller.stop()
    assert sent.exit_code == 0, sent.output
    assert spanish.exit_code == 0, spanish.output
    raw, raw_spanish = received
    assert email.message_from_bytes(raw)["Content-Language"] == "en"
    assert email.message_from_bytes(raw_spanish)["Content-Language"] == "es"
    body = email.message_from_bytes(raw).get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(rb"^\s+(\d{6})\s*$", body, re.MULTILINE)
    assert match is not None
    done = registration("register", "membership-vote", "1063372", "--code", match[1].decode())
    assert done.exit_code == 0 and done.output.startswith("registered:")
    services = open_services()
    with services.db.transaction() as session:
        assert session.scalars(select(Registration.method)).all() == ["code"]
    services.db.dispose()
    bad = registration("request-code", "membership-vote", "1", "--smtp", "nohost", "--from", "a@b")
    assert bad.exit_code == 1 and "expected HOST:PORT" in bad.output
    french = registration(
        "request-code", "membership-vote", "1", "--smtp", "h:1", "--from", "a@b", "--language", "fr"
    )
    assert french.exit_code == 2 and "--language" in french.output
