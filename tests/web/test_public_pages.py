"""The public pages over a real election: home, the board (pagination, newest first), the
record download, find my ballot."""

from __future__ import annotations

import threading

import pytest
from web_support import JOBS, NONE, STAGE, A, B, make_site

from unionvote.services import board
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
    # the day only, on the board, in "find my ballot" and the API: no time to link a ballot
    # to a member whose time of voting someone knows
    day, minute = (
        site.vote.clock.now().strftime("%Y-%m-%d"),
        site.vote.clock.now().strftime("%H:%M"),
    )
    assert day in board.text and minute not in board.text
    found = site.client.get(f"/stages/{STAGE}/find", params={"tracker": third.tracker})
    assert day in found.text and minute not in found.text
    api = site.client.get(f"/api/stages/{STAGE}/ballots/{third.tracker}").json()
    assert api["received_on"] == day and "received_at" not in api
    assert site.client.get(f"/stages/{STAGE}/board", params={"before": 10**30}).status_code == 422
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
    assert not later.current and later.events_since == 1
    assert not verifier.needs_run(STAGE)  # checked less than the interval ago
    site.vote.clock.advance(minutes=15)
    assert verifier.needs_run(STAGE)
    assert "Verified up to an earlier point" in site.client.get(f"/stages/{STAGE}/board").text


def test_the_board_checks_at_most_once_per_interval(database: Database) -> None:
    site = make_site(database, verify_board=True, board_check_interval_seconds=600)
    site.vote.cast(0, (A, JOBS))
    board = site.client.get(f"/stages/{STAGE}/board").text  # starts the first check
    assert "at most once every 10 minutes" in board
    assert "Verified: every check passed." in site.client.get(f"/stages/{STAGE}/board").text
    site.vote.cast(1, (B, NONE))
    for _ in range(3):  # shown again and again: no new check within the interval
        page = site.client.get(f"/stages/{STAGE}/board").text
        assert "Verified up to an earlier point" in page
    site.vote.clock.advance(minutes=10)
    site.client.get(f"/stages/{STAGE}/board")
    assert "Verified: every check passed." in site.client.get(f"/stages/{STAGE}/board").text


def test_one_check_at_a_time_for_the_whole_site(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(database)
    site.vote.cast(0, (A, JOBS))
    verifier = site.client.app.state.verifier
    inside, release = threading.Event(), threading.Event()
    real = board.verify_record

    def slow(path):  # type: ignore[no-untyped-def]
        inside.set()
        release.wait(60)
        return real(path)

    monkeypatch.setattr(board, "verify_record", slow)
    running = threading.Thread(target=verifier.verify, args=(STAGE,))
    running.start()
    assert inside.wait(60)
    try:
        assert verifier.status(STAGE).running and not verifier.needs_run(STAGE)
        verifier.verify_if_due(STAGE)  # a second request: nothing started
        assert verifier.verify(STAGE).verified_head is None
    finally:
        release.set()
        running.join(60)
    assert verifier.status(STAGE).passed is True


def test_a_long_check_spaces_the_next_ones_out(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that took 10 minutes (a large record) is not started again for 50 minutes
    (five times as long), even with a 15-minute interval: the server keeps most of its time
    for casting."""
    site = make_site(database)
    site.vote.cast(0, (A, JOBS))
    verifier = site.client.app.state.verifier
    real = board.verify_record

    def ten_minutes(path):  # type: ignore[no-untyped-def]
        site.vote.clock.advance(minutes=10)
        return real(path)

    monkeypatch.setattr(board, "verify_record", ten_minutes)
    verifier.verify(STAGE)
    site.vote.cast(1, (B, NONE))
    site.vote.clock.advance(minutes=35)  # 45 minutes after the start: 15 would have done
    assert not verifier.needs_run(STAGE)
    site.vote.clock.advance(minutes=5)  # 50 minutes after the start
    assert verifier.needs_run(STAGE)


def test_another_server_process_checking_means_this_one_does_not(database: Database) -> None:
    """`serve --workers N`: the processes share one lock per site on this machine."""
    site = make_site(database)
    site.vote.cast(0, (A, JOBS))
    verifier = site.client.app.state.verifier
    with board._machine_wide_lock(site.vote.services) as held:  # another process, checking
        assert held
        verifier.verify(STAGE)
        status = verifier.status(STAGE)
        assert status.verified_head is None and not status.running
    assert verifier.verify(STAGE).passed is True
