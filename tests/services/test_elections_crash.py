"""Durability and concurrency of casting.

Killing the process in the middle of casting loses no ballot that was acknowledged (issue 3):
a subprocess casts in a loop and prints each tracker after the commit; it is SIGKILLed mid-run;
every tracker it printed must be in the exported record, which must verify, and the election
must go on. Casts from several threads at once still form one chain."""

from __future__ import annotations

import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from test_elections import JOBS, NONE, STAGE, A, B, make_vote

from unionvote.crypto.encoding import sha256_b64
from unionvote.record.archive import read_archive
from unionvote.services.elections import (
    do_cast,
    do_close,
    do_tally,
    election_status,
    export_record,
)
from unionvote.storage.database import Database
from unionvote.storage.models import Ballot
from unionvote.verify import verify_record

SCRIPT = Path(__file__).with_name("kill_cast.py")
VOTERS = 40
BALLOTS = 160  # four rounds: every voter votes again, so revotes die mid-run too
KILL_AFTER = 12


def record_trackers(path: Path) -> list[str]:
    archive = read_archive(path)
    return [
        sha256_b64(archive.data[e.event.payload])
        for e in archive.events
        if e.event.type == "Ballot" and e.event.payload is not None
    ]


@pytest.mark.slow
def test_a_killed_caster_loses_no_acknowledged_ballot(database: Database, tmp_path: Path) -> None:
    vote = make_vote(database, roll=[("MI", "751")] * VOTERS)
    ballots = [
        vote.ballot(i % VOTERS, ((A if i % 3 else B), (JOBS if i % 2 else NONE)))
        for i in range(BALLOTS)
    ]
    source = tmp_path / "ballots.jsonl"
    source.write_bytes(b"".join(raw + b"\n" for raw in ballots))
    url = database.url.render_as_string(hide_password=False)
    command = [sys.executable, str(SCRIPT), url, STAGE, str(source), vote.clock.now().isoformat()]
    caster = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed: list[str] = []
    try:
        assert caster.stdout is not None
        while len(printed) < KILL_AFTER:
            line = caster.stdout.readline()
            assert line, (
                f"the caster stopped early: {caster.stderr.read() if caster.stderr else ''}"
            )
            printed.append(line.strip())
        caster.send_signal(signal.SIGKILL)
        rest, _ = caster.communicate(timeout=60)
    finally:
        if caster.poll() is None:
            caster.kill()
            caster.wait()
    printed += rest.split()
    assert caster.returncode == -signal.SIGKILL
    assert len(printed) < BALLOTS, "the caster finished before it was killed"

    exported = export_record(vote.services, STAGE, tmp_path / "after-crash.bel")
    report = verify_record(exported.path)
    assert report.ok, report.verdict()
    in_record = record_trackers(exported.path)
    assert set(printed) <= set(in_record), "an acknowledged ballot was lost"
    assert in_record[: len(printed)] == printed  # in casting order, nothing in between
    with database.transaction() as session:
        indexed = session.scalars(select(Ballot.tracker)).all()
        assert sorted(indexed) == sorted(in_record)
    assert election_status(vote.services, STAGE).ballots_received == len(in_record)

    # the election goes on where the killed process stopped
    remaining = ballots[len(in_record) :]
    for raw in remaining[:3]:
        assert not do_cast(vote.services, STAGE, raw).already_recorded
    assert do_cast(vote.services, STAGE, ballots[0]).already_recorded
    exported = export_record(vote.services, STAGE, tmp_path / "later.bel")
    assert verify_record(exported.path).ok
    assert record_trackers(exported.path) == in_record + [sha256_b64(r) for r in remaining[:3]]


def test_concurrent_casts_form_one_chain(database: Database, tmp_path: Path) -> None:
    """Casts from several threads at once (the row lock serialises them): one valid chain,
    every ballot in it once, and the tally counts the last ballot of each credential in the
    record's order, as the verifier recomputes it."""
    vote = make_vote(database, roll=[("MI", "751")] * 8)
    jobs = [
        [vote.ballot(voter, ((A if round_ % 2 else B), NONE)) for round_ in range(3)]
        for voter in range(8)
    ]
    # two threads send ballots of the same voters, so revotes race each other too
    lanes = [jobs[0] + jobs[1], jobs[1][::-1] + jobs[2], *jobs[3:]]

    def cast(lane: list[bytes]) -> list[str]:
        return [do_cast(vote.services, STAGE, raw).tracker for raw in lane]

    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        receipts = [t for done in pool.map(cast, lanes) for t in done]  # re-raises any error
    unique = {sha256_b64(raw) for lane in jobs for raw in lane}
    exported = export_record(vote.services, STAGE, tmp_path / "record.bel")
    assert sorted(record_trackers(exported.path)) == sorted(unique)
    assert set(receipts) == unique
    status = election_status(vote.services, STAGE)
    assert (status.ballots_received, status.counted) == (len(unique), 8)
    do_close(vote.services, STAGE)
    do_tally(vote.services, STAGE)
    exported = export_record(vote.services, STAGE, tmp_path / "tallied.bel")
    report = verify_record(exported.path)
    assert report.ok and report.ballots_counted == 8, report.verdict()
