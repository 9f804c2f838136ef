"""The members' website in a real browser: a process in its voting phase on a SQLite database,
``unionvote serve`` over it as a subprocess (its output kept in a file), and Debian's Chromium
driven by Playwright (never a downloaded browser).

The set-up is the demo's (``services/demo.py``), step for step, on the system clock: the roll is
imported and frozen, the members register, the independent credential authority makes the
credentials in its own workspace (the tests read the PRIVATE credentials there, as a member
reads them from their letter), the server's key and a 2-of-3 Pedersen group run the key
ceremony (each trustee's state file is kept, so the test can decrypt through the CLI later),
and the election is set up and open.

Helpers for the browser tests: :func:`sign_in`, :func:`cast`, :func:`axe_check` (axe-core
injected from ``node_modules``), :func:`screenshots` (phone 360×740 and desktop 1280×900,
under ``test-artifacts/screenshots/``), :func:`no_horizontal_scroll`, :func:`tab_to`.

Test modules outside ``tests/web`` import this file after putting its folder on ``sys.path``
(the test folders are no packages); the pytest fixtures are defined here and re-exported by
``tests/web/conftest.py`` and by each module that needs them.
"""

from __future__ import annotations

import csv
import datetime
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from unionvote.authority.workspace import Workspace, generate_workspace
from unionvote.domain.synthetic import synthetic_roll, write_roll_csv
from unionvote.services.context import Services
from unionvote.services.credentials import do_export_registered, do_import_public_credentials
from unionvote.services.elections import do_setup_election
from unionvote.services.process import do_init_process, stage_row
from unionvote.services.registration import (
    do_close_registration,
    do_open_registration,
    do_register_all,
)
from unionvote.services.roll import do_freeze_eligibility, do_import_roll
from unionvote.services.staff import do_add_staff
from unionvote.services.trustees import (
    do_make_server_key,
    do_run_local_ceremony,
    election_trustees,
)
from unionvote.storage.database import Database
from unionvote.storage.models import Trustee

REPO = Path(__file__).resolve().parents[2]
PROCESS_FILE = REPO / "examples" / "iam-2024.toml"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

STAGE = "membership-vote"
TRUSTEES = ("Trustee Ana", "Trustee Ben", "Trustee Carla")
# What a command's (or the server's) environment must not inherit from the test's.
_PRIVATE_ENV = ("DATABASE_URL", "UNIONVOTE_CREDENTIAL", "UNIONVOTE_SMTP_PASSWORD")
# How long the server may take to answer its first request (a safeguard, not a measure).
_START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Member:
    """A registered member as they see themselves: the card, the second factor the sign-in
    asks for, and the private credential from their letter (``credential``, with dashes)."""

    card_number: str
    last_name: str
    postal_code: str
    credential: str


@dataclass(frozen=True)
class StaffAccount:
    username: str
    password: str
    role: str  # committee, observer or trustee
    display_name: str
    trustee_position: int | None = None


@dataclass(frozen=True)
class Candidate:
    name: str
    party: str
    index: int  # 0-based position in the question's answers


@dataclass
class VotingSite:
    """A process in its voting phase and (once :func:`serving` runs) the server over it."""

    directory: Path
    database_path: Path
    stage: str
    members: list[Member]
    candidates: list[Candidate]
    server_key: Path
    trustee_dirs: list[Path]  # each holds that trustee's ``state.json``
    authority_dir: Path
    staff: dict[str, StaffAccount] = field(default_factory=dict)  # by role
    url: str = ""
    log_path: Path | None = None
    _taken: int = 0

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database_path}"

    def services(self, actor: str = "election committee (browser tests)") -> Services:
        """The committee's services over the site's database (the caller disposes of
        ``services.db``)."""
        return Services(Database(self.database_url), actor=actor)

    def take_member(self) -> Member:
        """A member nobody else in this test session has used yet."""
        member = self.members[self._taken]
        self._taken += 1
        return member

    def candidate(self, name: str) -> Candidate:
        return next(c for c in self.candidates if c.name == name)

    def log_text(self) -> str:
        assert self.log_path is not None, "the server has not been started"
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def path(self, template: str) -> str:
        """A site URL from a path template with ``{stage}``."""
        return self.url + template.format(stage=self.stage)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(line for line in stream if not line.startswith("#")))


def enrol_members(
    committee: Services, directory: Path, authority: Path, *, roll_size: int, seed: int
) -> Workspace:
    """The process loaded, a synthetic roll frozen, everyone registered, and the independent
    credential authority's workspace (in ``authority``) with its public credentials imported."""
    do_init_process(
        committee, PROCESS_FILE.read_text(encoding="utf-8"), source_name=PROCESS_FILE.name
    )
    roll = directory / "roll.csv"
    with roll.open("w", encoding="utf-8", newline="") as stream:
        write_roll_csv(synthetic_roll(roll_size, seed=seed), stream)
    do_import_roll(committee, roll, source_name=roll.name, apply=True)
    do_freeze_eligibility(committee, STAGE)
    now = datetime.datetime.now(datetime.UTC)
    do_open_registration(
        committee,
        STAGE,
        opens_at=now - datetime.timedelta(hours=1),
        closes_at=now + datetime.timedelta(days=1),
    )
    do_register_all(committee, STAGE)
    do_close_registration(committee, STAGE)
    authority.mkdir(mode=0o700)
    registered = authority / "registered.csv"
    with registered.open("w", encoding="utf-8", newline="") as stream:
        do_export_registered(committee, STAGE, stream)
    workspace = generate_workspace(registered, authority / "workspace")
    with workspace.public_path.open("rb") as stream:
        do_import_public_credentials(committee, STAGE, stream)
    return workspace


def build_voting_site(directory: Path, *, roll_size: int = 60, seed: int = 4) -> VotingSite:
    """Run the process up to an open election (see the module's docstring) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    database_path = directory / "unionvote.db"
    database = Database(f"sqlite:///{database_path}")
    database.upgrade()
    committee = Services(database, actor="election committee (browser tests)")
    try:
        authority = directory / "credential-authority"
        workspace = enrol_members(committee, directory, authority, roll_size=roll_size, seed=seed)

        # The server's key and a 2-of-3 Pedersen group, each trustee with their own file.
        server_key = directory / "committee" / f"server-trustee-{STAGE}.key"
        server_key.parent.mkdir(mode=0o700)
        do_make_server_key(committee, STAGE, server_key)
        states = do_run_local_ceremony(
            committee, STAGE, directory / "ceremony", names=TRUSTEES, threshold=2
        )
        trustee_dirs = []
        for name, state in zip(TRUSTEES, states, strict=True):
            home = directory / name.lower().replace(" ", "-")
            home.mkdir(mode=0o700)
            shutil.copyfile(state, home / "state.json")
            trustee_dirs.append(home)

        with database.sessions() as session:
            row, definition = stage_row(session, STAGE)
            trustees = election_trustees(session, row)
            title = row.title
            positions = {
                t.name: t.position
                for t in session.scalars(select(Trustee).where(Trustee.stage_id == row.id))
            }
        staff = {
            "committee": StaffAccount("rosa.committee", "committee-pass-1234", "committee",
                                      "Rosa Committee"),
            "observer": StaffAccount("omar.observer", "observer-pass-1234", "observer",
                                     "Omar Observer"),
            "trustee": StaffAccount("ana.trustee", "trustee-pass-12345", "trustee",
                                    TRUSTEES[0], positions[TRUSTEES[0]]),
        }  # fmt: skip
        for account in staff.values():
            do_add_staff(
                committee,
                account.username,
                display_name=account.display_name,
                role=account.role,
                password=account.password,
                trustee_position=account.trustee_position,
            )
        opens = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
        do_setup_election(
            committee,
            STAGE,
            trustees=trustees,
            name=f"{title} (browser test)",
            description="A rehearsal with synthetic members; not a real vote.",
            voting_opens_at=opens,
            voting_closes_at=opens + datetime.timedelta(days=14),
        )
    finally:
        database.dispose()

    roll_rows = {row["card_number"]: row for row in _read_csv(directory / "roll.csv")}
    credentials = _read_csv(workspace.private_path)
    members = [
        Member(
            card_number=row["card_number"],
            last_name=roll_rows[row["card_number"]]["last_name"],
            postal_code=roll_rows[row["card_number"]]["postal_code"],
            credential=row["credential"],
        )
        for row in credentials
    ]
    question = definition.questions[0]
    candidates = [Candidate(c.name, c.party, i) for i, c in enumerate(question.candidates)]
    return VotingSite(
        directory=directory,
        database_path=database_path,
        stage=STAGE,
        members=members,
        candidates=candidates,
        server_key=server_key,
        trustee_dirs=trustee_dirs,
        authority_dir=authority / "workspace",
        staff=staff,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(site: VotingSite) -> Iterator[VotingSite]:
    """Run ``python -m unionvote serve --port PORT`` over the site's database, its stdout and
    stderr in ``site.log_path``; yields once it answers, stops it after."""
    port = _free_port()
    log_path = site.directory / "server.log"
    environment = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
    environment.update(
        DATABASE_URL=site.database_url,
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
        # A local rehearsal over http (cookies without Secure, a random session secret) …
        UNIONVOTE_DEV="1",
        # … and room for every sign-in the tests of one module make from this one address.
        UNIONVOTE_SIGNIN_PER_ADDRESS="1000",
        UNIONVOTE_REGISTER_PER_ADDRESS="1000",
        UNIONVOTE_CAST_PER_ADDRESS="1000",
    )
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "unionvote", "serve", "--port", str(port)],
            cwd=site.directory,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    site.url, site.log_path = f"http://localhost:{port}", log_path
    try:
        _wait_until_answering(process, f"http://127.0.0.1:{port}/", log_path)
        yield site
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"`unionvote serve` exited with {process.returncode} before answering:\n"
                + log_path.read_text(errors="replace")
            )
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"`unionvote serve` did not answer {url} within {_START_TIMEOUT:.0f} s:\n"
                    + log_path.read_text(errors="replace")
                )
            time.sleep(0.2)


# -- the browser --------------------------------------------------------------------------------


def chromium_skip_reason() -> str | None:
    if not CHROMIUM.is_file():
        return (
            f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing "
            "(apt-get install chromium; .ci/run does it)"
        )
    if not AXE.is_file():
        return f"BROWSER TESTS NOT RUN: {AXE} is missing (make setup runs npm ci)"
    return None


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless; never a browser Playwright downloaded."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def new_page(browser: Any, *, lang: str = "en", viewport: dict[str, int] | None = None) -> Any:
    """A fresh context (no cookies) with axe-core preloaded in every document (an init script
    runs under the page's Content-Security-Policy without weakening it) and one page."""
    context = browser.new_context(
        viewport=viewport or DESKTOP,
        locale="es-ES" if lang == "es" else "en-US",
        extra_http_headers={"Accept-Language": "es" if lang == "es" else "en"},
    )
    context.add_init_script(path=str(AXE))
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: _console(errors, message))
    page.on("response", lambda response: _failed_load(errors, response))
    page.js_errors = errors  # what the page's scripts threw, logged as errors or failed to load
    return page


def _console(errors: list[str], message: Any) -> None:
    # A document answered with 4xx (a refused sign-in, a page not found) is logged as a
    # failed load too: _failed_load tells those from a missing script or style sheet.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(f"console: {message.text}")


def _failed_load(errors: list[str], response: Any) -> None:
    request = response.request
    if (
        response.status >= 400
        and request.resource_type in ("script", "stylesheet", "image")
        and not request.url.endswith("/favicon.ico")
    ):
        errors.append(f"{response.status} for the {request.resource_type} {request.url}")


# -- what the tests check on a page ------------------------------------------------------------


def axe_check(page: Any, label: str = "") -> None:
    """axe-core on the page as it is (WCAG 2.1 A and AA rules): zero violations, or a failure
    listing each violation, its impact and the elements it found."""
    loaded = page.evaluate("() => typeof window.axe")
    assert loaded == "object", (
        "axe-core is not loaded in this page: make it with browser_support.new_page"
    )
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                               resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                          summary: n.failureSummary}))}));
        }""",
        WCAG_TAGS,
    )
    if result:
        lines = [f"axe-core: {len(result)} violation(s) on {label or page.url}:"]
        for violation in result:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
            for node in violation["nodes"][:5]:
                summary = " ".join((node["summary"] or "").split())
                lines.append(f"    {node['target']}: {summary}")
        pytest.fail("\n".join(lines), pytrace=False)


def screenshots(page: Any, name: str) -> list[Path]:
    """Full-page screenshots at phone and desktop widths; the viewport is restored after."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    written = []
    for width_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{width_name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    if before is not None:
        page.set_viewport_size(before)
    return written


def no_horizontal_scroll(page: Any) -> None:
    """At the current width nothing sticks out sideways (the page never scrolls left-right)."""
    widths = page.evaluate(
        """() => ({scroll: document.documentElement.scrollWidth,
                   client: document.documentElement.clientWidth,
                   wide: [...document.querySelectorAll('body *')]
                       .filter(e => e.getBoundingClientRect().right >
                                    document.documentElement.clientWidth + 1)
                       .slice(0, 5)
                       .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                                 (e.className && typeof e.className === 'string'
                                    ? '.' + e.className.split(' ').join('.') : ''))})"""
    )
    assert widths["scroll"] <= widths["client"], (
        f"{page.url} scrolls sideways at {widths['client']} px: it is {widths['scroll']} px "
        f"wide; too wide: {widths['wide']}"
    )


def active_element(page: Any) -> dict[str, Any]:
    """What has the keyboard focus: tag, type, name, id, and its label's or own text."""
    description: dict[str, Any] = page.evaluate(
        """() => {
            const e = document.activeElement;
            if (!e) return {};
            const label = (e.labels && e.labels.length) ? e.labels[0].innerText : '';
            return {tag: e.tagName.toLowerCase(), type: e.type || '', name: e.name || '',
                    id: e.id || '', text: (label || e.innerText || e.value || '').trim(),
                    checked: !!e.checked};
        }"""
    )
    return description


def tab_to(page: Any, matches: Any, *, limit: int = 80, what: str = "") -> dict[str, Any]:
    """Press Tab until the focused element satisfies ``matches(description)``; inside a group
    of radio buttons the arrow keys move on (as a keyboard user does). Fails after ``limit``
    key presses."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = active_element(page)
        seen.append(focused.get("text") or focused.get("tag"))
        if matches(focused):
            return focused
        if focused.get("type") == "radio":
            for _ in range(40):
                page.keyboard.press("ArrowDown")
                moved = active_element(page)
                if matches(moved):
                    return moved
                if moved.get("name") != focused.get("name") or moved == focused:
                    break
    pytest.fail(f"Tab never reached {what or matches}; focus went through: {seen}")


# -- the member's steps ---------------------------------------------------------------------------

_catalogs: Any = None


def say(lang: str, text: str) -> str:
    """``text`` (an English msgid of the site's catalogs) as a page in ``lang`` shows it."""
    global _catalogs
    if lang == "en":
        return text
    if _catalogs is None:
        from unionvote.web.i18n import load_catalogs

        _catalogs = load_catalogs()
    translated: str = _catalogs.get(lang).gettext(text)
    return translated


def set_language(page: Any, site: VotingSite, lang: str) -> None:
    """Choose the language as a member does, with the switch's own URL (sets the cookie)."""
    page.goto(site.url + f"/language/{lang}?next=/")
    assert page.evaluate("() => document.documentElement.lang").startswith(lang)


def sign_in(page: Any, site: VotingSite, member: Member, lang: str = "en") -> None:
    """Sign in with the member number and the second factor (last name and postal code)."""
    page.goto(site.path("/vote/{stage}"))
    fill_sign_in(page, member, lang)
    page.get_by_role("button", name=say(lang, "Sign in"), exact=True).click()
    page.wait_for_url(re.compile(rf"/vote/{re.escape(site.stage)}/ballot"))


def fill_sign_in(page: Any, member: Member, lang: str = "en") -> None:
    page.get_by_label(say(lang, "Member number"), exact=True).fill(member.card_number)
    page.get_by_label(say(lang, "Last name"), exact=True).fill(member.last_name)
    page.get_by_label(say(lang, "Postal code"), exact=True).fill(member.postal_code)


def candidate_option(page: Any, candidate: Candidate) -> Any:
    """The radio button or checkbox whose label starts with the candidate's name."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(candidate.name)}(?!\w)"))


def choose(page: Any, member: Member, candidate: Candidate, lang: str = "en") -> None:
    """Type the credential and pick the candidate."""
    type_credential(page, member.credential, lang)
    candidate_option(page, candidate).check()


def type_credential(page: Any, text: str, lang: str = "en") -> None:
    """Type the credential and leave the field, as a member does (the booth checks it then)."""
    field = page.get_by_role("textbox", name=say(lang, "Your voting credential"), exact=True)
    field.fill(text)
    field.press("Tab")


def review(page: Any, lang: str = "en") -> None:
    page.get_by_role("button", name=say(lang, "Review my choice"), exact=True).click()


@dataclass(frozen=True)
class Receipt:
    tracker: str
    text: str


def cast(page: Any, lang: str = "en") -> Receipt:
    """From the review step: cast, and read the receipt once it is there."""
    page.get_by_role("button", name=say(lang, "Cast my vote"), exact=True).click()
    return receipt(page, lang)


def receipt(page: Any, lang: str = "en") -> Receipt:
    page.get_by_role("heading", name=say(lang, "Your vote is recorded")).wait_for()
    tracker = page.get_by_test_id("tracker").inner_text().strip()
    assert tracker, "the receipt shows no tracker"
    return Receipt(tracker, page.locator("main").inner_text())


def check_the_encryption(page: Any, lang: str = "en") -> None:
    """From the review step: open the optional part and ask the booth to check the encryption
    (cast-or-audit: the ballot is encrypted, then its randomness revealed, never cast)."""
    button = page.get_by_role("button", name=say(lang, "Check the encryption"), exact=True)
    if not button.is_visible():
        page.locator("summary", has_text=say(lang, "Check the encryption")).first.click()
    button.click()


def vote(
    page: Any, site: VotingSite, member: Member, candidate: Candidate, lang: str = "en"
) -> Receipt:
    """Open the booth (signing in if the session has none), choose, review, cast."""
    page.goto(site.path("/vote/{stage}/ballot"))
    if "/ballot" not in page.url:
        fill_sign_in(page, member, lang)
        page.get_by_role("button", name=say(lang, "Sign in")).click()
        page.wait_for_url(re.compile(r"/ballot"))
    choose(page, member, candidate, lang)
    review(page, lang)
    return cast(page, lang)


def staff_sign_in(page: Any, site: VotingSite, role: str, lang: str = "en") -> StaffAccount:
    """Sign in to the staff pages with the site's account for ``role``."""
    account = site.staff[role]
    page.goto(site.url + "/staff/login")
    page.get_by_label(say(lang, "Username"), exact=True).fill(account.username)
    page.get_by_label(say(lang, "Password"), exact=True).fill(account.password)
    page.get_by_role("button", name=say(lang, "Sign in")).click()
    page.wait_for_load_state()
    assert "/staff/login" not in page.url, page.locator("body").inner_text()
    return account


def on_board(site: VotingSite, tracker: str) -> dict[str, Any]:
    """``GET /api/stages/{stage}/ballots/{tracker}`` as anyone asks it."""
    answer = httpx.get(site.path("/api/stages/{stage}/ballots/") + _quote(tracker), timeout=30)
    assert answer.status_code in (200, 404), answer.text
    body: dict[str, Any] = answer.json()
    body["_status"] = answer.status_code
    return body


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


# -- fixtures (re-exported by tests/web/conftest.py and imported by the e2e browser tests) ------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, one per test module; skips loudly when missing."""
    reason = chromium_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (English, desktop width, axe-core preloaded) and its page."""
    page = new_page(chromium)
    try:
        yield page
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def voting_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VotingSite]:
    """A process in its voting phase and ``unionvote serve`` over it, one per test module."""
    site = build_voting_site(tmp_path_factory.mktemp("voting-site"))
    with serving(site):
        yield site
