"""A member votes in Debian's Chromium, votes again, and finds the ballot; then the trustees
close, tally and decrypt through the CLI, the report is built, and the exported record, with
the ballots the browser made in it, passes ``unionvote verify`` and Belenios's verifier."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_support import (
    VotingSite,
    axe_check,
    cast,
    choose,
    chromium,
    new_page,
    on_board,
    page,
    review,
    screenshots,
    set_language,
    sign_in,
    vote,
    voting_site,
)
from cli_process_support import Person, decrypt
from elections import read_items, sha256_hex

from unionvote.crypto.encoding import sha256_b64

__all__ = ["chromium", "page", "voting_site"]

pytestmark = pytest.mark.slow


def _record_trackers(record: Path) -> set[str]:
    """The tracker of every ballot in a record: the hash of each ``Ballot`` event's data."""
    items = read_items(record)
    contents = {
        sha256_hex(value): value
        for kind, value in items
        if kind == "data" and isinstance(value, bytes)
    }
    return {sha256_b64(contents[str(payload)]) for kind, payload in items if kind == "Ballot"}


# The record the voting test exported, with the trackers of the ballots the browser made, for
# Belenios's verifier (a test of its own: it needs root, and skips loudly without).
_MADE: dict[str, Any] = {}


def test_a_member_votes_twice_and_the_record_verifies(
    voting_site: VotingSite, chromium: Any, page: Any
) -> None:
    site = voting_site
    member, neighbour = site.take_member(), site.take_member()
    biden, haley, scott = (site.candidate(n) for n in ("Joe Biden", "Nikki Haley", "Tim Scott"))

    sign_in(page, site, member)
    screenshots(page, "booth-ballot")
    choose(page, member, biden)
    review(page)
    assert biden.name in page.locator("main").inner_text()
    screenshots(page, "booth-review")
    first = cast(page)
    screenshots(page, "booth-receipt")
    assert "This vote replaces your earlier one" not in first.text
    assert first.tracker in first.text

    # Voting again replaces the earlier ballot, and the receipt says so.
    second = vote(page, site, member, haley)
    assert second.tracker != first.tracker
    assert "This vote replaces your earlier one" in second.text
    screenshots(page, "booth-receipt-revote")

    # Another member votes in their own browser.
    other = new_page(chromium)
    try:
        third = vote(other, site, neighbour, scott)
        assert "This vote replaces your earlier one" not in third.text
    finally:
        other.context.close()

    # The ballots are on the public board, and "find my ballot" finds them.
    page.goto(site.path("/stages/{stage}/board"))
    board = page.locator("main").inner_text()
    for receipt in (first, second, third):
        assert receipt.tracker in board
    # "Find my ballot", as a member does it: the link on the receipt, the tracker pasted in.
    for receipt, says in (
        (second, "Your ballot is on the board and it is the one that counts."),
        (first, "a later ballot with the same credential replaced it"),
    ):
        page.goto(site.path("/stages/{stage}/find"))
        page.get_by_label("Ballot tracker", exact=True).fill(receipt.tracker)
        page.get_by_role("button", name="Find", exact=True).click()
        page.wait_for_load_state()
        assert says in page.get_by_role("status").inner_text()
    for receipt in (first, second, third):
        assert on_board(site, receipt.tracker)["_status"] == 200

    # The committee closes and tallies; the server's key and two of three trustees decrypt,
    # through the CLI, each trustee with their own state file.
    committee = Person("committee", site.server_key.parent, database=site.database_path)
    assert f"Stage {site.stage}: closed" in committee.run("election", "close", site.stage)
    assert "Tallied 2 ballots" in committee.run("election", "tally", site.stage)
    ana, _, carla = (Person(d.name, d) for d in site.trustee_dirs)
    counts = decrypt(committee, site.stage, site.server_key, [ana, carla])
    assert counts[haley.name] == 1 and counts[scott.name] == 1 and counts[biden.name] == 0
    assert sum(counts.values()) == 2
    report = committee.run("report", "build", site.stage, "--simulation")
    assert "Ballots counted: 2" in report
    exported = committee.run("report", "export", site.stage, "--out", "published")
    record = committee.directory / "published" / site.stage / f"{site.stage}.bel"
    assert f"unionvote verify published/{site.stage}/{site.stage}.bel" in exported

    # The record holds the ballots the browser made, and both verifiers pass it.
    assert {first.tracker, second.tracker, third.tracker} <= _record_trackers(record)
    observer = Person("observer", site.directory / "observer")
    verified = json.loads(observer.run("verify", record, "--json"))
    assert verified["ok"], verified["verdict"]
    assert verified["verdict"].startswith("unionvote verify: PASS")
    found = observer.run("find-ballot", record, first.tracker)
    assert "Your ballot is in the record" in found and "You voted again later" in found
    _MADE.update(record=record, trackers={first.tracker, second.tracker, third.tracker})

    # The public pages show the result once it is published, in both languages, accessibly.
    for lang in ("en", "es"):
        set_language(page, site, lang)
        for path in ("/stages/{stage}/results", "/stages/{stage}/board", "/"):
            answer = page.goto(site.path(path))
            assert answer is not None and answer.status == 200, path
            axe_check(page, f"{path} ({lang}), the result published")
        page.goto(site.path("/stages/{stage}/results"))
        assert haley.name in page.locator("main").inner_text()
        chart = page.locator("img[src$='chart.png']")
        assert chart.count() >= 1 and chart.first.get_attribute("alt"), "no chart, or no alt"
        assert page.evaluate("(img) => img.naturalWidth", chart.first.element_handle()) > 0
        screenshots(page, f"results-{lang}")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@pytest.mark.belenios
def test_belenios_verifies_the_record_with_the_browser_made_ballots(
    belenios_verify: Callable[..., tuple[int, str]],
) -> None:
    if "record" not in _MADE:
        pytest.fail("the voting test above exported no record (see its failure)")
    assert _MADE["trackers"] <= _record_trackers(_MADE["record"])
    code, output = belenios_verify(_MADE["record"])
    assert code == 0, output
    assert "PASS" in output
