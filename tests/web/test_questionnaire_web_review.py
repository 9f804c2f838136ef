"""Fixes from the questionnaire's review, through the website (SQLite and PostgreSQL, a real
local SMTP server): members read the published file until the next publication; the campaign's
form names the publication policy; emailed links use the site's public address, never the
request's Host; long answers fit; the answer form's CSRF token comes from the link, so it never
expires with the session."""

from __future__ import annotations

import datetime
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from questionnaire_support import (
    CAMPAIGNS,
    CONTACT,
    DUE,
    KEY,
    QUESTIONNAIRE,
    START,
    Inbox,
    body,
    smtp_server,
)
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from unionvote.mail import SMTPMailer
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    do_close,
    do_define_questionnaire,
    do_import_campaigns,
    do_open_correction,
    do_publish,
    do_send_links,
    overview,
)
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database
from unionvote.web.app import SESSION_COOKIE, create_app
from unionvote.web.security import link_csrf_token
from unionvote.web.settings import WebSettings

SECRET = "a test secret that is long enough for the session"
PASSWORD = "committee pass phrase"
PUBLIC = "https://vote.example.org"
ANSWERS = {
    "q-pro-act": "yes",
    "q-trade": "0",
    "q-pensions": "Pass the Butch Lewis Act again and keep the PBGC whole.",
}


@dataclass
class Site:
    services: Services
    clock: FixedClock
    inbox: Inbox
    mailer: SMTPMailer
    client: TestClient
    tokens: dict[str, str]

    def post(self, candidate: str, data: dict[str, str], *, csrf: str | None = None) -> object:
        token = self.tokens[candidate]
        fields = {"csrf_token": csrf or link_csrf_token(SECRET, token), **data}
        return self.client.post(
            f"/questionnaire/answer/{token}", data=fields, follow_redirects=False
        )


def _settings(port: int, **more: object) -> WebSettings:
    values: dict[str, object] = {
        "dev": True,
        "session_secret": SECRET,
        "verify_board": False,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "mail_sender": "committee@union.example",
        "smtp_timeout": 5,
        **more,
    }
    return WebSettings(**values)  # type: ignore[arg-type]


@contextmanager
def site(database: Database, text: str | None = None) -> Iterator[Site]:
    clock = FixedClock(START)
    services = Services(database, clock)
    do_define_questionnaire(services, text or QUESTIONNAIRE.read_text(encoding="utf-8"))
    do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"))
    do_add_staff(services, "rosa", display_name="Rosa", role="committee", password=PASSWORD)
    with smtp_server() as (inbox, mailer):
        do_send_links(services, KEY, mailer, base_url=PUBLIC)
        tokens = {key: inbox.token(address) for key, address in CONTACT.items()}
        client = TestClient(create_app(_settings(mailer.port), services=services))
        yield Site(services, clock, inbox, mailer, client, tokens)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found[1]


def sign_in(client: TestClient) -> str:
    token = csrf_of(client.get("/staff/login").text)
    answer = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": "rosa", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get(f"/committee/questionnaires/{KEY}").text)


def test_members_read_the_published_comparison_until_it_is_published_again(
    database: Database,
) -> None:
    with site(database) as s:
        assert s.post("rivera", {**ANSWERS, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
        token = sign_in(s.client)
        early = s.client.post(
            f"/committee/questionnaires/{KEY}/publish", data={"csrf_token": token}
        )
        assert early.status_code == 409
        assert "publish after the due date" in early.text
        assert s.client.get(f"/questionnaires/{KEY}").status_code == 404
        s.clock.advance(hours=1)
        published = s.client.post(
            f"/committee/questionnaires/{KEY}/publish",
            data={"csrf_token": token, "early": "yes"},
        )
        assert "The comparison is published for members." in published.text

        do_open_correction(s.services, KEY, "rivera", "a typo")
        corrected = {**ANSWERS, "q-pensions": "A corrected answer about the pension plans."}
        assert s.post("rivera", {**corrected, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
        page = s.client.get(f"/questionnaires/{KEY}?lang=en").text
        assert "As published on 2024-02-01 13:00 UTC." in page
        assert "Butch Lewis" in page and "A corrected answer" not in page
        pdf = s.client.get(f"/questionnaires/{KEY}/questionnaire-{KEY}.pdf").content
        assert b"corrected answer" not in pdf.replace(b"\n", b"")  # the PDF is the published one

        s.clock.current = DUE + datetime.timedelta(hours=1)
        do_close(s.services, KEY)
        do_publish(s.services, KEY)
        page = s.client.get(f"/questionnaires/{KEY}?lang=en").text
        assert "A corrected answer" in page and "As published on 2024-03-02 00:59 UTC." in page


def test_the_form_names_the_publication_policy(database: Database) -> None:
    with site(database) as s:
        token = s.tokens["okafor"]
        english = s.client.get(f"/questionnaire/answer/{token}?lang=en").text
        assert (
            "How your answers are published, after the due date: Every answer is published as "
            "the campaign gave it." in english
        )
        spanish = s.client.get(f"/questionnaire/answer/{token}?lang=es").text
        assert "Cómo se publican sus respuestas" in spanish


def test_emailed_links_use_the_public_address(database: Database) -> None:
    with site(database) as s:
        campaign = "lopez,Maria Lopez,Independent,,Press,press@lopez.example,en\n"
        header = CAMPAIGNS.read_text(encoding="utf-8").splitlines()[0]
        do_import_campaigns(s.services, KEY, header + "\n" + campaign)
        # Outside a rehearsal, without UNIONVOTE_PUBLIC_URL: refused, nothing sent.
        bare = TestClient(
            create_app(_settings(s.mailer.port, dev=False), services=s.services),
            base_url="https://evil.example",
        )
        token = sign_in(bare)
        refused = bare.post(f"/committee/questionnaires/{KEY}/send", data={"csrf_token": token})
        assert refused.status_code == 409
        assert "UNIONVOTE_PUBLIC_URL" in refused.text
        assert not s.inbox.to("press@lopez.example")
        lopez = next(c for c in overview(s.services, KEY).campaigns if c.candidate_key == "lopez")
        assert lopez.status == "not-sent"
        # With it: the link is the public address's, whatever Host the request named.
        configured = TestClient(
            create_app(
                _settings(s.mailer.port, dev=False, public_url=PUBLIC + "/"), services=s.services
            ),
            base_url="https://evil.example",
        )
        token = sign_in(configured)
        sent = configured.post(f"/committee/questionnaires/{KEY}/send", data={"csrf_token": token})
        assert sent.status_code == 200, sent.text
        mail = body(s.inbox.to("press@lopez.example")[-1])
        assert f"{PUBLIC}/questionnaire/answer/" in mail and "evil.example" not in mail


LONG = " ".join(["organización"] * 2500)  # 2,500 words; over 90 KB as a posted form


def test_two_long_answers_fit(database: Database) -> None:
    text = QUESTIONNAIRE.read_text(encoding="utf-8").replace("max_words = 150", "max_words = 2500")
    text = text.replace(
        "[translations.es]",
        '[[questions]]\nid = "jobs"\nkind = "text"\ntext = "How will you create union jobs?"\n'
        "max_words = 2500\n\n[translations.es]",
    )
    with site(database, text) as s:
        answers = {**ANSWERS, "q-pensions": LONG, "q-jobs": LONG, "action": "submit"}
        answered = s.post("rivera", answers)
        assert answered.status_code == 303, answered.text  # type: ignore[attr-defined]
        page = s.client.get(f"/questionnaire/answer/{s.tokens['rivera']}").text
        assert "Your answers are submitted" in page and page.count("organización") >= 5000
        # Elsewhere the site's limit is unchanged.
        token = sign_in(s.client)
        big = s.client.post(
            "/committee/questionnaires", data={"csrf_token": token, "text": LONG + LONG}
        )
        assert big.status_code == 413


def test_the_answer_form_csrf_comes_from_the_link_not_the_session(database: Database) -> None:
    with site(database) as s:
        token = s.tokens["okafor"]
        page = s.client.get(f"/questionnaire/answer/{token}").text
        assert csrf_of(page) == link_csrf_token(SECRET, token)
        session_token = csrf_of(s.client.get("/staff/login").text)
        # A fresh browser (no session cookie at all), hours later: the form still posts.
        s.client.cookies.clear()
        assert SESSION_COOKIE not in s.client.cookies
        s.clock.advance(hours=5)
        saved = s.post("okafor", {"q-pro-act": "yes", "action": "draft"})
        assert saved.status_code == 303, saved.text  # type: ignore[attr-defined]
        # The link of another campaign, the session's token, or a made-up one: refused.
        for wrong in (link_csrf_token(SECRET, s.tokens["hale"]), session_token, "0" * 64):
            refused = s.post("okafor", {"q-pro-act": "no", "action": "draft"}, csrf=wrong)
            assert refused.status_code == 403  # type: ignore[attr-defined]
        status = next(c for c in overview(s.services, KEY).campaigns if c.candidate_key == "okafor")
        assert [e.kind for e in status.events].count("draft-saved") == 1
