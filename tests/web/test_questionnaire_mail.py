"""A bounced confirmation of a campaign's answers is recorded as a bounce, not as sent: the
questionnaire's pages give the service the mail server as it answers, while the members'
one-time codes keep the quiet wrapper that hides a refusal. A real local SMTP server (aiosmtpd)
refuses the address; on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings

from questionnaire_support import CONTACT, KEY, START, setup_questionnaire, smtp_server
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from unionvote.mail import Mail, SMTPMailer
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import overview
from unionvote.storage.database import Database
from unionvote.web.app import QuietMailer, create_app
from unionvote.web.security import link_csrf_token
from unionvote.web.settings import WebSettings

SECRET = "a test secret that is long enough for the session"
ANSWERS = {
    "q-pro-act": "yes",
    "q-trade": "0",
    "q-pensions": "Pass the Butch Lewis Act again and keep the PBGC whole.",
}


def kinds(services: Services, candidate: str) -> list[str]:
    status = next(c for c in overview(services, KEY).campaigns if c.candidate_key == candidate)
    return [event.kind for event in status.events]


def test_a_refused_confirmation_is_recorded_as_bounced(database: Database) -> None:
    services = Services(database, FixedClock(START))
    with smtp_server() as (inbox, mailer):
        tokens = setup_questionnaire(services, mailer, inbox)
        settings = WebSettings(
            dev=True,
            session_secret=SECRET,
            verify_board=False,
            smtp_host=mailer.host,
            smtp_port=mailer.port,
            mail_sender="committee@union.example",
            smtp_timeout=5,
        )
        app = create_app(settings, services=services)
        client = TestClient(app)
        # The codes' mailer stays quiet; the questionnaire's is the server as it answers.
        assert isinstance(app.state.mailer, QuietMailer)
        assert isinstance(app.state.mail_server, SMTPMailer)
        assert app.state.mail_server is app.state.mailer.mailer

        inbox.refuse.add(CONTACT["hale"])
        for candidate in ("hale", "okafor"):
            answered = client.post(
                f"/questionnaire/answer/{tokens[candidate]}",
                data={
                    "csrf_token": link_csrf_token(SECRET, tokens[candidate]),
                    **ANSWERS,
                    "action": "submit",
                },
                follow_redirects=False,
            )
            assert answered.status_code == 303, answered.text

        hale = kinds(services, "hale")
        assert "submitted" in hale and "confirmation-bounced" in hale
        assert "confirmation-sent" not in hale
        assert kinds(services, "okafor")[-1] == "confirmation-sent"
        assert not [m for m in inbox.to(CONTACT["hale"]) if "received" in str(m["Subject"])]
        assert [m for m in inbox.to(CONTACT["okafor"]) if "received" in str(m["Subject"])]

        # A one-time code to a refused address is still swallowed (nothing tells a stranger).
        assert app.state.mailer.send(Mail(CONTACT["hale"], "Your code", "123456")) == ""
