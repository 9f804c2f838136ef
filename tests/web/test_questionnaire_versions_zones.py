"""A correction is a new, visible version: each earlier version's answers are on the comparison
page (a disclosure per candidate, both languages) and in the PDF after the current answers.
Times are shown in the questionnaire's own zone: the offset its due date was written with
(SQLite and PostgreSQL, a real local SMTP server)."""

from __future__ import annotations

import html
import re

from questionnaire_support import DUE, KEY, QUESTIONNAIRE
from test_questionnaire import pdf_text
from test_questionnaire_web_review import ANSWERS, Site, sign_in, site

from unionvote.services.questionnaire import do_close, do_open_correction, do_publish
from unionvote.storage.database import Database

CORRECTED = {**ANSWERS, "q-pro-act": "no", "q-pensions": "A corrected answer about pensions."}


def _after_due(s: Site) -> None:
    s.clock.advance(seconds=(DUE - s.clock.now()).total_seconds() + 3600 * 6)


def _corrected_and_published(s: Site) -> None:
    assert s.post("rivera", {**ANSWERS, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
    s.clock.advance(days=2)
    do_open_correction(s.services, KEY, "rivera", "a typo")
    s.clock.advance(hours=3)
    assert s.post("rivera", {**CORRECTED, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
    _after_due(s)
    do_close(s.services, KEY)
    do_publish(s.services, KEY)


def test_earlier_versions_answers_are_on_the_page_and_in_the_pdf(database: Database) -> None:
    with site(database) as s:
        _corrected_and_published(s)
        page = html.unescape(s.client.get(f"/questionnaires/{KEY}?lang=en").text)
        details = re.search(
            r'<details class="earlier-versions" data-candidate="rivera">(.*?)</details>', page, re.S
        )
        assert details is not None, page
        inside = details[1]
        assert "<summary>" in inside and "Read the earlier versions" in inside
        assert (
            "Version 1, submitted 2024-02-01 12:00 UTC, replaced by version 2 on "
            "2024-02-03 15:00 UTC" in inside
        )
        # Version 1's own answers, under their questions (the current ones are above).
        assert "Pass the Butch Lewis Act again" in inside
        assert "<dt>" in inside and ">Yes<" in inside
        assert "A corrected answer" not in inside
        current = page[: page.index('<details class="earlier-versions"')]
        assert "A corrected answer about pensions." in current
        assert "Pass the Butch Lewis Act" not in current
        # No other campaign corrected: one disclosure only.
        assert page.count('<details class="earlier-versions"') == 1

        es = html.unescape(s.client.get(f"/questionnaires/{KEY}?lang=es").text)
        assert (
            "Versión 1, enviada el 2024-02-01 12:00 UTC, reemplazada por la versión 2 el "
            "2024-02-03 15:00 UTC" in es
        )
        assert "Lea las versiones anteriores" in es and ">Sí<" in es

        for name, heading, label in (
            (
                f"questionnaire-{KEY}.pdf",
                "Earlier versions of corrected answers",
                "version 1, submitted 2024-02-01 12:00 UTC, replaced by version 2 on "
                "2024-02-03 15:00 UTC",
            ),
            (
                f"questionnaire-{KEY}-es.pdf",
                "Versiones anteriores de respuestas corregidas",
                "versión 1, enviada el 2024-02-01 12:00 UTC, reemplazada por la versión 2 el "
                "2024-02-03 15:00 UTC",
            ),
        ):
            shown = pdf_text(s.client.get(f"/questionnaires/{KEY}/{name}").content)
            assert heading in shown, (name, shown)
            after = shown[shown.index(heading) :]
            assert label in after, (name, after)
            assert "Pass the Butch Lewis Act again" in after, name
            # The current answers come first; the earlier version's text only after them.
            assert shown.index("A corrected answer about pensions.") < shown.index(heading)
            assert "Pass the Butch Lewis Act again" not in shown[: shown.index(heading)]


def test_times_are_shown_in_the_questionnaire_zone(database: Database) -> None:
    text = QUESTIONNAIRE.read_text(encoding="utf-8").replace(
        "due = 2024-03-01T23:59:00Z", "due = 2024-03-01T18:59:00-05:00"
    )
    assert text != QUESTIONNAIRE.read_text(encoding="utf-8")
    with site(database, text) as s:  # the same instant as the UTC example, written in -05:00
        token = s.tokens["rivera"]
        form = html.unescape(s.client.get(f"/questionnaire/answer/{token}?lang=en").text)
        assert "Answers are due by 2024-03-01 18:59 UTC-05:00." in form
        assert "UTC-05:00" in form and " UTC." not in form
        saved = s.post("rivera", {**ANSWERS, "action": "save"})
        assert saved.status_code == 303  # type: ignore[attr-defined]
        form = html.unescape(s.client.get(f"/questionnaire/answer/{token}?lang=en").text)
        assert "2024-02-01 07:00 UTC-05:00" in form  # the draft's time (12:00 UTC)
        assert "2024-03-01 18:59 UTC-05:00" in html.unescape(
            s.client.get(f"/questionnaire/answer/{token}?lang=es").text
        )

        sign_in(s.client)
        committee = html.unescape(s.client.get(f"/committee/questionnaires/{KEY}").text)
        assert "Answers are due by 2024-03-01 18:59 UTC-05:00." in committee
        assert "2024-02-01 07:00 UTC-05:00" in committee  # links sent, draft saved
        assert " UTC<" not in committee and "00 UTC " not in committee
        listing = html.unescape(s.client.get("/committee/questionnaires").text)
        assert "2024-03-01 18:59 UTC-05:00" in listing

        _corrected_and_published(s)
        page = html.unescape(s.client.get(f"/questionnaires/{KEY}?lang=en").text)
        assert "Answers were due by 2024-03-01 18:59 UTC-05:00." in page
        assert "2024-02-03 10:00 UTC-05:00" in page  # version 2, submitted 15:00 UTC
        assert "version 2 on 2024-02-03 10:00 UTC-05:00" in page
        # The machine-readable times stay exact instants.
        assert 'datetime="2024-02-03T15:00:00+00:00"' in page
        for name in (f"questionnaire-{KEY}.pdf", f"questionnaire-{KEY}-es.pdf"):
            shown = pdf_text(s.client.get(f"/questionnaires/{KEY}/{name}").content)
            assert "2024-03-01 18:59 UTC-05:00" in shown, (name, shown)
            assert "2024-02-03 10:00 UTC-05:00" in shown, name
            assert " UTC " not in shown.replace("UTC-05:00", ""), name
