"""Every page of the site, in English and in Spanish, in Debian's Chromium: axe-core finds no
WCAG 2.1 A/AA violation, the page says its language, and at phone width (360 px) nothing
scrolls sideways. The booth is checked at each of its steps, and a member votes with the
keyboard alone.

One server per module (``voting_site``); each test signs in with a member of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    VotingSite,
    axe_check,
    cast,
    check_the_encryption,
    choose,
    fill_sign_in,
    new_page,
    no_horizontal_scroll,
    review,
    say,
    screenshots,
    set_language,
    sign_in,
    staff_sign_in,
    tab_to,
    type_credential,
)

pytestmark = pytest.mark.slow

LANGUAGES = ["en", "es"]


@pytest.fixture(params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    language: str = request.param
    return language


@pytest.fixture
def browser_page(chromium: Any, voting_site: VotingSite, lang: str) -> Iterator[Any]:
    """A fresh page whose member chose ``lang`` with the language switch."""
    page = new_page(chromium, lang=lang)
    try:
        set_language(page, voting_site, lang)
        yield page
    finally:
        page.context.close()


def check(page: Any, lang: str, label: str, *, shots: str | None = None) -> None:
    """The page as it is now: its language, axe-core at desktop and phone widths, no sideways
    scrolling at phone width; screenshots at both widths when ``shots`` names them."""
    page.wait_for_load_state()
    declared = page.evaluate("() => document.documentElement.lang")
    assert declared.split("-")[0] == lang, f"{label}: <html lang={declared!r}>, not {lang}"
    assert not page.js_errors, f"{label}: the page's scripts failed: {page.js_errors}"
    before = page.viewport_size or DESKTOP
    try:
        page.set_viewport_size(DESKTOP)
        axe_check(page, f"{label} ({lang}, desktop)")
        page.set_viewport_size(PHONE)
        no_horizontal_scroll(page)
        axe_check(page, f"{label} ({lang}, 360 px)")
    finally:
        page.set_viewport_size(before)
    if shots is not None:
        screenshots(page, f"{shots}-{lang}")


def test_the_spanish_catalog_covers_the_labels_the_tests_use() -> None:
    for text in (
        "Member number",
        "Last name",
        "Postal code",
        "Sign in",
        "Your voting credential",
        "Review my choice",
        "Change my choice",
        "Cast my vote",
        "Check the encryption",
        "Your vote is recorded",
        "This vote replaces your earlier one",
        "Username",
        "Password",
    ):
        assert say("es", text) != text, f"no Spanish for {text!r}"


def test_public_pages(voting_site: VotingSite, browser_page: Any, lang: str) -> None:
    site, page = voting_site, browser_page
    # A ballot on the board, so that the board and "find my ballot" show one.
    member = site.take_member()
    sign_in(page, site, member, lang)
    choose(page, member, site.candidates[0], lang)
    review(page, lang)
    tracker = cast(page, lang).tracker

    pages = [
        ("/", "home"),
        ("/stages/{stage}/board", "board"),
        ("/stages/{stage}/find?tracker=" + quote(tracker, safe=""), "find-my-ballot"),
        ("/stages/{stage}/find?tracker=" + quote("not-a-tracker", safe=""), "find-not-found"),
        ("/stages/{stage}/results", "results-not-yet"),
        ("/endorsement", "endorsement"),
        ("/register/{stage}", "register"),
    ]
    for path, name in pages:
        answer = page.goto(site.path(path))
        assert answer is not None and answer.status < 500, f"{path}: {answer and answer.status}"
        check(page, lang, path, shots=f"public-{name}")
    page.goto(site.path("/stages/{stage}/board"))
    assert tracker in page.locator("main").inner_text()
    # The language switch offers the other language by its own name.
    other = "English" if lang == "es" else "Español"
    assert page.get_by_role("link", name=other).count() >= 1


def test_sign_in_and_every_step_of_the_booth(
    voting_site: VotingSite, browser_page: Any, lang: str
) -> None:
    site, page = voting_site, browser_page
    member = site.take_member()
    page.goto(site.path("/vote/{stage}"))
    check(page, lang, "sign-in", shots="booth-sign-in")

    # Wrong details: the refusal is shown accessibly, and nothing else happens.
    fill_sign_in(page, member, lang)
    page.get_by_label(say(lang, "Last name"), exact=True).fill("Nobody-by-this-name")
    page.get_by_role("button", name=say(lang, "Sign in")).click()
    page.wait_for_load_state()
    assert "/ballot" not in page.url
    check(page, lang, "sign-in refused", shots="booth-sign-in-refused")

    sign_in(page, site, member, lang)
    check(page, lang, "booth: the ballot", shots="booth-ballot")

    # A mistyped credential is refused in the page, with a message.
    type_credential(page, _mistyped(member.credential), lang)
    page.get_by_label(re.compile(rf"^\s*{re.escape(site.candidates[1].name)}")).check()
    review(page, lang)
    mistyped = say(
        lang, "This credential is mistyped: check each character against your letter or email."
    )
    assert mistyped in page.locator("main").inner_text()
    assert not page.get_by_role("button", name=say(lang, "Cast my vote"), exact=True).is_visible()
    check(page, lang, "booth: mistyped credential", shots="booth-mistyped")

    choose(page, member, site.candidates[1], lang)
    review(page, lang)
    check(page, lang, "booth: review", shots="booth-review")
    page.get_by_role("button", name=say(lang, "Change my choice")).click()
    check(page, lang, "booth: changing the choice")
    choose(page, member, site.candidates[2], lang)
    review(page, lang)
    first = cast(page, lang)
    check(page, lang, "booth: receipt", shots="booth-receipt")

    page.goto(site.path("/vote/{stage}/ballot"))
    choose(page, member, site.candidates[3], lang)
    review(page, lang)
    check_the_encryption(page, lang)
    page.get_by_text(say(lang, "This ballot was not cast.")).wait_for()
    check(page, lang, "booth: the encryption checked", shots="booth-audit")

    page.goto(site.path("/vote/{stage}/ballot"))
    choose(page, member, site.candidates[3], lang)
    review(page, lang)
    second = cast(page, lang)
    assert second.tracker != first.tracker
    assert say(lang, "This vote replaces your earlier one") in second.text
    check(page, lang, "booth: receipt after a second vote", shots="booth-receipt-revote")


def test_staff_pages(voting_site: VotingSite, browser_page: Any, lang: str) -> None:
    site, page = voting_site, browser_page
    page.goto(site.url + "/staff/login")
    check(page, lang, "staff login", shots="staff-login")
    page.get_by_label(say(lang, "Username"), exact=True).fill(site.staff["committee"].username)
    page.get_by_label(say(lang, "Password"), exact=True).fill("not the password at all")
    page.get_by_role("button", name=say(lang, "Sign in")).click()
    page.wait_for_load_state()
    check(page, lang, "staff login refused")

    for role, paths in (
        ("committee", ["/committee", "/committee/stages/{stage}"]),
        ("observer", ["/committee", "/committee/stages/{stage}"]),
        ("trustee", ["/trustee", "/trustee/stages/{stage}"]),
    ):
        page.context.clear_cookies()
        set_language(page, site, lang)
        staff_sign_in(page, site, role, lang)
        for path in paths:
            answer = page.goto(site.path(path))
            assert answer is not None and answer.status == 200, f"{role} {path}: {answer}"
            name = path.strip("/").replace("/", "-").replace("{stage}", "stage")
            check(page, lang, f"{role}: {path}", shots=f"staff-{role}-{name}")


def test_a_member_votes_with_the_keyboard_alone(voting_site: VotingSite, chromium: Any) -> None:
    site = voting_site
    member = site.take_member()
    candidate = site.candidates[4]
    page = new_page(chromium, viewport=PHONE)
    try:
        page.goto(site.path("/vote/{stage}"))
        keyboard = page.keyboard
        tab_to(page, lambda e: e.get("text", "").startswith("Member number"), what="number")
        keyboard.type(member.card_number)
        tab_to(page, lambda e: e.get("text", "").startswith("Last name"), what="last name")
        keyboard.type(member.last_name)
        tab_to(page, lambda e: e.get("text", "").startswith("Postal code"), what="postal code")
        keyboard.type(member.postal_code)
        keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/ballot"))

        tab_to(
            page,
            lambda e: e.get("text", "").startswith("Your voting credential"),
            what="the credential",
        )
        keyboard.type(member.credential)
        tab_to(
            page,
            lambda e: (
                e.get("type") in ("radio", "checkbox")
                and e.get("text", "").startswith(candidate.name)
            ),
            what=candidate.name,
        )
        keyboard.press("Space")
        assert page.evaluate("() => document.activeElement.checked")
        tab_to(page, lambda e: e.get("text") == "Review my choice", what="Review my choice")
        keyboard.press("Enter")
        tab_to(page, lambda e: e.get("text") == "Cast my vote", what="Cast my vote")
        keyboard.press("Enter")
        page.get_by_role("heading", name="Your vote is recorded").wait_for()
        assert page.get_by_test_id("tracker").inner_text().strip()
        no_horizontal_scroll(page)
    finally:
        page.context.close()


def test_the_skip_link_and_a_visible_focus(voting_site: VotingSite, page: Any) -> None:
    page.goto(voting_site.url + "/")
    page.keyboard.press("Tab")
    first = page.evaluate(
        """() => { const e = document.activeElement; const s = getComputedStyle(e);
                   return {href: e.getAttribute('href') || '', text: e.innerText,
                           outline: s.outlineStyle + ' ' + s.outlineWidth,
                           shadow: s.boxShadow}; }"""
    )
    assert first["href"].startswith("#"), f"the first Tab stop is no skip link: {first}"
    visible = first["outline"].split()[0] != "none" or first["shadow"] != "none"
    assert visible, f"the focused skip link shows no focus ring: {first}"


def _mistyped(credential: str) -> str:
    """The credential with one character changed (its checksum then fails)."""
    last = credential[-2]
    swapped = "2" if last != "2" else "3"
    return credential[:-2] + swapped + credential[-1]
