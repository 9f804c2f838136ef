"""``unionvote credentials`` (the authority) and ``unionvote electorate`` (the server) from the
command line: the whole hand-over through files, a real SMTP server with login, bounces,
letters, and refusals as one readable line."""

from __future__ import annotations

import datetime
import json
import mailbox
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from typer.testing import CliRunner

from unionvote.cli.credentials import app, server_app
from unionvote.services.context import FixedClock, Services
from unionvote.services.process import do_init_process
from unionvote.services.registration import (
    do_close_registration,
    do_open_registration,
    do_register_all,
)
from unionvote.services.roll import do_freeze_eligibility, do_import_roll
from unionvote.storage.database import Database

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STAGE = "membership-vote"
PASSWORD = "s3cret-for-tests"
runner = CliRunner()


@dataclass
class Inbox:
    refuse: set[str] = field(default_factory=set)
    messages: list[bytes] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        ok = data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: answer 535 at once


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, f"127.0.0.1:{port}"
    finally:
        controller.stop()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Services:
    """A server database (SQLite file) whose membership vote has closed registration."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    database = Database(url)
    database.upgrade()
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    clock = FixedClock(start)
    services = Services(database, clock)
    text = (EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8")
    do_init_process(services, text, source_name="iam-2024.toml")
    do_import_roll(services, EXAMPLES / "roll-sample.csv", apply=True)
    do_freeze_eligibility(services, STAGE)
    do_open_registration(
        services,
        STAGE,
        opens_at=start + datetime.timedelta(minutes=1),
        closes_at=start + datetime.timedelta(days=10),
    )
    clock.advance(hours=1)
    do_register_all(services, STAGE)
    do_close_registration(services, STAGE)
    return services


def run(application: Any, *args: str, code: int = 0) -> str:
    result = runner.invoke(application, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def dsn(address: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mail.example\nSubject: Undelivered Mail\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\n\n--B\nContent-Type: text/plain\n\nNot delivered.\n\n'
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example\n\n"
        f"Final-Recipient: rfc822; {address}\nAction: failed\nStatus: 5.2.2\n"
        "Diagnostic-Code: smtp; 552 mailbox full\n\n--B--\n"
    ).encode()


def test_the_whole_hand_over_through_files(
    server: Services, smtp: tuple[Inbox, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, address = smtp
    registered, workspace = tmp_path / "registered.csv", tmp_path / "ws"
    out = run(server_app, "export", STAGE, "--out", registered)
    assert "registered members of membership-vote written" in out
    assert stat.S_IMODE(registered.stat().st_mode) == 0o600
    run(server_app, "export", STAGE, "--out", registered, code=1)  # never overwritten

    out = run(
        app,
        "generate",
        "--registered",
        registered,
        "--dir",
        workspace,
        "--workers",
        "1",
        "--vote-url",
        "https://vote.iam.example",
        "--contact",
        "officer@ca.example",
    )
    count = json.loads((workspace / "workspace.json").read_text())["count"]
    assert f"{count} credentials made" in out and "public-credentials.json" in out
    out = run(app, "generate", "--registered", registered, "--dir", workspace, code=1)
    assert "refusing to overwrite" in out

    # the server refuses the private file, with a plain line and no credential in it
    private = (workspace / "private-credentials.csv").read_text()
    out = run(
        server_app, "import-credentials", STAGE, workspace / "private-credentials.csv", code=1
    )
    assert "PRIVATE credentials" in out and "Nothing was stored" in out
    assert not any(line.split(",")[1] in out for line in private.splitlines()[1:])
    out = run(server_app, "import-credentials", STAGE, workspace / "public-credentials.json")
    assert f"{count} public credentials imported" in out
    out = run(
        server_app, "import-credentials", STAGE, workspace / "public-credentials.json", code=1
    )
    assert "--replace" in out

    cards = [line.split(",")[0] for line in private.splitlines()[1:]]
    emails = {
        row.split(",")[0]: row.split(",")[3]
        for row in (workspace / "registered.csv").read_text().splitlines()[2:]
    }
    inbox.refuse.add(emails[cards[0]])
    monkeypatch.setenv("UNIONVOTE_SMTP_PASSWORD", PASSWORD)
    out = run(
        app,
        "send",
        "--dir",
        workspace,
        "--smtp",
        address,
        "--from",
        "ca@authority.example",
        "--user",
        "authority",
    )
    assert f"{count - 1} sent, 1 refused by the mail server (bounced)" in out
    assert len(inbox.messages) == count - 1 and inbox.logins[0] == (b"authority", PASSWORD.encode())
    out = run(
        app, "send", "--dir", workspace, "--smtp", address, "--from", "ca@authority.example", code=1
    )
    assert "--only-unsent" in out
    out = run(
        app,
        "send",
        "--dir",
        workspace,
        "--smtp",
        address,
        "--from",
        "ca@authority.example",
        "--only-unsent",
    )
    assert (
        f"0 sent, 0 refused by the mail server (bounced), 0 failed for now, {count} already" in out
    )

    mbox = tmp_path / "bounces.mbox"
    box = mailbox.mbox(mbox)
    box.add(dsn(emails[cards[1]]))
    box.close()
    out = run(app, "bounces", "--dir", workspace, "--mbox", mbox)
    assert "1 bounce notifications read: 1 recorded" in out

    out = run(
        app,
        "resend",
        "--dir",
        workspace,
        cards[0],
        "--email",
        "fixed@members.example",
        "--smtp",
        address,
        "--from",
        "ca@authority.example",
    )
    assert f"Card {cards[0]}: credential sent again to fixed@members.example" in out
    assert cards[0].encode() in inbox.messages[-1]
    out = run(
        app, "resend", "--dir", workspace, "nope", "--smtp", address, "--from", "a@b.c", code=1
    )
    assert "not in this workspace" in out

    out = run(
        app, "letters", "--dir", workspace, "--out", tmp_path / "letters.pdf", "--only", "bounced"
    )
    assert "1 letters" in out and (tmp_path / "letters.pdf").read_bytes().startswith(b"%PDF")
    out = run(app, "status", "--dir", workspace)
    assert "bounced: 1" in out.replace("  ", " ") and "letters:  1" in out

    out = run(server_app, "import-deliveries", STAGE, workspace / "deliveries.jsonl")
    events = len((workspace / "deliveries.jsonl").read_text().splitlines()) - 1
    assert f"{events} delivery events stored (0 were already)" in out
    out = run(server_app, "import-deliveries", STAGE, workspace / "deliveries.jsonl")
    assert f"0 delivery events stored ({events} were already)" in out
    out = run(server_app, "deliveries", STAGE)
    assert f"{count} registered, {count} public credentials" in out
    assert "unreached: 0" in out


def test_letters_on_every_core_in_numbered_files(server: Services, tmp_path: Path) -> None:
    run(server_app, "export", STAGE, "--out", tmp_path / "r.csv")
    run(app, "generate", "--registered", tmp_path / "r.csv", "--dir", tmp_path / "ws")
    count = json.loads((tmp_path / "ws" / "workspace.json").read_text())["count"]
    assert count >= 5
    out = run(
        app,
        "letters",
        "--dir",
        tmp_path / "ws",
        "--out",
        tmp_path / "letters.pdf",
        "--pages-per-file",
        "2",
        "--workers",
        "2",
    )
    files = sorted(tmp_path.glob("letters-*.pdf"))
    assert len(files) == (count + 1) // 2 and f"{count} letters" in out
    assert all(f"Wrote {path}" in out.replace("\n", "") for path in files)
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    assert "letters:  " + str(count) in run(app, "status", "--dir", tmp_path / "ws")
    out = run(
        app,
        "letters",
        "--dir",
        tmp_path / "ws",
        "--out",
        tmp_path / "l.pdf",
        "--workers",
        "-1",
        code=2,
    )
    assert "--workers" in out


def test_a_wrong_password_is_a_clear_failure(
    server: Services, smtp: tuple[Inbox, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, address = smtp
    run(server_app, "export", STAGE, "--out", tmp_path / "r.csv")
    run(app, "generate", "--registered", tmp_path / "r.csv", "--dir", tmp_path / "ws")
    monkeypatch.setenv("UNIONVOTE_SMTP_PASSWORD", "wrong")
    out = run(
        app,
        "send",
        "--dir",
        tmp_path / "ws",
        "--smtp",
        address,
        "--from",
        "ca@x.example",
        "--user",
        "authority",
        code=1,
    )
    assert "failed 5 times in a row" in out and "535" in out and "--only-unsent" in out
    assert "wrong" not in out.replace("wrong password", "")


def test_bad_options_are_named(tmp_path: Path) -> None:
    out = run(app, "send", "--dir", tmp_path, "--smtp", "nohost", "--from", "a@b.c", code=1)
    assert "not a credentials workspace" in out
    out = run(
        app, "generate", "--registered", tmp_path / "none.csv", "--dir", tmp_path / "w", code=1
    )
    assert "no such file" in out


@pytest.mark.parametrize(
    ("application", "command"),
    [(app, c) for c in ("generate", "send", "bounces", "resend", "letters", "status")]
    + [
        (server_app, c) for c in ("export", "import-credentials", "import-deliveries", "deliveries")
    ],
)
def test_every_command_has_help(application: Any, command: str) -> None:
    out = run(application, command, "--help")
    assert "Usage" in out and "--help" in out
