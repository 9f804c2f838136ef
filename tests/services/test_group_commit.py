"""Group commit: the casts of one process that reach recording together are written in one
transaction (``services.elections._GroupCommit``), each told only after that commit, with
the same outcomes as one by one: a revote or a replay inside a batch, a refusal, a failure."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from test_elections import CLOSES, STAGE, Vote, make_vote, snapshot

from unionvote.domain.errors import ElectionError
from unionvote.services import elections
from unionvote.services.elections import (
    CastReceipt,
    do_cast,
    do_close,
    election_status,
    export_record,
)
from unionvote.storage.database import Database
from unionvote.storage.models import Ballot
from unionvote.verify import verify_record

A, B, C = (1, 0, 0), (0, 1, 0), (0, 0, 1)
NONE, JOBS = (0, 0, 0), (1, 0, 0)


class Casts:
    """Casts in threads, each one queued behind a leader held at the start of its batch."""

    def __init__(self, vote: Vote, monkeypatch: pytest.MonkeyPatch) -> None:
        self.vote = vote
        self.group = elections._group_commit(vote.services.db.engine, STAGE)
        self.batches: list[int] = []
        self.release = threading.Event()
        self.before_batch: Callable[[int], None] = lambda number: None
        real = elections._write_batch

        def held(connection: Any, services: Any, stage_key: str, batch: Any) -> None:
            self.batches.append(len(batch))
            self.before_batch(len(self.batches))
            if len(self.batches) == 1:
                assert self.release.wait(30), "the test never released the first batch"
            real(connection, services, stage_key, batch)

        monkeypatch.setattr(elections, "_write_batch", held)
        self.threads: list[threading.Thread] = []
        self.outcomes: dict[int, CastReceipt | BaseException] = {}

    def start(self, raw: bytes) -> int:
        """Cast ``raw`` in a new thread; returns once it waits in the queue (or leads)."""
        number = len(self.threads)
        queued = len(self.group._queue)

        def run() -> None:
            try:
                self.outcomes[number] = do_cast(self.vote.services, STAGE, raw)
            except BaseException as error:  # noqa: BLE001 - the test looks at it
                self.outcomes[number] = error

        thread = threading.Thread(target=run, daemon=True)
        self.threads.append(thread)
        thread.start()
        deadline = time.monotonic() + 30
        if number == 0:  # the leader: it holds the first batch
            while not self.batches:
                assert time.monotonic() < deadline
                time.sleep(0.005)
        else:
            while len(self.group._queue) <= queued:
                assert time.monotonic() < deadline
                time.sleep(0.005)
        return number

    def finish(self) -> dict[int, CastReceipt | BaseException]:
        self.release.set()
        for thread in self.threads:
            thread.join(30)
            assert not thread.is_alive()
        return self.outcomes


def verified(vote: Vote, tmp_path: Path) -> int:
    do_close(vote.services, STAGE)
    exported = export_record(vote.services, STAGE, tmp_path / "record.bel")
    report = verify_record(exported.path)
    assert report.ok, report.verdict()
    return report.ballots_checked


def test_a_batch_records_new_ballots_a_revote_and_a_replay_as_one_by_one(
    database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    vote = make_vote(database)
    casts = Casts(vote, monkeypatch)
    first_of_1, first_of_2, second_of_2 = vote.ballot(1, (A, JOBS)), vote.ballot(2, (B, NONE)), \
        vote.ballot(2, (C, JOBS))  # fmt: skip
    casts.start(vote.ballot(0, (A, NONE)))  # the leader, held
    casts.start(first_of_1)
    casts.start(first_of_2)
    casts.start(second_of_2)  # voter 2 again, in the same batch
    casts.start(first_of_1)  # voter 1's very ballot again, in the same batch
    outcomes = casts.finish()
    assert casts.batches == [1, 4]
    receipts = {n: o for n, o in outcomes.items() if isinstance(o, CastReceipt)}
    assert len(receipts) == 5, outcomes
    assert not receipts[1].replaced_earlier_ballot and not receipts[1].already_recorded
    assert not receipts[2].replaced_earlier_ballot
    assert receipts[3].replaced_earlier_ballot and not receipts[3].already_recorded
    assert receipts[4].already_recorded and receipts[4].tracker == receipts[1].tracker
    with database.transaction() as session:
        rows = session.execute(select(Ballot.tracker, Ballot.counted).order_by(Ballot.id)).all()
    assert [tuple(r) for r in rows] == [
        (receipts[0].tracker, True),
        (receipts[1].tracker, True),
        (receipts[2].tracker, False),
        (receipts[3].tracker, True),
    ]
    status = election_status(vote.services, STAGE)
    assert (status.ballots_received, status.counted, status.height) == (4, 3, 4)
    # the next cast continues the chain the batch wrote
    assert not do_cast(vote.services, STAGE, vote.ballot(3, (B, JOBS))).already_recorded
    assert verified(vote, tmp_path) == 5


def test_a_batch_that_fails_tells_every_cast_in_it_and_records_none(
    database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    vote = make_vote(database)
    vote.cast(0, (A, NONE))
    before_failing: list[tuple[Any, ...]] = []
    casts = Casts(vote, monkeypatch)
    failing = threading.Event()

    def fail_second(number: int) -> None:
        if number == 2:
            before_failing.append(snapshot(database))
            failing.set()

    casts.before_batch = fail_second

    def failing_audit(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if failing.is_set() and statement.startswith("INSERT INTO audit_log"):
            raise RuntimeError("the disk is full")

    casts.start(vote.ballot(1, (B, NONE)))  # the leader of a first batch, which is recorded
    for voter in (2, 3, 4):
        casts.start(vote.ballot(voter, (C, JOBS)))
    with listening(database, failing_audit):
        outcomes = casts.finish()
    assert casts.batches == [1, 3]
    assert isinstance(outcomes[0], CastReceipt)
    errors = [outcomes[n] for n in (1, 2, 3)]
    assert all(isinstance(e, RuntimeError) and "disk is full" in str(e) for e in errors), errors
    assert len({id(e) for e in errors}) == 3  # each thread raises its own
    assert snapshot(database) == before_failing[0]  # nothing of the failed batch is left
    for voter in (2, 3, 4):  # each member tries again, and is recorded
        assert not do_cast(vote.services, STAGE, vote.ballot(voter, (A, JOBS))).already_recorded
    status = election_status(vote.services, STAGE)
    assert (status.ballots_received, status.counted) == (5, 5)
    assert verified(vote, tmp_path) == 5


def test_a_window_that_closes_while_casts_wait_refuses_them_all(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote = make_vote(database)
    vote.cast(0, (A, NONE))
    before = snapshot(database)
    casts = Casts(vote, monkeypatch)
    casts.start(vote.ballot(1, (B, NONE)))
    casts.start(vote.ballot(2, (C, NONE)))
    casts.start(vote.ballot(3, (A, JOBS)))
    vote.clock.current = CLOSES + datetime.timedelta(seconds=1)
    outcomes = casts.finish()
    assert casts.batches == [1, 2]
    for outcome in outcomes.values():
        assert isinstance(outcome, ElectionError) and outcome.check == "ballot.window", outcome
    assert snapshot(database) == before


@contextmanager
def listening(database: Database, listener: Callable[..., None]) -> Iterator[None]:
    event.listen(database.engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        event.remove(database.engine, "before_cursor_execute", listener)
