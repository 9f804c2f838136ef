"""The committee's question-by-question editor in Debian's Chromium, with the keyboard only, on
a 360 px phone screen, in English and in Spanish: a questionnaire with one question of each
kind is written, a mistake (no word limit) is listed at the top and corrected, the questions
are previewed and saved; then a new version moves a question up (the focus stays on the
button) and is saved. axe-core finds no violation on the editor, its error summary and its
preview; a screenshot of the editor is kept in test-artifacts/screenshots/."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

from unionvote.domain.questionnaire import parse_questionnaire
from unionvote.services.context import Services
from unionvote.services.questionnaire import definition_text
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database

__all__ = ["chromium"]

pytestmark = pytest.mark.slow

COMMITTEE = StaffAccount("rosa.committee", "committee-pass-1234", "committee", "Rosa Committee")
EDITOR = "/committee/questionnaire-editor"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[VotingSite]:
    database_path = tmp_path / "unionvote.db"
    database = Database(f"sqlite:///{database_path}")
    database.upgrade()
    try:
        do_add_staff(
            Services(database, actor="election committee (browser tests)"),
            COMMITTEE.username,
            display_name=COMMITTEE.display_name,
            role="committee",
            password=COMMITTEE.password,
        )
    finally:
        database.dispose()
    built = VotingSite(
        directory=tmp_path,
        database_path=database_path,
        stage="",
        members=[],
        candidates=[],
        server_key=tmp_path / "none",
        trustee_dirs=[],
        authority_dir=tmp_path / "none",
        staff={"committee": COMMITTEE},
    )
    with serving(built):
        yield built


def _to(page: Any, field_id: str) -> None:
    tab_to(page, lambda d: d.get("id") == field_id, limit=120, what=field_id)


def _type(page: Any, field_id: str, text: str, *, replace: bool = False) -> None:
    _to(page, field_id)
    if replace:
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
    page.keyboard.type(text)


def _press(page: Any, button_id: str) -> None:
    """Reach a button with Tab and press Enter: the page comes back with the form."""
    _to(page, button_id)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # The browser runs autofocus at a rendering update after the page has loaded: on a busy
    # machine, after the load event the navigation waits for. Wait for it, not for a time.
    page.wait_for_function(
        """() => {
            const wanted = document.querySelector('[autofocus]');
            return !wanted || document.activeElement === wanted;
        }""",
        timeout=15_000,
    )


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_editor_with_the_keyboard_on_a_phone(
    chromium: Any, site: VotingSite, lang: str
) -> None:
    key = f"pay-{lang}"
    page = new_page(chromium, lang=lang, viewport=PHONE)
    staff_sign_in(page, site, "committee", lang)
    page.goto(site.url + EDITOR)
    assert page.evaluate("() => document.documentElement.lang") == lang
    axe_check(page, f"the questionnaire editor ({lang})")
    no_horizontal_scroll(page)

    _type(page, "key", key)
    _type(page, "title", "Pay and Pensions")
    _type(page, "title-es", "Salarios y pensiones")
    _type(page, "due-date", "2031-06-30")
    _type(page, "due-time", "18:00", replace=True)
    _to(page, "publication-publish-all")
    page.keyboard.press("Space")
    _type(page, "q1-text", "Will you raise the minimum wage?")
    _type(page, "q1-text-es", "¿Subirá el salario mínimo?")
    _press(page, "add-choice")
    # the new question's text has the focus
    assert active_element(page)["id"] == "q2-text"
    page.keyboard.type("Which pension plan do you back?")
    _type(page, "q2-choices", "Defined benefit\nDefined contribution")
    _press(page, "add-text")
    assert active_element(page)["id"] == "q3-text"
    page.keyboard.type("How will you protect public services?")

    # no word limit: listed at the top, with a link to the field; nothing saved
    _press(page, "save")
    summary = page.locator("#error-summary")
    assert active_element(page)["id"] == "error-summary"
    assert say(lang, "Nothing was saved: correct these problems") in summary.inner_text()
    axe_check(page, f"the editor's error summary ({lang})")
    no_horizontal_scroll(page)
    page.keyboard.press("Tab")
    assert active_element(page)["tag"] == "a"
    page.keyboard.press("Enter")
    assert page.url.endswith("#q3-max-words")
    _type(page, "q3-max-words", "100")
    _press(page, "preview")
    assert active_element(page)["id"] == "preview-heading"
    preview = page.locator("section.preview").inner_text()
    assert "¿Subirá el salario mínimo?" in preview and "Defined contribution" in preview
    axe_check(page, f"the editor's preview ({lang})")
    no_horizontal_scroll(page)
    screenshots(page, f"questionnaire-editor-{lang}")
    page.set_viewport_size(PHONE)
    page.locator("#title").focus()  # back in the form, then on with the keyboard
    _press(page, "save")
    assert page.url.endswith(f"/committee/questionnaires/{key}"), page.url
    assert say(lang, "The questionnaire is saved.") in page.get_by_role("status").inner_text()

    # a new version: the written question moves up, the focus stays on its button
    page.goto(site.url + f"{EDITOR}/{key}")
    axe_check(page, f"the editor, a new version ({lang})")
    _press(page, "q3-up")
    assert active_element(page)["id"] == "q2-up"
    _press(page, "save")
    assert page.url.endswith(f"/committee/questionnaires/{key}"), page.url
    assert page.js_errors == []

    database = Database(site.database_url)
    try:
        version, text = definition_text(Services(database), key)
    finally:
        database.dispose()
    q = parse_questionnaire(text)
    assert version == 2 and q.publication == "publish-all"
    assert [x.kind for x in q.questions] == ["yes-no", "text", "choice"]
    assert q.questions[1].max_words == 100
    assert q.translations["es"]["Pay and Pensions"] == "Salarios y pensiones"
