"""Names in any script in the PDF (an embedded Unicode font), every time in the
questionnaire's own zone (refusals, the reminders' next day, the published list, the
terminal), and the parties in Spanish on the Spanish pages and PDF (SQLite and PostgreSQL, a
real local SMTP server)."""

from __future__ import annotations

import datetime
import html

import pytest
from questionnaire_support import (
    BASE_URL,
    DUE,
    KEY,
    QUESTIONNAIRE,
    START,
    smtp_server,
)
from test_questionnaire import pdf_text
from test_questionnaire_web_review import ANSWERS, sign_in, site
from typer.testing import CliRunner

from unionvote.cli.main import app as cli
from unionvote.domain.questionnaire import QuestionnaireError
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    CampaignInput,
    ContactInput,
    do_add_campaign,
    do_close,
    do_decline,
    do_define_questionnaire,
    do_open_form,
    do_publish,
    do_send_links,
    do_send_reminders,
    do_submit,
    published_view,
)
from unionvote.services.questionnaire_pdf import comparison_pdf
from unionvote.storage.database import Database

ZONED = QUESTIONNAIRE.read_text(encoding="utf-8").replace(
    "due = 2024-03-01T23:59:00Z", "due = 2024-03-01T18:59:00-05:00"
)
NAMES = {
    "nguyen": ("Nguyễn Thị Minh Khai", "Democratic"),
    "zolc": ("Łukasz Żółć", "Independent"),
    "papadopoulos": ("Γιώργος Παπαδόπουλος", "Republican"),
    "ivanov": ("Дмитрий Иванов", "Independent"),
}
ANSWER = "Chúng tôi ủng hộ công đoàn — “every worker”, ½ of the plan; Ελλάδα and Россия too."


def test_names_in_any_script_are_printed_in_the_pdf(database: Database) -> None:
    clock = FixedClock(START)
    services = Services(database, clock)
    do_define_questionnaire(services, QUESTIONNAIRE.read_text(encoding="utf-8"))
    for key, (name, party) in NAMES.items():
        do_add_campaign(
            services,
            KEY,
            CampaignInput(key, name, party, "", (ContactInput("Ann", f"{key}@campaign.example"),)),
        )
    with smtp_server() as (inbox, mailer):
        do_send_links(services, KEY, mailer, base_url=BASE_URL)
        tokens = {key: inbox.token(f"{key}@campaign.example") for key in NAMES}
    do_submit(
        services, tokens["nguyen"], {"pro-act": "yes", "trade": "1", "pensions": ANSWER}, None
    )
    do_decline(services, tokens["zolc"], "Nie odpowiadamy na ankiety — dziękujemy.", None)
    clock.advance(days=40)
    do_close(services, KEY)
    do_publish(services, KEY)
    for language, statuses, parties in (
        ("en", ("Answered", "Declined to answer", "Did not respond"), ("Democratic",)),
        ("es", ("Respondió", "Se negó a responder", "No respondió"), ("Demócrata", "Republicano")),
    ):
        shown = pdf_text(comparison_pdf(published_view(services, KEY, language=language)))
        for name, _party in NAMES.values():
            assert name in shown, (language, name, shown)
        assert ANSWER in shown, language
        assert "Nie odpowiadamy na ankiety — dziękujemy." in shown
        for words in (*statuses, *parties):
            assert words in shown, (language, words)
        assert "Nguy?n" not in shown and "?ukasz" not in shown


def test_refusals_name_their_times_in_the_questionnaire_zone(database: Database) -> None:
    with site(database, ZONED) as s:
        token = s.tokens["rivera"]
        assert s.post("rivera", {**ANSWERS, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
        again = s.post("rivera", {**ANSWERS, "action": "submit"})
        page = html.unescape(again.text)  # type: ignore[attr-defined]
        assert again.status_code == 409  # type: ignore[attr-defined]
        assert "submitted on 2024-02-01 07:00 UTC-05:00 and are frozen" in page
        # The service's own words (the terminal's) name the zone too.
        with pytest.raises(QuestionnaireError) as refused:
            do_submit(s.services, token, {"pro-act": "yes"}, None)
        assert "February 1, 2024 at 07:00 UTC-05:00" in refused.value.detail

        s.clock.advance(seconds=(DUE - s.clock.now()).total_seconds() + 60)
        late = s.post("hale", {**ANSWERS, "action": "save"})
        assert late.status_code == 410  # type: ignore[attr-defined]
        assert "was due on 2024-03-01 18:59 UTC-05:00" in html.unescape(late.text)  # type: ignore[attr-defined]
        expired = s.client.get(f"/questionnaire/answer/{s.tokens['hale']}?lang=es")
        assert expired.status_code == 410
        assert "2024-03-01 18:59 UTC-05:00" in html.unescape(expired.text)
        with pytest.raises(QuestionnaireError) as opened:
            do_open_form(s.services, s.tokens["hale"])
        assert "March 1, 2024 at 18:59 UTC-05:00" in opened.value.detail


def test_a_replaced_link_says_when_in_the_zone(database: Database) -> None:
    with site(database, ZONED) as s:
        old = s.tokens["okafor"]
        s.clock.advance(hours=2)
        do_send_links(s.services, KEY, s.mailer, base_url=BASE_URL, candidate="okafor")
        page = s.client.get(f"/questionnaire/answer/{old}?lang=en")
        assert page.status_code == 410
        assert "replaced by a newer one on 2024-02-01 09:00 UTC-05:00" in html.unescape(page.text)


def test_the_reminders_next_day_and_the_published_list_are_in_the_zone(
    database: Database,
) -> None:
    with site(database, ZONED) as s:
        report = do_send_reminders(s.services, KEY, s.mailer, base_url=BASE_URL)
        assert report.next_reminder_at is not None
        # The first reminder day: 7 days before 2024-03-01 18:59 UTC-05:00.
        token = sign_in(s.client)
        answer = s.client.post(
            f"/committee/questionnaires/{KEY}/remind", data={"csrf_token": token}
        )
        text = html.unescape(answer.text)
        assert "the next is on 2024-02-23 18:59 UTC-05:00" in text, text
        s.clock.advance(days=40)
        do_publish(s.services, KEY)
        listing = html.unescape(s.client.get("/questionnaires").text)
        published_at = (START + datetime.timedelta(days=40)).astimezone(
            datetime.timezone(-datetime.timedelta(hours=5))
        )
        assert f"published on {published_at:%Y-%m-%d %H:%M} UTC-05:00" in listing


def test_the_terminal_shows_the_questionnaire_zone(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with site(database, ZONED) as s:
        monkeypatch.setenv("DATABASE_URL", database.url.render_as_string(hide_password=False))
        status = CliRunner().invoke(cli, ["questionnaire", "status", KEY])
        assert status.exit_code == 0, status.output
        flat = " ".join(status.output.split())
        assert "due 2024-03-01 18:59 UTC-05:00" in flat
        assert "sent 2024-02-01 07:00 UTC-05:00" in flat
        listed = CliRunner().invoke(cli, ["questionnaire", "list"])
        assert "2024-03-01 18:59 UTC-05:00" in " ".join(listed.output.split())
        del s


def test_parties_are_in_spanish_on_the_spanish_pages(database: Database) -> None:
    with site(database) as s:
        form = html.unescape(
            s.client.get(f"/questionnaire/answer/{s.tokens['rivera']}?lang=es").text
        )
        assert "(Demócrata)" in form
        assert s.post("rivera", {**ANSWERS, "action": "submit"}).status_code == 303  # type: ignore[attr-defined]
        s.clock.advance(days=40)
        do_close(s.services, KEY)
        published = do_publish(s.services, KEY)
        # The published file keeps the parties as entered (the record is in English).
        assert b'"party":"Democratic"' in published.content
        es = html.unescape(s.client.get(f"/questionnaires/{KEY}?lang=es").text)
        assert "Demócrata" in es and "Republicano" in es
        assert ">Democratic<" not in es and "(Democratic)" not in es
        en = html.unescape(s.client.get(f"/questionnaires/{KEY}?lang=en").text)
        assert "Democratic" in en and "Demócrata" not in en


def test_a_party_the_file_does_not_list_is_refused(database: Database) -> None:
    with site(database) as s:
        token = sign_in(s.client)
        answer = s.client.post(
            f"/committee/questionnaires/{KEY}/campaigns/new",
            data={
                "csrf_token": token,
                "name": "Maria Lopez",
                "party": "Democrat",
                "contact_name": "Ann",
                "contact_email": "ann@lopez.example",
            },
        )
        assert answer.status_code == 422
        assert "not one of those the questionnaire" in html.unescape(answer.text)
