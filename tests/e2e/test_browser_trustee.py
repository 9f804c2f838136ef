"""A trustee takes part in the key ceremony in Debian's Chromium and another with the CLI; the
committee finishes the ceremony and opens the election from its page; members vote in the
browser; the committee closes and tallies from its page; the browser trustee makes the partial
decryption in the browser, the CLI trustee and the server's key with the CLI; the result is
computed and the exported record passes ``unionvote verify``.

The browser trustee's state file only ever goes from the page to a download (kept in the
trustee's own folder) and back into a file input: the test checks that no request the browser
sent carries it, and that it is byte for byte a state file the CLI reads.
"""

from __future__ import annotations

import csv
import datetime
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_support import (
    STAGE,
    Candidate,
    Member,
    StaffAccount,
    VotingSite,
    axe_check,
    chromium,
    enrol_members,
    new_page,
    screenshots,
    serving,
    staff_sign_in,
    vote,
)
from cli_process_support import Person, hand

from unionvote.domain.trustee_work import TrusteeState
from unionvote.services.context import Services
from unionvote.services.process import stage_row
from unionvote.services.staff import do_add_staff
from unionvote.services.trustees import do_add_trustee, do_make_server_key
from unionvote.storage.database import Database

__all__ = ["chromium"]

pytestmark = pytest.mark.slow

ANA, BEN = "Trustee Ana", "Trustee Ben"
CEREMONY = "/trustee/stages/{stage}/ceremony"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(line for line in stream if not line.startswith("#")))


def build_site(directory: Path) -> VotingSite:
    """A process whose members have their credentials, and whose key ceremony has not begun:
    the server's key and a threshold group of two (Ana in the browser, Ben with the CLI), both
    of whom must decrypt."""
    database_path = directory / "unionvote.db"
    database = Database(f"sqlite:///{database_path}")
    database.upgrade()
    committee = Services(database, actor="election committee (browser tests)")
    try:
        authority = directory / "credential-authority"
        workspace = enrol_members(committee, directory, authority, roll_size=30, seed=11)

        server_key = directory / "committee" / f"server-trustee-{STAGE}.key"
        server_key.parent.mkdir(mode=0o700)
        do_make_server_key(committee, STAGE, server_key)
        ana = do_add_trustee(committee, STAGE, name=ANA).position
        assert do_add_trustee(committee, STAGE, name=BEN).position == 2
        staff = {
            "committee": StaffAccount("rosa.committee", "committee-pass-1234", "committee",
                                      "Rosa Committee"),
            "trustee": StaffAccount("ana.trustee", "trustee-pass-12345", "trustee", ANA, ana),
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
        with database.sessions() as session:
            _row, definition = stage_row(session, STAGE)
    finally:
        database.dispose()
    roll_rows = {row["card_number"]: row for row in _read_csv(directory / "roll.csv")}
    members = [
        Member(
            row["card_number"],
            roll_rows[row["card_number"]]["last_name"],
            roll_rows[row["card_number"]]["postal_code"],
            row["credential"],
        )
        for row in _read_csv(workspace.private_path)
    ]
    question = definition.questions[0]
    return VotingSite(
        directory=directory,
        database_path=database_path,
        stage=STAGE,
        members=members,
        candidates=[Candidate(c.name, c.party, i) for i, c in enumerate(question.candidates)],
        server_key=server_key,
        trustee_dirs=[],
        authority_dir=authority / "workspace",
        staff=staff,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VotingSite]:
    built = build_site(tmp_path_factory.mktemp("trustee-site"))
    with serving(built):
        yield built


class BrowserTrustee:
    """Ana in her browser: her state file lives only in her own folder and in the page."""

    def __init__(self, page: Any, site: VotingSite, home: Path) -> None:
        self.page, self.site, self.home = page, site, home
        self.state = home / "state.json"
        self.sent: list[bytes] = []
        page.on("request", lambda request: self.sent.append(request.post_data_buffer or b""))

    def step(self, title: str, notice: str | None, *, axe: bool = False) -> None:
        """Open the ceremony page at ``title``'s step, run it, save the new state file (the
        page insists), and send the message (``notice``: the page's answer) unless it is the
        last step, which sends nothing."""
        page = self.page
        page.goto(self.site.path(CEREMONY))
        page.get_by_role("heading", name=title).wait_for()
        if axe:
            axe_check(page, f"the ceremony page, {title}")
        send = page.get_by_role("button", name="Send my message to the committee")
        if self.state.exists():
            page.get_by_label("Your state file", exact=True).set_input_files(self.state)
        page.get_by_role("button", name="Run this step in this browser").click()
        page.get_by_role("heading", name="Save your new state file").wait_for()
        # Not saved yet: the message cannot be sent, the box cannot be ticked.
        assert not send.is_visible()
        saved = page.get_by_label("I have saved the new state file in a safe place")
        assert saved.is_disabled()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download your new state file").click()
        made = download.value
        assert made.suggested_filename.startswith(f"unionvote-trustee-{STAGE}-")
        made.save_as(self.state)
        TrusteeState.from_bytes(self.state.read_bytes())  # a state file the CLI reads
        saved.check()
        if notice is None:
            page.get_by_text("Your state file now records the trustee list").wait_for()
            return
        assert send.is_enabled()
        send.click()
        page.get_by_text(notice).wait_for()


def test_a_browser_trustee_and_a_cli_trustee_run_the_ceremony_and_decrypt(
    site: VotingSite, chromium: Any, tmp_path: Path
) -> None:
    stage = site.stage
    committee = Person("committee", site.server_key.parent, database=site.database_path)
    ben = Person("ben", tmp_path / "ben")
    page = new_page(chromium)
    ana = BrowserTrustee(page, site, tmp_path / "ana")
    ana.home.mkdir()
    desk = new_page(chromium)  # the committee's browser
    try:
        staff_sign_in(page, site, "trustee")
        staff_sign_in(desk, site, "committee")

        # Step 1. Ana in the browser; Ben with the CLI, imported by the committee.
        ana.step(
            "Step 1: make your keys and your certificate", "Your certificate is checked", axe=True
        )
        ben.run("trustee", "init", "--name", BEN, "--index", "2", "--size", "2",
                "--threshold", "2", "--out", "state.json")  # fmt: skip
        certificate = hand(ben.directory / "state.certificate.json", committee, "ben-cert.json")
        committee.run("trustees", "import-certificate", stage, "2", certificate.name)

        # Step 2.
        ana.step(
            "Step 2: your polynomial and the shares for the other trustees",
            "Your polynomial message is checked",
        )
        committee.run("trustees", "certificates", stage, "--out", "certificates.json")
        hand(committee.directory / "certificates.json", ben)
        ben.run("trustee", "polynomial", "state.json", "--certificates", "certificates.json",
                "--out", "polynomial.json")  # fmt: skip
        polynomial = hand(ben.directory / "polynomial.json", committee, "ben-polynomial.json")
        committee.run("trustees", "import-polynomial", stage, "2", polynomial.name)

        # Step 3.
        ana.step(
            "Step 3: check your shares and make your verification key",
            "Your verification key is checked",
        )
        committee.run("trustees", "vinput", stage, "2", "--out", "vinput-2.json")
        hand(committee.directory / "vinput-2.json", ben)
        ben.run("trustee", "verification-key", "state.json", "--vinput", "vinput-2.json",
                "--out", "key.json")  # fmt: skip
        key = hand(ben.directory / "key.json", committee, "ben-key.json")
        committee.run("trustees", "import-verification-key", stage, "2", key.name)

        # The committee finishes the ceremony and opens the election from its page.
        desk.goto(site.path("/committee/stages/{stage}"))
        axe_check(desk, "the committee's stage page, the ceremony's messages in")
        desk.get_by_role("button", name="Finish the key ceremony").click()
        desk.get_by_text("The key ceremony is finished: the trustee list is fixed").wait_for()
        fingerprint = desk.locator("code").first.inner_text().strip()
        now = datetime.datetime.now(datetime.UTC)
        desk.get_by_label("Voting opens (UTC)").fill(
            (now - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
        )
        desk.get_by_label("Voting closes (UTC)").fill(
            (now + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
        )
        desk.get_by_role("button", name="Set up and open the election").click()
        desk.get_by_text("The election is set up and open for voting").wait_for()

        # Each trustee records the final list in their state file.
        ana.step("Last step: record the trustee list in your state file", None, axe=True)
        screenshots(page, "trustee-ceremony-finished")
        finished = TrusteeState.from_bytes(ana.state.read_bytes())
        assert finished.owner == 2
        assert fingerprint in page.locator("main").inner_text()
        committee.run("trustees", "public", stage, "--out", "trustees.json")
        hand(committee.directory / "trustees.json", ben)
        assert "trustee number 3" in ben.run("trustee", "finish", "state.json",
                                             "--trustees", "trustees.json").lower()  # fmt: skip

        # Members vote in the browser.
        choices = ["Joe Biden", "Nikki Haley", "Joe Biden"]
        for name in choices:
            member_page = new_page(chromium)
            try:
                vote(member_page, site, site.take_member(), site.candidate(name))
            finally:
                member_page.context.close()

        # The committee closes and tallies from its page.
        desk.goto(site.path("/committee/stages/{stage}"))
        desk.get_by_role("button", name="Close the election").click()
        desk.get_by_text("Voting is closed").wait_for()
        desk.get_by_role("button", name="Compute the encrypted tally").click()
        desk.get_by_text("The encrypted tally is computed").wait_for()

        # Ana decrypts in the browser; the server's key and Ben with the CLI.
        page.goto(site.path("/trustee/stages/{stage}"))
        page.get_by_label("Your trustee key file", exact=True).set_input_files(ana.state)
        page.get_by_role("button", name="Make and upload my partial decryption").click()
        page.get_by_text("It is recorded.").wait_for()
        assert "trustee number 2" in page.locator("main").inner_text()
        committee.run("election", "decryption-request", stage, "--out", "request.json")
        hand(committee.directory / "request.json", ben)
        ben.run("trustee", "decrypt", "state.json", "--request", "request.json",
                "--out", "partial.json")  # fmt: skip
        partial = hand(ben.directory / "partial.json", committee, "ben-partial.json")
        committee.run("election", "decrypt-with-server-key", stage, "--key", site.server_key.name)
        committee.run("election", "add-decryption", stage, partial.name)

        desk.goto(site.path("/committee/stages/{stage}"))
        desk.get_by_role("button", name="Compute the result").click()
        desk.get_by_text("The result is computed").wait_for()
        assert js_errors(page) == [] and js_errors(desk) == []
    finally:
        page.context.close()
        desk.context.close()

    # The record, with the trustees' keys made in the browser and by the CLI, verifies.
    committee.run("election", "export", stage, "--out", "record.bel")
    observer = Person("observer", tmp_path / "observer")
    record = hand(committee.directory / "record.bel", observer)
    verified = json.loads(observer.run("verify", record.name, "--json"))
    assert verified["ok"], verified["verdict"]
    result = committee.run("election", "status", stage)
    assert re.search(r"\bdecrypted\b", result), result

    # The state file never left the browser: no request carried its private parts.
    secret = json.loads(ana.state.read_text())
    private = [str(v) for k, v in _walk(secret) if "private" in k or "seed" in k or "secret" in k]
    assert private, "the test found no private field in the state file to look for"
    for body in ana.sent:
        for value in private:
            assert value.encode() not in body, "the trustee's state file was sent"


def js_errors(page: Any) -> list[str]:
    return list(page.js_errors)


def _walk(obj: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, key)
    else:
        yield key, obj
