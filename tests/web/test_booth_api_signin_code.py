"""Signing in to the booth with a code from one's email, through the pages, on SQLite and
PostgreSQL, with a real SMTP server (aiosmtpd): ask, receive (in the page's language), type,
vote; a wrong code or an unknown card gets word for word the same page; without a mail
server the option is not offered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.header import decode_header, make_header

import httpx
import pytest
from sqlalchemy import select
from web_support import JOBS, STAGE, A, Inbox, Site, csrf_of, make_site, smtp_server

from unionvote.mail import SMTPMailer
from unionvote.storage.database import Database
from unionvote.storage.models import Member


@pytest.fixture
def mail() -> Iterator[tuple[Inbox, SMTPMailer]]:
    yield from smtp_server(Inbox())


def site_with_mail(database: Database, mailer: SMTPMailer) -> Site:
    site = make_site(
        database, smtp_host=mailer.host, smtp_port=mailer.port, mail_sender=mailer.sender
    )
    with database.transaction() as session:
        for member in session.scalars(select(Member)):
            member.email = f"{member.card_number.lower()}@members.example"
    return site


def ask(site: Site, card: str, **params: str) -> str:
    page = site.client.get(f"/vote/{STAGE}", params={"method": "email", **params})
    assert page.status_code == 200 and 'name="action" value="send-code"' in page.text
    answer = site.client.post(
        f"/vote/{STAGE}",
        data={"csrf_token": csrf_of(page.text), "action": "send-code", "card_number": card},
    )
    assert answer.status_code == 200
    return answer.text


def enter(site: Site, card: str, code: str) -> httpx.Response:
    page = site.client.get(f"/vote/{STAGE}", params={"method": "code"})
    assert '<label for="code">' in page.text
    return site.client.post(
        f"/vote/{STAGE}",
        data={"csrf_token": csrf_of(page.text), "card_number": card, "code": code},
        follow_redirects=False,
    )


def test_sign_in_with_a_code_from_email_and_vote(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    site = site_with_mail(database, mailer)
    start = site.client.get(f"/vote/{STAGE}").text
    assert f'href="/vote/{STAGE}?method=email">Email me a sign-in code</a>' in start
    card = site.vote.cards[0]
    after = ask(site, card)
    assert "a sign-in code is on its way" in after
    assert '<label for="code">Code from your email</label>' in after  # the next step, at once
    assert f'value="{card}"' in after
    (message,) = inbox.messages
    assert message["To"] == f"{card.lower()}@members.example"
    signed = enter(site, card, inbox.code())
    assert signed.status_code == 303 and signed.headers["location"] == f"/vote/{STAGE}/ballot"
    booth = site.client.get(f"/vote/{STAGE}/ballot")
    assert booth.status_code == 200 and "Your voting credential" in booth.text
    raw = site.vote.ballot(0, (A, JOBS))
    cast = site.cast(raw, csrf_of(booth.text))
    assert cast.status_code == 201, cast.text


def test_the_code_mail_follows_the_page_language(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    site = site_with_mail(database, mailer)
    site.client.get("/language/es?next=/")
    page = ask(site, site.vote.cards[1])
    assert "le estamos enviando un código" in page and "Código de su correo" in page
    (message,) = inbox.messages
    assert message["Content-Language"] == "es"
    assert str(make_header(decode_header(message["Subject"]))).startswith("Su código")


def test_wrong_codes_and_unknown_cards_look_the_same(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    site = site_with_mail(database, mailer)
    card = site.vote.cards[0]

    def cleaned(text: str, typed: str) -> str:
        text = re.sub(r'name="csrf_token" value="[^"]+"', "", text)
        return text.replace(f'value="{typed}"', 'value=""')

    unknown_ask, known_ask = ask(site, "Z999999"), ask(site, card)
    assert cleaned(unknown_ask, "Z999999") == cleaned(known_ask, card)
    assert len(inbox.messages) == 1
    code = inbox.code()
    wrong_code = "000000" if code != "000000" else "111111"
    unknown = enter(site, "Z999999", "123456")
    wrong = enter(site, card, wrong_code)
    assert unknown.status_code == wrong.status_code == 200
    assert "This code did not work with this member number" in wrong.text
    assert cleaned(unknown.text, "Z999999") == cleaned(wrong.text, card)
    assert enter(site, card, code).status_code == 200  # the wrong guess spent it


def test_without_a_mail_server_no_codes_are_offered(database: Database) -> None:
    site = make_site(database)
    page = site.client.get(f"/vote/{STAGE}").text
    assert "Email me a sign-in code" not in page
    # asking for the code form falls back to the details form
    fallback = site.client.get(f"/vote/{STAGE}", params={"method": "email"}).text
    assert '<label for="last_name">Last name</label>' in fallback
    refused = site.client.post(
        f"/vote/{STAGE}",
        data={"csrf_token": csrf_of(page), "action": "send-code", "card_number": "C00000"},
    )
    assert "Sign-in codes by email are not available here." in refused.text
