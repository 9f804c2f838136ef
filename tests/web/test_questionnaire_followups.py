"""Fixes from the questionnaire's third review, through the website (SQLite and PostgreSQL, a
real local SMTP server): a long free-text answer flows across the PDF's pages; a declined
campaign that the committee reopens stays "declined" unless it answers; the form's redirect
after a save, a submission or a decline records no new opening; "Send reminders" says why it
sent nothing before a reminder day."""

from __future__ import annotations

import datetime
import re

from questionnaire_support import CONTACT, DUE, KEY, QUESTIONNAIRE, body, decline_by_link
from test_questionnaire import pdf_text
from test_questionnaire_web_review import ANSWERS, Site, csrf_of, sign_in, site

from unionvote.services.questionnaire import (
    CampaignStatus,
    do_close,
    do_open_correction,
    do_publish,
    overview,
)
from unionvote.storage.database import Database

LONG_ANSWER = " ".join(f"pension{i}" for i in range(400))  # 400 words: pages of PDF text


def _status(s: Site, candidate: str) -> CampaignStatus:
    return next(c for c in overview(s.services, KEY).campaigns if c.candidate_key == candidate)


def _after_due(s: Site) -> None:
    s.clock.advance(seconds=(DUE - s.clock.now()).total_seconds() + 3600)


def test_a_long_text_answer_flows_across_the_pdf_pages(database: Database) -> None:
    text = QUESTIONNAIRE.read_text(encoding="utf-8").replace("max_words = 150", "max_words = 500")
    with site(database, text) as s:
        answered = s.post("rivera", {**ANSWERS, "q-pensions": LONG_ANSWER, "action": "submit"})
        assert answered.status_code == 303  # type: ignore[attr-defined]
        hale = f"/questionnaire/answer/{s.tokens['hale']}"
        declined = decline_by_link(
            s.client, s.tokens["hale"], csrf_of(s.client.get(hale).text), "Not this year."
        )
        assert declined.status_code == 303
        _after_due(s)
        do_close(s.services, KEY)
        do_publish(s.services, KEY)
        for name, words in (
            (f"questionnaire-{KEY}.pdf", ("Declined to answer", "Did not respond")),
            (f"questionnaire-{KEY}-es.pdf", ("Se negó a responder", "No respondió")),
        ):
            pdf = s.client.get(f"/questionnaires/{KEY}/{name}")
            assert pdf.status_code == 200, pdf.text
            # The answer runs onto the next page: the page footer falls inside it.
            shown = pdf_text(pdf.content)
            assert re.search(r"pension\d+ (Page|Página) 1 pension\d+", shown), name
            shown = re.sub(r" (Page|Página) \d+ ", " ", shown)
            assert LONG_ANSWER in shown, name
            for expected in words:
                # Under the text question, each silent campaign has its own block saying so.
                assert shown.count(expected) >= 2, (name, expected)


def test_a_reopened_declined_campaign_stays_declined_unless_it_answers(
    database: Database,
) -> None:
    with site(database) as s:
        for candidate, reason in (("hale", "We do not fill in questionnaires."), ("okafor", "")):
            token = s.tokens[candidate]
            page = s.client.get(f"/questionnaire/answer/{token}").text
            declined = decline_by_link(s.client, token, csrf_of(page), reason)
            assert declined.status_code == 303
        staff = sign_in(s.client)
        committee = s.client.get(f"/committee/questionnaires/{KEY}").text
        assert "Open a correction for Thomas Hale" in committee
        for candidate in ("hale", "okafor"):
            opened = s.client.post(
                f"/committee/questionnaires/{KEY}/campaigns/{candidate}/correction",
                data={"csrf_token": staff, "reason": "They asked to answer after all."},
            )
            assert opened.status_code == 200, opened.text
            assert "A correction is open" in opened.text
            assert _status(s, candidate).status == "declined"
        assert "Open a correction for Thomas Hale" not in opened.text  # open already
        # The reopened campaign may answer: the form is open again, and it can submit.
        form = s.client.get(f"/questionnaire/answer/{s.tokens['hale']}").text
        assert 'name="q-pro-act"' in form
        assert s.post("okafor", {**ANSWERS, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
        assert _status(s, "okafor").status == "submitted"
        # Hale stays silent: after the close it is still "declined", with its reason.
        _after_due(s)
        closed = do_close(s.services, KEY)
        assert "hale" not in closed.no_response
        assert _status(s, "hale").status == "declined"
        do_publish(s.services, KEY)
        members = s.client.get(f"/questionnaires/{KEY}?lang=en").text
        row = re.search(r'<tr data-candidate="hale">.*?</tr>', members, re.DOTALL)
        assert row is not None
        assert "Declined to answer" in row[0] and "We do not fill in questionnaires." in row[0]
        okafor = re.search(r'<tr data-candidate="okafor">.*?</tr>', members, re.DOTALL)
        assert okafor is not None and "Answered" in okafor[0]


def test_the_redirect_after_a_post_is_not_an_opening(database: Database) -> None:
    with site(database) as s:
        url = f"/questionnaire/answer/{s.tokens['rivera']}"
        assert s.client.get(url).status_code == 200
        saved = s.post("rivera", {"q-pro-act": "yes", "action": "draft"})
        assert saved.headers["location"].startswith(url)  # type: ignore[attr-defined]
        shown = s.client.get(saved.headers["location"])  # type: ignore[attr-defined]
        assert "Your draft is saved" in shown.text
        submitted = s.post("rivera", {**ANSWERS, "action": "submit"})
        shown = s.client.get(submitted.headers["location"])  # type: ignore[attr-defined]
        assert "Thank you. Version 1 of your answers was received" in shown.text
        kinds = [e.kind for e in _status(s, "rivera").events]
        assert kinds.count("opened") == 1, kinds
        # Reloading or switching the language the same day is no new opening; a visit on a
        # later day is (the first of each day, in the questionnaire's zone).
        s.client.get(url)
        s.client.get(url + "?lang=es")
        assert [e.kind for e in _status(s, "rivera").events].count("opened") == 1
        s.clock.advance(days=1)
        s.client.get(url)
        s.client.get(url + "?lang=en")
        assert [e.kind for e in _status(s, "rivera").events].count("opened") == 2


def test_send_reminders_says_why_none_went(database: Database) -> None:
    with site(database) as s:
        staff = sign_in(s.client)
        early = s.client.post(f"/committee/questionnaires/{KEY}/remind", data={"csrf_token": staff})
        assert early.status_code == 200, early.text
        assert "No reminder was sent." in early.text
        assert (
            "Not reminded: 4, because no reminder day has come yet; the next is on "
            "2024-02-23 23:59 UTC." in early.text
        ), early.text
        s.clock.advance(seconds=(DUE - datetime.timedelta(days=7) - s.clock.now()).total_seconds())
        s.clock.advance(hours=1)
        sent = s.client.post(f"/committee/questionnaires/{KEY}/remind", data={"csrf_token": staff})
        assert "Reminders are sent. Sent: 5." in sent.text, sent.text
        again = s.client.post(f"/committee/questionnaires/{KEY}/remind", data={"csrf_token": staff})
        assert "Already sent a link or reminder since the latest reminder day: 4." in again.text
        assert "The next reminder day is 2024-02-28 23:59 UTC." in again.text


def test_an_earlier_publication_is_read_by_its_sha256(database: Database) -> None:
    with site(database) as s:
        assert s.post("rivera", {**ANSWERS, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
        first = do_publish(s.services, KEY, early=True)
        do_open_correction(s.services, KEY, "rivera", "a typo")
        corrected = {**ANSWERS, "q-pensions": "A corrected answer about the pension plans."}
        assert s.post("rivera", {**corrected, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
        _after_due(s)
        do_close(s.services, KEY)
        second = do_publish(s.services, KEY)
        assert first.sha256 != second.sha256
        # The endorsement record's link names the first file: that one is shown, and the page
        # says a newer publication exists; its files are the first publication's too.
        old = s.client.get(f"/questionnaires/{KEY}?sha256={first.sha256}&lang=en").text
        assert "Butch Lewis" in old and "A corrected answer" not in old
        assert "A newer publication exists, from 2024-03-02 00:59 UTC" in old
        assert f"?sha256={first.sha256}" in old
        document = s.client.get(f"/questionnaires/{KEY}/{first.name}?sha256={first.sha256}")
        assert document.content == first.content
        pdf = s.client.get(f"/questionnaires/{KEY}/questionnaire-{KEY}.pdf?sha256={first.sha256}")
        assert "Butch Lewis" in pdf_text(pdf.content)
        assert "corrected answer" not in pdf_text(pdf.content)
        latest = s.client.get(f"/questionnaires/{KEY}?sha256={second.sha256}&lang=en").text
        assert "A corrected answer" in latest and "A newer publication exists" not in latest
        assert s.client.get(f"/questionnaires/{KEY}?sha256={'0' * 64}").status_code == 404
        assert s.client.get(f"/questionnaires/{KEY}?sha256=nonsense").status_code == 404


def test_the_decline_confirmation_does_not_promise_publication_when_private(
    database: Database,
) -> None:
    text = QUESTIONNAIRE.read_text(encoding="utf-8").replace(
        'publication = "publish-all"', 'publication = "private"'
    )
    with site(database, text) as s:
        hale = f"/questionnaire/answer/{s.tokens['hale']}"
        form = s.client.get(hale).text
        assert "Members will see that you declined" not in form
        asked = s.client.post(
            f"{hale}/decline", data={"csrf_token": csrf_of(form), "reason": "No."}
        )
        assert "nothing is published to members" in asked.text  # the confirmation page
        assert "Members will see" not in asked.text and "members will see" not in asked.text
        assert decline_by_link(s.client, s.tokens["hale"], csrf_of(form), "No.").status_code == 303
        declined = s.client.get(hale)
        assert "nothing is published to members" in declined.text
        mail = body(s.inbox.to(CONTACT["hale"])[-1])
        assert "declines to answer" in mail
        assert "Members will see" not in mail and "nothing is published to members" in mail
