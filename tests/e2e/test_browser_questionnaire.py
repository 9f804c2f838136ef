"""The candidate questionnaire end to end in Debian's Chromium: ``unionvote serve`` with a real
local SMTP server (aiosmtpd); the committee sends the example questionnaire to four campaigns
from its page; two campaigns answer through the form by their personal link (one in English,
saving a draft first, then a correction the committee opens: version 2, one in Spanish), one
declines, one never answers; the committee moves the
due date to now (a new version of the file, pasted on its page), closes and publishes; the
members' comparison page and its PDF show all four correctly, in English and in Spanish.
Declining asks first (a confirmation page; going back keeps the reason), used with the keyboard
on a phone. axe-core finds no violation on the form, the confirmation, the decline's
confirmation page, the committee's page and the
comparison (its disclosure of the earlier versions closed and open), in both languages. The
parties are in Spanish on the Spanish page and PDF (the file's translations).
"""

from __future__ import annotations

import datetime
import hashlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_support import (
    PHONE,
    StaffAccount,
    VotingSite,
    active_element,
    axe_check,
    chromium,
    new_page,
    no_horizontal_scroll,
    say,
    screenshots,
    serving,
    staff_sign_in,
    tab_to,
)
from test_questionnaire import (
    CAMPAIGNS_FILE,
    CONTACTS,
    KEY,
    QUESTIONNAIRE_FILE,
    Inbox,
    body_of,
    pdf_text,
    smtp_inbox,
)

from unionvote.services.context import Services
from unionvote.services.questionnaire import do_define_questionnaire, do_import_campaigns
from unionvote.services.questionnaire_pdf import pdf_name, status_words
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database

__all__ = ["chromium"]

pytestmark = pytest.mark.slow

COMMITTEE = StaffAccount("rosa.committee", "committee-pass-1234", "committee", "Rosa Committee")
DUE_LINE = re.compile(r"^due = .*$", re.MULTILINE)
NAMES = {
    "rivera": ("Ana Rivera", "Democratic"),
    "hale": ("Thomas Hale", "Republican"),
    "okafor": ("Grace Okafor", "Democratic"),
    "brandt": ("Victor Brandt", "Republican"),
}
RIVERA_PENSIONS = "Restore the multiemployer pension fund and make the PBGC whole."
RIVERA_CORRECTED = "Restore the multiemployer pension fund, make the PBGC whole, and index it."
PARTY_ES = {"Democratic": "Demócrata", "Republican": "Republicano"}  # the file's translations
OKAFOR_PENSIONS = "Con un fondo federal que garantice cada pensión ganada."
HALE_REASON = "The campaign does not answer questionnaires this year."
OKAFOR_REASON = "No respondemos cuestionarios.\nNuestro programa está en nuestra web."
NOTHING_RECORDED = (
    "Nothing was recorded: your campaign has not declined. Your reason is kept below."
)


def _file(version: int, due: datetime.datetime) -> str:
    text = QUESTIONNAIRE_FILE.read_text(encoding="utf-8")
    text = DUE_LINE.sub(f"due = {due.strftime('%Y-%m-%dT%H:%M:%SZ')}", text, count=1)
    return text.replace("version = 1", f"version = {version}", 1)


def _build(directory: Path) -> VotingSite:
    """The questionnaire (due in two weeks), the four campaigns, the committee's account."""
    database_path = directory / "unionvote.db"
    database = Database(f"sqlite:///{database_path}")
    database.upgrade()
    committee = Services(database, actor="election committee (browser tests)")
    try:
        due = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=14)
        do_define_questionnaire(committee, _file(1, due))
        do_import_campaigns(committee, KEY, CAMPAIGNS_FILE.read_text(encoding="utf-8"))
        do_add_staff(
            committee,
            COMMITTEE.username,
            display_name=COMMITTEE.display_name,
            role="committee",
            password=COMMITTEE.password,
        )
    finally:
        database.dispose()
    return VotingSite(
        directory=directory,
        database_path=database_path,
        stage="",
        members=[],
        candidates=[],
        server_key=directory / "none",
        trustee_dirs=[],
        authority_dir=directory / "none",
        staff={"committee": COMMITTEE},
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[VotingSite, Inbox]]:
    built = _build(tmp_path)
    with smtp_inbox() as (inbox, port):
        monkeypatch.setenv("UNIONVOTE_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("UNIONVOTE_SMTP_PORT", str(port))
        monkeypatch.setenv("UNIONVOTE_MAIL_SENDER", "committee@union.example")
        with serving(built):
            yield built, inbox


def _group(page: Any, question: str) -> Any:
    return page.get_by_role("group", name=re.compile(re.escape(question)))


def _answer(page: Any, lang: str, *, pro_act: str, trade: str, pensions: str) -> None:
    """Fill the three questions as a campaign does (labels in the page's language)."""
    texts = {
        "en": ("Will you sign the PRO Act into law?", "How will you protect"),
        "es": ("¿Firmará la Ley PRO?", "¿Cómo protegerá"),
    }[lang]
    _group(page, texts[0]).get_by_label(pro_act, exact=True).check()
    page.get_by_label(trade, exact=True).check()
    page.get_by_label(re.compile(re.escape(texts[1]))).fill(pensions)


def test_four_campaigns_two_answer_one_declines_one_never_answers(
    chromium: Any, site: tuple[VotingSite, Inbox]
) -> None:
    server, inbox = site
    committee = new_page(chromium)
    staff_sign_in(committee, server, "committee")
    committee.goto(server.url + f"/committee/questionnaires/{KEY}")
    axe_check(committee, "the committee's questionnaire page")
    committee.get_by_role("button", name="Send the personal links").click()
    committee.get_by_role("status").filter(has_text="The personal links are sent.").wait_for()
    assert "Sent: 5. Bounced: 0." in committee.get_by_role("status").inner_text()

    # Every campaign got its personal link by email; the Spanish contact in Spanish.
    links = inbox.links()
    tokens = {key: links[address] for key, address in CONTACTS.items()}
    assert len(set(tokens.values())) == 4
    spanish = inbox.to("policy@rivera2024.example")[0]
    assert "Fecha límite" in body_of(spanish)
    url = {key: f"{server.url}/questionnaire/answer/{token}" for key, token in tokens.items()}

    # Ana Rivera's campaign, in English: a draft first, then the answers.
    rivera = new_page(chromium)
    rivera.goto(url["rivera"])
    main = rivera.locator("main")
    assert "Answers are due by" in main.inner_text()
    axe_check(rivera, "the answer form (English)")
    screenshots(rivera, "questionnaire-form")
    rivera.set_viewport_size(PHONE)
    no_horizontal_scroll(rivera)
    _group(rivera, "Will you sign the PRO Act into law?").get_by_label("Yes", exact=True).check()
    rivera.get_by_role("button", name="Save a draft").click()
    rivera.get_by_role("status").filter(has_text="Your draft is saved").wait_for()
    assert "1 of 3 questions answered" in rivera.get_by_role("status").inner_text()
    assert _group(rivera, "Will you sign the PRO Act").get_by_label("Yes", exact=True).is_checked()
    _answer(
        rivera,
        "en",
        pro_act="Yes",
        trade="Enforceable labor standards in every trade agreement",
        pensions=RIVERA_PENSIONS,
    )
    rivera.get_by_role("button", name="Submit my answers").click()
    rivera.get_by_role("heading", name="Your answers are submitted").wait_for()
    confirmation = rivera.locator("main").inner_text()
    assert "Version 1 of your answers was received" in confirmation
    assert RIVERA_PENSIONS in confirmation
    axe_check(rivera, "the confirmation (English)")
    assert rivera.js_errors == []
    mailed = [m for m in inbox.to(CONTACTS["rivera"]) if RIVERA_PENSIONS in body_of(m)]
    assert mailed, "no confirmation email with the answers"

    # Grace Okafor's campaign, in Spanish.
    okafor = new_page(chromium, lang="es")
    okafor.goto(url["okafor"])
    assert okafor.evaluate("() => document.documentElement.lang") == "es"
    assert "Las respuestas deben llegar a más tardar el" in okafor.locator("main").inner_text()
    axe_check(okafor, "the answer form (Spanish)")
    # A staffer starts to decline, reads what members would see, and goes back to the form.
    okafor.get_by_label(say("es", "Your reason (optional)")).fill(OKAFOR_REASON)
    okafor.get_by_role("button", name=say("es", "Decline the questionnaire")).click()
    okafor.get_by_role("heading", name=say("es", "Decline to answer?")).wait_for()
    asked = okafor.locator("main").inner_text()
    assert "Es definitivo: los miembros verán «Se negó a responder»" in asked
    assert okafor.locator("blockquote").inner_text().split() == OKAFOR_REASON.split()
    axe_check(okafor, "the decline's confirmation (Spanish)")
    okafor.get_by_role("button", name=say("es", "Go back to the form")).click()
    okafor.get_by_role("status").filter(has_text=say("es", NOTHING_RECORDED)).wait_for()
    assert okafor.get_by_label(say("es", "Your reason (optional)")).input_value() == OKAFOR_REASON
    assert active_element(okafor)["id"] == "decline-reason"
    axe_check(okafor, "the form after going back (Spanish)")
    okafor.get_by_label(say("es", "Your reason (optional)")).fill("")
    _answer(
        okafor,
        "es",
        pro_act="No",
        trade="Retirarse de los acuerdos que cuestan empleos sindicales",
        pensions=OKAFOR_PENSIONS,
    )
    okafor.get_by_role("button", name=say("es", "Submit my answers")).click()
    okafor.get_by_role("heading", name=say("es", "Your answers are submitted")).wait_for()
    axe_check(okafor, "the confirmation (Spanish)")

    # The committee opens a correction for Ana Rivera; her campaign submits version 2, and
    # version 1 stays visible to members (a disclosure on the comparison page).
    committee.goto(server.url + f"/committee/questionnaires/{KEY}")
    committee.locator("summary", has_text="Ana Rivera:").click()  # her steps, and the form
    committee.locator("#correction-rivera").fill(
        "The campaign asked to correct its pensions answer."
    )
    committee.get_by_role("button", name="Open a correction for Ana Rivera").click()
    committee.get_by_role("status").filter(has_text="A correction is open").wait_for()
    rivera.set_viewport_size({"width": 1280, "height": 900})
    rivera.goto(url["rivera"])
    rivera.get_by_label(re.compile(re.escape("How will you protect"))).fill(RIVERA_CORRECTED)
    rivera.get_by_role("button", name="Submit my answers").click()
    rivera.get_by_role("heading", name="Your answers are submitted").wait_for()
    assert "Version 2 of your answers was received" in rivera.locator("main").inner_text()

    # Thomas Hale's campaign declines, on a phone, with the keyboard: the Decline button asks
    # first; going back keeps the reason; "Yes, decline" records it.
    hale = new_page(chromium, viewport=PHONE)
    hale.goto(url["hale"])
    hale.get_by_label("Your reason (optional)").fill(HALE_REASON)
    hale.get_by_label("Your reason (optional)").focus()
    tab_to(hale, lambda e: e["text"] == "Decline the questionnaire", what="the Decline button")
    hale.keyboard.press("Enter")
    hale.get_by_role("heading", name="Decline to answer?").wait_for()
    asked = hale.locator("main").inner_text()
    assert 'This is final: members will see "Declined to answer"' in asked.replace(
        "“", '"'
    ).replace("”", '"')
    assert HALE_REASON in asked and "Thomas Hale" in asked
    axe_check(hale, "the decline's confirmation (English)")
    no_horizontal_scroll(hale)
    tab_to(hale, lambda e: e["text"] == "Go back to the form", what="Go back to the form")
    hale.keyboard.press("Enter")
    hale.get_by_role("status").filter(has_text=NOTHING_RECORDED).wait_for()
    assert active_element(hale)["id"] == "decline-reason"  # the keyboard is back in the reason
    assert hale.get_by_label("Your reason (optional)").input_value() == HALE_REASON
    committee.goto(server.url + f"/committee/questionnaires/{KEY}")
    assert "Declined" not in committee.locator('tr[data-candidate="hale"]').inner_text()
    tab_to(hale, lambda e: e["text"] == "Decline the questionnaire", what="the Decline button")
    hale.keyboard.press("Enter")
    hale.get_by_role("heading", name="Decline to answer?").wait_for()
    tab_to(hale, lambda e: e["text"] == "Yes, decline", what="Yes, decline")
    hale.keyboard.press("Enter")
    hale.get_by_role("heading", name="Your campaign declined this questionnaire").wait_for()
    assert HALE_REASON in hale.locator("main").inner_text()
    axe_check(hale, "the declined page")
    assert hale.js_errors == []

    # Victor Brandt's campaign never answers. The committee sees every campaign's status.
    committee.goto(server.url + f"/committee/questionnaires/{KEY}")
    rows = {key: committee.locator(f'tr[data-candidate="{key}"]').inner_text() for key in NAMES}
    assert "Submitted" in rows["rivera"] and "Submitted" in rows["okafor"]
    assert "Declined" in rows["hale"]
    assert "Sent" in rows["brandt"] and "Submitted" not in rows["brandt"]

    # The due date is moved to now (version 2 of the file, on the committee's page) …
    committee.goto(server.url + "/committee/questionnaires")
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    committee.get_by_label("Questionnaire file").fill(_file(2, now))
    committee.get_by_role("button", name="Save the questionnaire").click()
    committee.get_by_role("status").filter(has_text="The questionnaire is saved.").wait_for()
    # … so Brandt's link has expired, and the committee closes and publishes.
    late = new_page(chromium)
    answer = late.goto(url["brandt"])
    assert answer is not None and answer.status == 410
    assert "This link has expired" in late.locator("main").inner_text()
    committee.get_by_role("button", name="Close: record who did not respond").click()
    committee.get_by_role("status").filter(has_text="The questionnaire is closed").wait_for()
    brandt_row = committee.locator('tr[data-candidate="brandt"]').inner_text()
    assert "Did not respond by the due date" in brandt_row
    committee.get_by_role("button", name="Publish the comparison").click()
    committee.get_by_role("status").filter(has_text="published for members").wait_for()
    axe_check(committee, "the committee's page after publishing")
    screenshots(committee, "questionnaire-committee")

    # The members' comparison, in English and Spanish.
    for lang in ("en", "es"):
        member = new_page(chromium, lang=lang)
        member.goto(server.url + f"/questionnaires/{KEY}")
        assert member.evaluate("() => document.documentElement.lang") == lang
        words = {
            "answered": say(lang, "Answered"),
            "declined": say(lang, "Declined to answer"),
            "did-not-respond": say(lang, "Did not respond"),
        }
        status = {
            key: member.locator(
                f'table.questionnaire-status tr[data-candidate="{key}"]'
            ).inner_text()
            for key in NAMES
        }
        for key, (name, party) in NAMES.items():
            shown_party = PARTY_ES[party] if lang == "es" else party
            assert name in status[key] and shown_party in status[key], (lang, status[key])
        assert words["answered"] in status["rivera"] and words["answered"] in status["okafor"]
        assert words["declined"] in status["hale"] and HALE_REASON in status["hale"]
        assert words["did-not-respond"] in status["brandt"]
        cells = {
            key: member.locator(f'table.comparison td[data-candidate="{key}"]').all_inner_texts()
            for key in NAMES
        }
        assert cells["hale"] == [words["declined"]] * 3  # in every row, as plainly as an answer
        assert cells["brandt"] == [words["did-not-respond"]] * 3
        yes = say(lang, "Yes")
        assert cells["rivera"][0] == yes and cells["rivera"][2] == RIVERA_CORRECTED
        assert cells["okafor"][0] == say(lang, "No") and cells["okafor"][2] == OKAFOR_PENSIONS
        trade = {
            "en": (
                "Enforceable labor standards in every trade agreement",
                "Withdraw from agreements that cost union jobs",
            ),
            "es": (
                "Normas laborales exigibles en cada acuerdo comercial",
                "Retirarse de los acuerdos que cuestan empleos sindicales",
            ),
        }[lang]
        assert (cells["rivera"][1], cells["okafor"][1]) == trade
        # Rivera's version 1, behind its disclosure: axe-core closed, then open.
        earlier = member.locator('details.earlier-versions[data-candidate="rivera"]')
        assert earlier.evaluate("(d) => d.open") is False
        assert not earlier.get_by_text(RIVERA_PENSIONS).is_visible()
        axe_check(member, f"the comparison, earlier versions closed ({lang})")
        earlier.locator("summary").click()
        assert earlier.evaluate("(d) => d.open") is True
        assert earlier.get_by_text(RIVERA_PENSIONS).is_visible()
        assert ("replaced by version 2" if lang == "en" else "reemplazada por la versión 2") in (
            earlier.inner_text()
        )
        axe_check(member, f"the comparison, earlier versions open ({lang})")
        screenshots(member, f"questionnaire-comparison-{lang}")
        member.set_viewport_size(PHONE)
        no_horizontal_scroll(member)
        assert member.js_errors == []

        # The PDF in the same language: all four, their status in words.
        pdf = httpx.get(server.url + f"/questionnaires/{KEY}/{pdf_name(KEY, lang)}", timeout=60)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = pdf_text(pdf.content)
        pdf_words = status_words(lang)
        for key, state in (
            ("rivera", "answered"),
            ("okafor", "answered"),
            ("hale", "declined"),
            ("brandt", "did-not-respond"),
        ):
            name, party = NAMES[key]
            party = PARTY_ES[party] if lang == "es" else party
            assert f"{name} {party} {pdf_words[state]}" in text, (lang, key, text)
        assert RIVERA_CORRECTED in text and OKAFOR_PENSIONS in text and trade[0] in text
        # The earlier version after the current answers.
        assert text.index(RIVERA_CORRECTED) < text.index(RIVERA_PENSIONS)
        assert text.count(pdf_words["declined"]) >= 4  # the status table and every row
        assert text.count(pdf_words["did-not-respond"]) >= 4
        member.context.close()

    # The published file the endorsement record links to, with its digest.
    listing = httpx.get(server.url + "/questionnaires", timeout=30).text
    document = httpx.get(server.url + f"/questionnaires/{KEY}/questionnaire-{KEY}.json", timeout=30)
    assert document.status_code == 200
    assert hashlib.sha256(document.content).hexdigest() in listing
    for name, _party in NAMES.values():
        assert name in document.text
