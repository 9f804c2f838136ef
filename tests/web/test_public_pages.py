"""The public pages over a real election: home, the board (pagination, newest first), the
record download, find my ballot."""

from __future__ import annotations

from web_support import JOBS, NONE, STAGE, A, B, make_site

from unionvote.services.board import board_page
from unionvote.storage.database import Database


def test_home_board_record_and_find(database: Database) -> None:
    site = make_site(database)
    first = site.vote.cast(0, (A, JOBS))
    second = site.vote.cast(1, (B, NONE))
    third = site.vote.cast(0, (B, JOBS))
    home = site.client.get("/")
    assert home.status_code == 200 and "General membership vote" in home.text
    assert f"/stages/{STAGE}/board" in home.text
    page = board_page(site.vote.services, STAGE, size=2)
    assert [e.tracker for e in page.entries] == [third.tracker, second.tracker]
    assert page.next_before is not None and page.ballots_received == 3
    older = board_page(site.vote.services, STAGE, before=page.next_before, size=2)
    assert [(e.tracker, e.counted) for e in older.entries] == [(first.tracker, False)]
    assert older.next_before is None
    board = site.client.get(f"/stages/{STAGE}/board")
    assert board.status_code == 200
    assert board.text.index(third.tracker) < board.text.index(first.tracker)
    assert "Not yet verified" in board.text
    record = site.client.get(f"/stages/{STAGE}/record.bel")
    assert record.status_code == 200 and record.content.startswith(b"BELENIOS")
    found = site.client.get(f"/stages/{STAGE}/find", params={"tracker": f" {first.tracker} "})
    assert "a later ballot with the same credential replaced it" in found.text
    counted = site.client.get(f"/stages/{STAGE}/find", params={"tracker": third.tracker})
    assert "it is the one that counts" in counted.text
    none = site.client.get(f"/stages/{STAGE}/find", params={"tracker": "nothing"})
    assert "No ballot with this tracker" in none.text
    assert site.client.get("/stages/nowhere/board").status_code == 404
    assert site.client.get("/endorsement").status_code == 200
    assert site.client.get(f"/stages/{STAGE}/results").status_code == 404


def test_the_board_verifies_the_record_and_says_for_which_head(database: Database) -> None:
    site = make_site(database)
    site.vote.cast(0, (A, JOBS))
    verifier = site.client.app.state.verifier
    status = verifier.verify(STAGE)
    assert status.passed is True and status.current and status.ballots_checked == 1
    assert "Verified: every check passed." in site.client.get(f"/stages/{STAGE}/board").text
    site.vote.cast(1, (B, NONE))
    later = verifier.status(STAGE)
    assert not later.current and later.events_since == 1 and verifier.needs_run(STAGE)
    assert "Verified up to an earlier point" in site.client.get(f"/stages/{STAGE}/board").text
