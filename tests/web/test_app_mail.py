"""The app's mail server, for one-time codes: built once from the settings, and a refusal is
logged without the address and never shown (it would tell that a card exists); a code request
outside the registration window says so, and sends nothing; inside it, the code's email is in
the page's language (on SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from typing import Any

import pytest
from web_support import STAGE, Inbox, csrf_of, make_site, registration_client, smtp_server

from unionvote.mail import Mail, SMTPMailer
from unionvote.storage.database import Database
from unionvote.web.app import QuietMailer, build_mailer
from unionvote.web.settings import WebSettings

SECRET = "a test secret that is long enough for the session"


@dataclass
class Refusing(Inbox):
    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: object
    ) -> str:
        return "550 5.1.1 no such mailbox"


@pytest.fixture
def refusing() -> Iterator[tuple[Inbox, SMTPMailer]]:
    yield from smtp_server(Refusing())


@pytest.fixture
def mail() -> Iterator[tuple[Inbox, SMTPMailer]]:
    yield from smtp_server(Inbox())


def test_a_refusal_is_logged_without_the_address(
    refusing: tuple[Inbox, SMTPMailer], caplog: pytest.LogCaptureFixture
) -> None:
    _, mailer = refusing
    quiet = QuietMailer(mailer)
    with caplog.at_level(logging.WARNING, logger="unionvote.web"):
        assert quiet.send(Mail("someone@members.example", "Your code", "123456")) == ""
    assert "refused by the mail server (code 550)" in caplog.text
    assert "someone@members.example" not in caplog.text and "123456" not in caplog.text


def test_the_app_builds_its_mailer_from_the_settings(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    site = make_site(
        database, smtp_host=mailer.host, smtp_port=mailer.port, mail_sender="vote@iam.example"
    )
    built = site.client.app.state.mailer
    assert isinstance(built, QuietMailer) and isinstance(built.mailer, SMTPMailer)
    built.send(Mail("member@members.example", "Hello", "A test."))
    (message,) = inbox.messages
    assert message["From"] == "vote@iam.example"


def test_without_a_mail_server_there_is_no_mailer() -> None:
    settings = WebSettings(dev=True, session_secret=SECRET)
    assert build_mailer(settings) is None


def test_a_registration_code_outside_the_window_says_so(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    site = make_site(database, smtp_host=mailer.host, smtp_port=mailer.port)
    page = site.client.get(f"/register/{STAGE}")
    answer = site.client.post(
        f"/register/{STAGE}",
        data={
            "csrf_token": csrf_of(page.text),
            "action": "send-code",
            "card_number": site.vote.cards[0],
        },
    )
    assert answer.status_code == 200
    assert "Registration for this vote is not open now." in answer.text
    assert "on its way" not in answer.text and inbox.messages == []


def test_the_registration_code_email_follows_the_page_language(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    client = registration_client(database, smtp_host=mailer.host, smtp_port=mailer.port)
    client.get("/language/es?next=/")
    page = client.get(f"/register/{STAGE}")
    answer = client.post(
        f"/register/{STAGE}",
        data={"csrf_token": csrf_of(page.text), "action": "send-code", "card_number": "1040260"},
    )
    assert answer.status_code == 200 and "se está enviando" in answer.text
    (message,) = inbox.messages
    assert message["To"] == "m1040260@members.example"
    assert message["Content-Language"] == "es"
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject.startswith("Su código para inscribirse")
    code = inbox.code()

    assert client.get("/language/en?next=/").status_code == 200  # back in English
    page = client.get(f"/register/{STAGE}")
    client.post(
        f"/register/{STAGE}",
        data={"csrf_token": csrf_of(page.text), "action": "send-code", "card_number": "1052006"},
    )
    assert inbox.messages[-1]["Content-Language"] == "en"
    registered = client.post(
        f"/register/{STAGE}",
        data={"csrf_token": csrf_of(page.text), "card_number": "1040260", "code": code},
    )
    assert "You are registered" in registered.text


def test_a_code_is_mailed_only_after_the_answer_has_gone(database: Database) -> None:
    """The code's mail is sent after the response: a request for a real card answers as
    fast as one for a made-up card (the code is committed before, so nothing is lost)."""
    import asyncio
    from urllib.parse import urlencode

    from starlette.types import Message

    client = registration_client(database)
    token = csrf_of(client.get(f"/register/{STAGE}").text)
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    sent: list[Message] = []
    seen_at_mail: list[list[str]] = []

    class Recorder:
        def send(self, mail: Mail) -> str:
            seen_at_mail.append([m["type"] for m in sent])
            return "<id@test>"

    client.app.state.mailer = Recorder()
    body = urlencode(
        {"csrf_token": token, "card_number": "1040260", "action": "send-code"}
    ).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/register/{STAGE}",
        "raw_path": f"/register/{STAGE}".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"cookie", cookie.encode()),
        ],
        "client": ("192.0.2.9", 5000),
        "server": ("testserver", 80),
    }
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert seen_at_mail == [["http.response.start", "http.response.body"]]
