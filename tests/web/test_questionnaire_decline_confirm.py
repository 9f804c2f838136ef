"""Declining is two steps on the answer form (SQLite and PostgreSQL, a real local SMTP server):
the Decline button shows a page that asks again and says what members will see, recording
nothing; "Go back to the form" keeps the typed reason; only "Yes, decline" records the decline
(its event, its audit entry, its confirmation email). Every refusal holds on both posts."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from questionnaire_support import CONFIRM_DECLINE, CONTACT, DUE, KEY, body, decline_by_link
from test_questionnaire_web_review import ANSWERS, SECRET, Site, csrf_of, site

from unionvote.services.audit import audit_log
from unionvote.services.questionnaire import answer_form, do_open_correction
from unionvote.storage.database import Database
from unionvote.web.security import link_csrf_token

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from test_questionnaire_refusals import altered, snapshot

REASON = "We do not fill in questionnaires.\nOur platform is on our website."


def _ask(s: Site, candidate: str, reason: str = REASON, *, lang: str = "en", **more: str) -> object:
    token = s.tokens[candidate]
    data = {"csrf_token": link_csrf_token(SECRET, token), "reason": reason, **more}
    return s.client.post(
        f"/questionnaire/answer/{token}/decline?lang={lang}", data=data, follow_redirects=False
    )


def _declines(s: Site) -> list[str]:
    return [line.subject for line in audit_log(s.services, action="questionnaire.decline")]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_decline_button_asks_first_and_records_nothing(database: Database, lang: str) -> None:
    with site(database) as s:
        s.client.get(f"/questionnaire/answer/{s.tokens['hale']}?lang={lang}")  # opened
        before, mails = snapshot(database), len(s.inbox.messages)
        asked = _ask(s, "hale", lang=lang)
        assert asked.status_code == 200  # type: ignore[attr-defined]
        page = asked.text  # type: ignore[attr-defined]
        assert asked.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
        assert snapshot(database) == before  # no event, no audit entry, no state
        assert len(s.inbox.messages) == mails  # no confirmation email
        assert answer_form(s.services, s.tokens["hale"]).state == "open"
        assert f'<html lang="{lang}"' in page
        assert CONFIRM_DECLINE in page and 'name="confirm" value="no"' in page
        words = {
            "en": (
                "Decline to answer?",
                "This is final: members will see “Declined to answer”",
                "only the committee can reopen",
                "Yes, decline",
                "Go back to the form",
                "Your reason:",
            ),
            "es": (
                "¿Negarse a responder?",
                "Es definitivo: los miembros verán «Se negó a responder»",
                "solo el comité puede volver a abrirle",
                "Sí, negarse a responder",
                "Volver al formulario",
                "Su motivo:",
            ),
        }[lang]
        for expected in (*words, "Thomas Hale"):
            assert expected in page, expected
        # The reason is shown, and carried in the confirming form (its line break kept).
        shown = re.search(r"<blockquote[^>]*>(.*?)</blockquote>", page, re.DOTALL)
        assert shown is not None and shown[1] == REASON
        hidden = re.search(r'<input type="hidden" name="reason" value="([^"]*)">', page)
        assert hidden is not None and hidden[1] == REASON
        assert csrf_of(page) == link_csrf_token(SECRET, s.tokens["hale"])


def test_no_reason_says_so(database: Database) -> None:
    with site(database) as s:
        asked = _ask(s, "okafor", "   ")
        assert asked.status_code == 200  # type: ignore[attr-defined]
        assert "You gave no reason." in asked.text  # type: ignore[attr-defined]
        assert decline_by_link(s.client, s.tokens["okafor"], csrf_of(asked.text)).status_code == 303  # type: ignore[attr-defined]
        assert answer_form(s.services, s.tokens["okafor"]).decline_reason == ""


@pytest.mark.parametrize("lang", ["en", "es"])
def test_going_back_keeps_the_reason_and_records_nothing(database: Database, lang: str) -> None:
    with site(database) as s:
        s.client.get(f"/questionnaire/answer/{s.tokens['hale']}?lang={lang}")
        before = snapshot(database)
        back = _ask(s, "hale", confirm="no", lang=lang)
        assert back.status_code == 200  # type: ignore[attr-defined]
        page = back.text  # type: ignore[attr-defined]
        assert snapshot(database) == before  # not even an opening
        textarea = re.search(r'<textarea id="decline-reason"([^>]*)>(.*?)</textarea>', page, re.S)
        assert textarea is not None and textarea[2] == REASON
        assert "autofocus" in textarea[1]  # the keyboard is back in the reason
        assert 'role="status"' in page
        assert {
            "en": "Nothing was recorded: your campaign has not declined.",
            "es": "No se registró nada: su campaña no se ha negado a responder.",
        }[lang] in page
        assert 'name="q-pro-act"' in page  # the whole form, to answer after all
        assert answer_form(s.services, s.tokens["hale"]).state == "open"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_yes_decline_records_the_decline_once(database: Database, lang: str) -> None:
    with site(database) as s:
        token = s.tokens["hale"]
        mails = len(s.inbox.messages)
        declined = decline_by_link(
            s.client, token, link_csrf_token(SECRET, token), REASON, query=f"?lang={lang}"
        )
        assert declined.status_code == 303
        assert declined.headers["location"] == f"/questionnaire/answer/{token}#top"
        form = answer_form(s.services, token)
        assert form.state == "declined" and form.decline_reason == REASON
        assert _declines(s) == [f"{KEY}/hale"]  # one audit entry
        assert len(s.inbox.messages) > mails  # the confirmation email
        assert "declines to answer" in body(s.inbox.to(CONTACT["hale"])[-1])
        page = s.client.get(f"/questionnaire/answer/{token}?lang={lang}").text
        assert {
            "en": "Your campaign declined this questionnaire",
            "es": "Su campaña se negó a responder este cuestionario",
        }[lang] in page


def test_refusals_hold_on_both_posts(database: Database) -> None:
    with site(database) as s:
        assert s.post("rivera", {**ANSWERS, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
        brandt = s.tokens["brandt"]
        declined = decline_by_link(s.client, brandt, link_csrf_token(SECRET, brandt))
        assert declined.status_code == 303
        okafor = s.tokens["okafor"]
        bad = altered(okafor)
        before = snapshot(database)
        for step in ({}, {"confirm": "yes"}):
            for candidate, status, check in (
                ("rivera", 409, "questionnaire.submitted"),
                ("brandt", 409, "questionnaire.declined"),
            ):
                answer = _ask(s, candidate, **step)
                assert answer.status_code == status, (step, candidate)  # type: ignore[attr-defined]
                assert f'data-check="{check}"' in answer.text  # type: ignore[attr-defined]
            forged = s.client.post(
                f"/questionnaire/answer/{bad}/decline",
                data={"csrf_token": link_csrf_token(SECRET, bad), "reason": "x", **step},
            )
            assert forged.status_code == 404 and 'data-check="questionnaire.link"' in forged.text
            no_csrf = s.client.post(
                f"/questionnaire/answer/{okafor}/decline", data={"reason": "x", **step}
            )
            assert no_csrf.status_code == 403
            control = _ask(s, "okafor", "bad\x00reason", **step)
            assert control.status_code == 422  # type: ignore[attr-defined]
            long = _ask(s, "okafor", " ".join(["no"] * 201), **step)
            assert long.status_code == 422 and 'id="decline-error"' in long.text  # type: ignore[attr-defined]
        assert snapshot(database) == before

        # During a correction of submitted answers: submit a new version, not decline.
        do_open_correction(s.services, KEY, "rivera", "A typo.")
        before = snapshot(database)
        for step in ({}, {"confirm": "yes"}):
            answer = _ask(s, "rivera", **step)
            assert answer.status_code == 409  # type: ignore[attr-defined]
            assert 'data-check="questionnaire.decline-after-submit"' in answer.text  # type: ignore[attr-defined]
        assert snapshot(database) == before

        # After the due date: the confirmation page no longer leads anywhere.
        asked = _ask(s, "okafor")
        assert asked.status_code == 200  # type: ignore[attr-defined]
        s.clock.advance(seconds=(DUE - s.clock.now()).total_seconds() + 60)
        before = snapshot(database)
        for step in ({}, {"confirm": "yes"}, {"confirm": "no"}):
            late = _ask(s, "okafor", **step)
            assert late.status_code == 410, step  # type: ignore[attr-defined]
        assert snapshot(database) == before
