"""The candidate questionnaire through the website: the campaign's answer form by personal link
(drafts, submission, decline, every refusal with nothing changed), the committee's pages (every
campaign's status with its times; links sent through a real local SMTP server), and the
members' comparison and its PDF in English and Spanish, with "declined" and "did not respond"
written where the answers would be.

The helpers here (a local SMTP inbox, the personal links read from the emails, the text of a
PDF) are also used by ``tests/e2e/test_browser_questionnaire.py``.
"""

from __future__ import annotations

import datetime
import email
import hashlib
import re
import socket
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from pdf_text import _OBJECT, _cmap, _stream, _unescape
from questionnaire_support import decline_by_link
from test_questionnaire_refusals import snapshot

from unionvote.services.audit import audit_log
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    do_define_questionnaire,
    do_import_campaigns,
    overview,
)
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database
from unionvote.storage.models import QuestionnaireEvent, QuestionnaireResponse
from unionvote.web.app import create_app
from unionvote.web.security import link_csrf_token
from unionvote.web.settings import WebSettings

REPO = Path(__file__).resolve().parents[2]
QUESTIONNAIRE_FILE = REPO / "examples" / "questionnaire-2024.toml"
CAMPAIGNS_FILE = REPO / "examples" / "campaigns-2024.csv"
KEY = "issues-2024"
SECRET = "a test secret that is long enough for the session"
PASSWORD = "committee pass phrase"
LINK = re.compile(r"https?://\S+/questionnaire/answer/([A-Za-z0-9_-]+)")
START = datetime.datetime(2024, 2, 1, 12, 0, tzinfo=datetime.UTC)
FIELD = "q-"


# -- helpers (also used by the browser test) ---------------------------------------------------


@dataclass
class Inbox:
    """What a real local SMTP server (aiosmtpd) received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    def links(self) -> dict[str, str]:
        """The latest personal link's token sent to each address."""
        found: dict[str, str] = {}
        for message in self.messages:
            match = LINK.search(body_of(message))
            if match is not None:
                found[str(message["To"])] = match[1]
        return found


def body_of(message: Message) -> str:
    part = message.get_body(("plain",)) if hasattr(message, "get_body") else None
    payload = (part or message).get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    for sub in message.walk():
        data = sub.get_payload(decode=True)
        if isinstance(data, bytes) and sub.get_content_type() == "text/plain":
            return data.decode("utf-8", "replace")
    return ""


@contextmanager
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a free local port; yields its inbox and port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


_STRING = re.compile(rb"\((?:\\.|[^\\)])*\)")


_TEXT_OPS = re.compile(
    rb"/(\w+)\s+[\d.]+\s+Tf"  # a font chosen
    rb"|(\((?:\\.|[^\\)])*\))\s*Tj"  # a literal string shown
    rb"|<([0-9A-Fa-f\s]*)>\s*Tj"  # a hex string shown
    rb"|\[((?:\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|[^\]])*)\]\s*TJ",  # strings and kerning
    re.DOTALL,
)
_IN_ARRAY = re.compile(rb"\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>")


def pdf_text(content: bytes) -> str:
    """The text a PDF made with fpdf2 shows, in the order it is drawn: every page's content
    stream (deflated) read for its shown strings. A string in an embedded Unicode font (two
    bytes a glyph) is read through that font's ToUnicode map, so "Nguyễn" or "Łukasz" reads
    as written; a string in a standard font is Latin-1. Whitespace is collapsed, so a phrase a
    table cell wrapped reads as one line of words."""
    assert content.startswith(b"%PDF-"), "not a PDF"
    objects = {int(m[1]): m[2] for m in _OBJECT.finditer(content)}
    maps: dict[bytes, dict[bytes, str]] = {}  # a font's resource name → its ToUnicode map
    for name, number in re.findall(rb"/(F\d+)\s+(\d+)\s+0\s+R", content):
        font = objects.get(int(number), b"")
        unicode_ref = re.search(rb"/ToUnicode\s+(\d+)\s+0\s+R", font)
        if unicode_ref is not None:
            data = _stream(objects.get(int(unicode_ref[1]), b""))
            if data is not None:
                maps[name] = _cmap(data)
    pieces: list[str] = []
    for body in objects.values():
        if b"/Length1" in body or b"/Subtype" in body.split(b"stream", 1)[0]:
            continue  # an embedded font file or an image, not a page's text
        data = _stream(body)
        if data is None or b"BT" not in data or b"begincmap" in data:
            continue
        current: dict[bytes, str] | None = None

        def shown(raw: bytes, cmap: dict[bytes, str] | None) -> str:
            if cmap is None:
                return raw.decode("latin-1")
            return "".join(cmap.get(raw[i : i + 2], "\ufffd") for i in range(0, len(raw), 2))

        for match in _TEXT_OPS.finditer(data):
            font, literal, hexed, array = match.groups()
            if font is not None:
                current = maps.get(font)
            elif literal is not None:
                pieces.append(shown(_unescape(literal), current))
            elif hexed is not None:
                pieces.append(shown(bytes.fromhex(hexed.decode()), current))
            elif array is not None:
                pieces.append(
                    "".join(
                        shown(
                            _unescape(item)
                            if item.startswith(b"(")
                            else bytes.fromhex(item[1:-1].decode()),
                            current,
                        )
                        for item in _IN_ARRAY.findall(array)
                    )
                )
    return " ".join(" ".join(pieces).split())


# -- the site ----------------------------------------------------------------------------------


@dataclass
class QuestionnaireSite:
    services: Services
    clock: FixedClock
    client: TestClient
    inbox: Inbox
    tokens: dict[str, str]  # candidate key → personal link token

    def form(self, candidate: str, lang: str = "en") -> Any:
        return self.client.get(f"/questionnaire/answer/{self.tokens[candidate]}?lang={lang}")

    def post(self, candidate: str, data: dict[str, str], *, decline: bool = False) -> Any:
        token = self.tokens[candidate]
        path = f"/questionnaire/answer/{token}" + ("/decline" if decline else "")
        data = {"csrf_token": link_csrf_token(SECRET, token), **data}
        return self.client.post(path, data=data, follow_redirects=False)

    def decline(self, candidate: str, reason: str = "") -> Any:
        """Decline through the confirmation page ("Yes, decline"); the second answer."""
        token = self.tokens[candidate]
        return decline_by_link(self.client, token, link_csrf_token(SECRET, token), reason)

    def csrf(self) -> str:
        """The session's CSRF token (the staff login page shows it and records nothing)."""
        return csrf_of(self.client.get("/staff/login").text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


CONTACTS = {
    "rivera": "questionnaire@rivera2024.example",
    "hale": "outreach@hale2024.example",
    "okafor": "issues@okafor2024.example",
    "brandt": "info@brandt2024.example",
}


@contextmanager
def questionnaire_site(database: Database) -> Iterator[QuestionnaireSite]:
    """The example questionnaire and campaigns, the committee signed in, the links sent from
    the committee's page through a real local SMTP server."""
    clock = FixedClock(START)
    services = Services(database, clock, actor="committee (tests)")
    do_define_questionnaire(services, QUESTIONNAIRE_FILE.read_text(encoding="utf-8"))
    do_import_campaigns(services, KEY, CAMPAIGNS_FILE.read_text(encoding="utf-8"))
    do_add_staff(services, "rosa", display_name="Rosa", role="committee", password=PASSWORD)
    do_add_staff(
        services, "omar", display_name="Omar", role="observer", password="observer pass phrase"
    )
    with smtp_inbox() as (inbox, port):
        settings = WebSettings(
            dev=True,
            session_secret=SECRET,
            verify_board=False,
            smtp_host="127.0.0.1",
            smtp_port=port,
            mail_sender="committee@union.example",
            smtp_timeout=5,
        )
        client = TestClient(create_app(settings, services=services))
        staff_sign_in(client, "rosa", PASSWORD)
        page = client.get(f"/committee/questionnaires/{KEY}")
        sent = client.post(
            f"/committee/questionnaires/{KEY}/send",
            data={"csrf_token": csrf_of(page.text)},
        )
        assert sent.status_code == 200, sent.text
        assert "The personal links are sent." in sent.text
        links = inbox.links()
        tokens = {key: links[address] for key, address in CONTACTS.items()}
        # The second contact of the Rivera campaign got the same link.
        assert links["policy@rivera2024.example"] == tokens["rivera"]
        client.post("/staff/logout", data={"csrf_token": csrf_of(client.get(page.url).text)})
        yield QuestionnaireSite(services, clock, client, inbox, tokens)


def staff_sign_in(client: TestClient, username: str, password: str) -> None:
    token = csrf_of(client.get("/staff/login").text)
    answer = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": username, "password": password},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def responses(database: Database) -> int:
    """How many submitted (frozen) versions there are."""
    with database.sessions() as session:
        count = session.scalar(
            select(func.count())
            .select_from(QuestionnaireResponse)
            .where(QuestionnaireResponse.status == "submitted")
        )
        return count or 0


def events(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(QuestionnaireEvent)) or 0


ANSWERS = {
    f"{FIELD}pro-act": "yes",
    f"{FIELD}trade": "0",
    f"{FIELD}pensions": "Pass the Butch Lewis Act again and keep the PBGC whole.",
}


# -- the answer form ---------------------------------------------------------------------------


def test_a_campaign_saves_a_draft_submits_and_is_confirmed(database: Database) -> None:
    with questionnaire_site(database) as site:
        page = site.form("rivera")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        text = page.text
        assert "2024 Presidential Candidate Questionnaire" in text
        assert "Answers are due by 2024-03-01 23:59 UTC." in text
        assert "Ana Rivera" in text and "Democratic" in text
        for label in ("Save a draft", "Submit my answers", "Decline the questionnaire"):
            assert label in text
        assert "At most 150 words." in text

        draft = site.post("rivera", {f"{FIELD}pro-act": "yes", "action": "draft"})
        assert draft.status_code == 303
        again = site.form("rivera").text
        assert "Your draft is saved" in again and "1 of 3 questions answered" in again
        assert re.search(r'value="yes" checked', again)
        assert responses(database) == 0

        site.clock.advance(hours=1)
        done = site.post("rivera", {**ANSWERS, "action": "submit"})
        assert done.status_code == 303, done.text
        confirmation = site.client.get(done.headers["location"].split("#")[0]).text
        assert "Your answers are submitted" in confirmation
        assert "Version 1 of your answers was received on 2024-02-01 13:00 UTC" in confirmation
        assert "questionnaire@rivera2024.example" in confirmation
        assert "Pass the Butch Lewis Act again" in confirmation
        assert "Submit my answers" not in confirmation  # frozen: no form any more
        assert responses(database) == 1
        confirmations = site.inbox.to("questionnaire@rivera2024.example")
        assert len(confirmations) == 2  # the link, then the confirmation with the answers
        assert "Butch Lewis" in body_of(confirmations[-1])

        # A second submission is refused, plainly, and changes nothing.
        second = site.post("rivera", {**ANSWERS, f"{FIELD}pro-act": "no", "action": "submit"})
        assert second.status_code == 409
        assert "UTC and are frozen. Nothing was changed." in second.text  # with its time
        assert responses(database) == 1

        status = {c.candidate_key: c for c in overview(site.services, KEY).campaigns}
        assert status["rivera"].status == "submitted"
        assert status["rivera"].submitted_at == START + datetime.timedelta(hours=1)
        assert status["rivera"].draft_saved_at == START
        assert status["rivera"].opened_at == START
        actors = {entry.actor for entry in audit_log(site.services)}
        assert "campaign:rivera" in actors


def test_the_form_in_spanish(database: Database) -> None:
    with questionnaire_site(database) as site:
        page = site.form("okafor", lang="es").text
        assert '<html lang="es">' in page
        assert "Cuestionario para candidatos presidenciales 2024" in page
        assert "¿Firmará la Ley PRO?" in page
        assert "Normas laborales exigibles en cada acuerdo comercial" in page
        assert "Guardar un borrador" in page and "Enviar mis respuestas" in page
        assert "Las respuestas deben llegar a más tardar el 2024-03-01 23:59 UTC." in page


def test_bad_input_is_refused_and_nothing_changes(database: Database) -> None:
    with questionnaire_site(database) as site:
        token = site.tokens["okafor"]
        before = events(database)
        altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        answer = site.client.get(f"/questionnaire/answer/{altered}")
        assert answer.status_code == 404
        assert "This link is not valid." in answer.text
        assert site.client.get("/questionnaire/answer/short").status_code == 404

        posted = site.client.post(
            f"/questionnaire/answer/{altered}",
            data={"csrf_token": link_csrf_token(SECRET, altered), **ANSWERS},
        )
        assert posted.status_code == 404 and "This link is not valid." in posted.text
        assert events(database) == before

        site.post("okafor", {f"{FIELD}pro-act": "no", "action": "draft"})
        # Every questionnaire table and the audit log, as the service refusal tests compare
        # them: a refused post (and the form shown again beside it) records nothing at all.
        draft = snapshot(database)
        long_text = " ".join(["word"] * 151)
        oversized = site.post(
            "okafor", {**ANSWERS, f"{FIELD}pensions": long_text, "action": "submit"}
        )
        assert oversized.status_code == 422
        assert "This answer has 151 words; at most 150 are allowed." in oversized.text
        assert "Nothing was submitted." in oversized.text
        assert long_text in oversized.text  # what they typed is kept on the page
        assert responses(database) == 0

        incomplete = site.post("okafor", {f"{FIELD}pro-act": "yes", "action": "submit"})
        assert incomplete.status_code == 422
        assert "This question needs an answer before you submit." in incomplete.text
        bad_choice = site.post("okafor", {f"{FIELD}trade": "7", "action": "draft"})
        assert bad_choice.status_code == 422
        assert "Choose one of the answers offered." in bad_choice.text
        unknown = site.post("okafor", {f"{FIELD}wages": "yes", "action": "draft"})
        assert unknown.status_code == 422
        assert snapshot(database) == draft  # each refusal left everything as it was

        # After the due date: the link has expired, and a post is refused.
        site.clock.current = datetime.datetime(2024, 3, 2, tzinfo=datetime.UTC)
        late = site.post("okafor", {**ANSWERS, "action": "submit"})
        assert late.status_code == 410
        assert "answers are no longer accepted. Nothing was saved." in late.text
        late_draft = site.post("okafor", {f"{FIELD}pro-act": "yes", "action": "draft"})
        assert late_draft.status_code == 410
        expired = site.form("okafor")
        assert expired.status_code == 410 and "This link has expired" in expired.text
        assert snapshot(database) == draft


def test_a_campaign_declines(database: Database) -> None:
    with questionnaire_site(database) as site:
        declined = site.decline("hale", "We do not fill in questionnaires.")
        assert declined.status_code == 303
        page = site.form("hale").text
        assert "Your campaign declined this questionnaire" in page
        assert "We do not fill in questionnaires." in page
        after = site.post("hale", {**ANSWERS, "action": "submit"})
        assert after.status_code == 409 and "declined this questionnaire" in after.text
        assert responses(database) == 0


# -- the committee and the members -------------------------------------------------------------


def test_the_committee_sees_every_step_and_members_see_the_comparison(
    database: Database,
) -> None:
    with questionnaire_site(database) as site:
        site.form("rivera")
        site.post("rivera", {**ANSWERS, "action": "submit"})
        site.form("okafor", lang="es")
        site.post(
            "okafor",
            {
                f"{FIELD}pro-act": "no",
                f"{FIELD}trade": "2",
                f"{FIELD}pensions": "Con un fondo federal de garantía.",
                "action": "submit",
            },
        )
        assert site.decline("hale").status_code == 303

        client = site.client
        assert client.get(f"/questionnaires/{KEY}").status_code == 404  # not published yet
        staff_sign_in(client, "rosa", PASSWORD)
        page = client.get(f"/committee/questionnaires/{KEY}").text
        assert "Every campaign" in page
        for words in ("Submitted", "Declined", "Sent", "2024-02-01 12:00 UTC"):
            assert words in page
        assert "Close: record who did not respond" not in page  # not yet due

        site.clock.current = datetime.datetime(2024, 3, 2, tzinfo=datetime.UTC)
        token = csrf_of(page)
        closed = client.post(f"/committee/questionnaires/{KEY}/close", data={"csrf_token": token})
        assert closed.status_code == 200 and "The questionnaire is closed" in closed.text
        assert "Did not respond by the due date" in closed.text
        published = client.post(
            f"/committee/questionnaires/{KEY}/publish", data={"csrf_token": token}
        )
        assert "The comparison is published for members." in published.text
        client.post("/staff/logout", data={"csrf_token": token})

        english = client.get(f"/questionnaires/{KEY}?lang=en").text
        for words in (
            "Ana Rivera", "Grace Okafor", "Thomas Hale", "Victor Brandt",
            "Answered", "Declined to answer", "Did not respond",
            "Enforceable labor standards in every trade agreement",
            "Withdraw from agreements that cost union jobs",
            "Butch Lewis", "Con un fondo federal de garantía.",
        ):  # fmt: skip
            assert words in english, words
        row = re.search(r'<tr data-candidate="brandt">.*?</tr>', english, re.DOTALL)
        assert row is not None and "Did not respond" in row[0]
        spanish = client.get(f"/questionnaires/{KEY}?lang=es").text
        for words in ("Respondió", "Se negó a responder", "No respondió", "¿Firmará la Ley PRO?"):
            assert words in spanish, words

        listing = client.get("/questionnaires").text
        name = f"questionnaire-{KEY}.json"
        assert name in listing
        document = client.get(f"/questionnaires/{KEY}/{name}")
        assert document.status_code == 200
        assert hashlib.sha256(document.content).hexdigest() in listing

        for lang, words in (
            ("en", ("Declined to answer", "Did not respond", "Answered")),
            ("es", ("Se negó a responder", "No respondió", "Respondió")),
        ):
            name = f"questionnaire-{KEY}.pdf" if lang == "en" else f"questionnaire-{KEY}-es.pdf"
            pdf = client.get(f"/questionnaires/{KEY}/{name}")
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            text = pdf_text(pdf.content)
            for expected in (*words, "Ana Rivera", "Thomas Hale", "Grace Okafor", "Victor Brandt"):
                assert expected in text, (lang, expected, text)


def test_observers_read_but_cannot_send(database: Database) -> None:
    with questionnaire_site(database) as site:
        staff_sign_in(site.client, "omar", "observer pass phrase")
        page = site.client.get(f"/committee/questionnaires/{KEY}")
        assert page.status_code == 200
        assert "Send the personal links" not in page.text
        refused = site.client.post(
            f"/committee/questionnaires/{KEY}/remind", data={"csrf_token": csrf_of(page.text)}
        )
        assert refused.status_code == 403
        assert site.client.get("/committee/questionnaires").status_code == 200
