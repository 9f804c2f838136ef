"""The election service from the close to the result: the tally with its group aggregates,
the trustees' partial decryptions (a bad one refused, nothing written), the result, and the
exported record, byte for byte what ``ElectionBox`` writes for the same operations."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select
from test_elections import (
    JOBS,
    JOBS_HEALTH,
    NONE,
    STAGE,
    A,
    B,
    C,
    Vote,
    make_vote,
    refused,
    snapshot,
)

from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.encoding import sha256_b64
from unionvote.domain.election import ElectionBox
from unionvote.domain.tally import DecryptionRequest, Subtallies, TrusteeDecryption
from unionvote.services import elections as elections_service
from unionvote.services.elections import (
    PENDING_GROUPS_FILE,
    PENDING_SUBTALLIES_FILE,
    SUBTALLIES_FILE,
    decryption_request,
    do_add_partial_decryption,
    do_cast,
    do_close,
    do_compute_result,
    do_tally,
    export_record,
)
from unionvote.storage.database import Database
from unionvote.storage.models import PublishedFile, StageRow
from unionvote.verify import verify_record
from unionvote.verify.engine import open_engine

#: (state, local) of each member: with a minimum of 3, MI shows and OH joins the small states;
#: within MI, local 12 is small so local 9 joins it.
ROLL = (
    [("MI", "751")] * 5
    + [("MI", "9")] * 3
    + [("MI", "12")]
    + [("OH", "2")] * 4
    + [("WY", "1")]
    + [("", "")]
)
#: Who votes what, in casting order: voter 0 votes again, voter 12 abstains.
VOTES = [
    (0, (C, NONE)),
    *[(i, (A, JOBS)) for i in range(1, 5)],
    (0, (A, JOBS_HEALTH)),
    (5, (B, JOBS)),
    (6, (B, NONE)),
    (7, (A, JOBS_HEALTH)),
    (8, (C, JOBS)),
    (9, (A, NONE)),
    (10, (B, JOBS)),
    (11, (C, JOBS_HEALTH)),
    (13, (A, JOBS)),
    (14, (B, NONE)),
]


def last_votes(votes: Sequence) -> dict[int, tuple]:
    return {voter: choices for voter, choices in votes}


def counts(choices: Sequence[tuple], weights: Sequence[int]) -> list[list[int]]:
    total = [[0, 0, 0], [0, 0, 0]]
    for choice, weight in zip(choices, weights, strict=True):
        for row, answer in zip(total, choice, strict=True):
            for j, bit in enumerate(answer):
                row[j] += bit * weight
    return total


def cast_all(vote: Vote, votes: Sequence) -> list[bytes]:
    raws = []
    for voter, choices in votes:
        raw = vote.ballot(voter, choices)
        do_cast(vote.services, STAGE, raw)
        raws.append(raw)
    return raws


def decrypt(vote: Vote, owners: Sequence[int] = (1, 2, 4)) -> list[bytes]:
    """The trustee files of the server (owner 1) and two of the three threshold trustees."""
    request = decryption_request(vote.services, STAGE)
    files = [vote.trustee_file(request, owner) for owner in owners]
    for content in files:
        do_add_partial_decryption(vote.services, STAGE, content)
    return files


def box_record(vote: Vote, path: Path, raws: Sequence[bytes], files: Sequence[bytes]) -> bytes:
    """The same election run with ``ElectionBox`` on a file: the reference bytes."""
    weights = vote.weights or [None] * len(vote.credentials)
    credentials = sorted(
        (c.public(vote.uuid, w) for c, w in zip(vote.credentials, weights, strict=True)),
        key=lambda c: str(c.key),
    )
    box = ElectionBox.create(
        path,
        uuid=vote.uuid,
        name=vote.election.name,
        description=vote.election.description,
        questions=vote.election.questions,
        trustees=vote.trustees,
        credentials=credentials,
        timestamp=vote.timestamp,
    )
    try:
        for raw in raws:
            box.cast(raw)
        box.close()
        box.compute_tally()
        for content in files:
            decryption = TrusteeDecryption.from_bytes(content)
            box.add_partial_decryption(decryption.owner, decryption.tally)
        box.compute_result()
    finally:
        box.close_file()
    return path.read_bytes()


def published(database: Database, name: str) -> bytes | None:
    with database.transaction() as session:
        return session.scalar(select(PublishedFile.content).where(PublishedFile.name == name))


def test_result_subtallies_and_the_record_equal_election_box(
    database: Database, tmp_path: Path
) -> None:
    vote = make_vote(database, roll=ROLL)
    raws = cast_all(vote, VOTES)
    do_close(vote.services, STAGE)
    summary = do_tally(vote.services, STAGE)
    assert (summary.num_tallied, summary.total_weight, summary.aggregates) == (14, 14, 4)
    files = decrypt(vote)
    result = do_compute_result(vote.services, STAGE)

    last = last_votes(VOTES)
    expected = counts(list(last.values()), [1] * len(last))
    assert [list(row) for row in result.result] == expected

    assert published(database, PENDING_SUBTALLIES_FILE) is None
    assert published(database, PENDING_GROUPS_FILE) is None  # joined into the published file
    raw_subtallies = published(database, SUBTALLIES_FILE)
    assert raw_subtallies is not None
    subtallies = Subtallies.from_bytes(raw_subtallies)
    assert subtallies.to_bytes() == raw_subtallies  # canonical
    assert (subtallies.uuid, subtallies.election_hash, subtallies.min_group_size) == (
        vote.uuid,
        vote.election_hash,
        3,
    )
    key_of = {str(c.public(vote.uuid).key): i for i, c in enumerate(vote.credentials)}
    # counted_groups: exactly the counted credentials (voter 12 abstained), by aggregate id
    assert sorted(key_of[k] for k in subtallies.counted_groups) == sorted(last)
    layout = {
        d.dimension: [(a.id, a.groups, a.ballots) for a in d.aggregates]
        for d in subtallies.dimensions
    }
    assert layout == {
        "state": [("state:MI", ("MI",), 9), ("state:other", ("(not recorded)", "OH", "WY"), 5)],
        "local": [
            ("local:MI/751", ("751 (MI)",), 5),
            ("local:other", ("(not recorded)", "1 (WY)", "12 (MI)", "2 (OH)", "9 (MI)"), 9),
        ],
    }
    for dimension in subtallies.dimensions:
        for aggregate in dimension.aggregates:
            voters = [
                key_of[k] for k, ids in subtallies.counted_groups.items() if aggregate.id in ids
            ]
            assert len(voters) == aggregate.ballots
            assert [list(r) for r in aggregate.result or ()] == counts(
                [last[v] for v in voters], [1] * len(voters)
            ), aggregate.id
            assert sorted(aggregate.partial_decryptions) == [1, 2, 4]

    exported = export_record(vote.services, STAGE, tmp_path / "service.bel")
    assert exported.path.read_bytes() == box_record(vote, tmp_path / "box.bel", raws, files)
    report = verify_record(exported.path)
    assert report.ok, report.verdict()
    assert report.result == expected and report.ballots_counted == 14
    with database.transaction() as session:
        assert session.scalar(select(StageRow.status).where(StageRow.key == STAGE)) == "decrypted"


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """A local Dask cluster of two worker processes (the tally on a cluster, as on a real one)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("where", ["here", "two local processes", "a Dask cluster"])
def test_the_tally_split_over_processes_is_the_same_record(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    where: str,
) -> None:
    """Batches of 3 ballots multiplied elsewhere (or here), merged per group: the record and
    the subtallies are byte for byte those of one pass in ``ElectionBox``."""
    monkeypatch.setattr(elections_service, "_TALLY_BATCH", 3)
    vote = make_vote(database, roll=ROLL)
    raws = cast_all(vote, VOTES)
    do_close(vote.services, STAGE)
    done: list[int] = []
    if where == "a Dask cluster":
        opened = open_engine(scheduler=request.getfixturevalue("dask_scheduler"))
    else:
        opened = open_engine(workers=2 if where == "two local processes" else 1)
    with opened as engine:
        summary = do_tally(vote.services, STAGE, engine=engine, progress=done.append)
    assert (summary.num_tallied, summary.aggregates) == (14, 4)
    assert sum(done) == 14
    files = decrypt(vote)
    do_compute_result(vote.services, STAGE)
    exported = export_record(vote.services, STAGE, tmp_path / "service.bel")
    assert exported.path.read_bytes() == box_record(vote, tmp_path / "box.bel", raws, files)
    subtallies = Subtallies.from_bytes(published(database, SUBTALLIES_FILE) or b"")
    assert sum(a.ballots for a in subtallies.dimensions[0].aggregates) == 14
    assert verify_record(exported.path).ok


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stored_ballot_changed_behind_the_service_stops_the_tally(
    database: Database, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """A ballot row whose bytes are no longer those its tracker names (the database edited
    behind the service's back): the tally stops with the same refusal here or in a worker
    process, and nothing is written."""
    from unionvote.storage.models import Ballot as BallotRow

    monkeypatch.setattr(elections_service, "_TALLY_BATCH", 3)
    vote = make_vote(database, roll=ROLL)
    cast_all(vote, VOTES)
    do_close(vote.services, STAGE)
    with database.transaction() as session:
        row = session.scalars(select(BallotRow).order_by(BallotRow.id.desc())).first()
        assert row is not None
        row.raw = row.raw + b" "  # any change at all: no longer the tracker's ballot
    before = snapshot(database)
    with open_engine(workers=workers) as engine:
        error = refused(vote, "tally.ballot", do_tally, vote.services, STAGE, engine=engine)
    assert "is not the ballot its tracker names" in error.detail
    assert snapshot(database) == before


def test_a_weighted_election_without_breakdowns(database: Database, tmp_path: Path) -> None:
    weights = [1, 2, 3, 5, 8]
    vote = make_vote(database, roll=ROLL[:5], weights=weights, breakdowns=())
    votes = [(0, (A, JOBS)), (1, (B, NONE)), (2, (C, JOBS_HEALTH)), (3, (A, NONE)), (1, (A, JOBS))]
    raws = cast_all(vote, votes)
    do_close(vote.services, STAGE)
    assert do_tally(vote.services, STAGE).total_weight == 1 + 2 + 3 + 5
    files = decrypt(vote, owners=(1, 3, 4))
    result = do_compute_result(vote.services, STAGE)
    last = last_votes(votes)
    assert [list(r) for r in result.result] == counts(
        list(last.values()), [weights[v] for v in last]
    )
    subtallies = Subtallies.from_bytes(published(database, SUBTALLIES_FILE) or b"")
    assert subtallies.dimensions == ()
    assert set(subtallies.counted_groups.values()) == {()}
    assert len(subtallies.counted_groups) == 4
    exported = export_record(vote.services, STAGE, tmp_path / "service.bel")
    assert exported.path.read_bytes() == box_record(vote, tmp_path / "box.bel", raws, files)
    assert verify_record(exported.path).ok


def tallied(database: Database) -> Vote:
    vote = make_vote(database, roll=ROLL)
    cast_all(vote, VOTES[:8])
    do_close(vote.services, STAGE)
    do_tally(vote.services, STAGE)
    return vote


def test_the_decryption_request(database: Database) -> None:
    vote = tallied(database)
    raw = decryption_request(vote.services, STAGE)
    obj = json.loads(raw)
    assert list(obj) == ["uuid", "election_hash", "encrypted_tally", "groups", "election"]
    request = DecryptionRequest.from_bytes(raw)
    assert request.election is not None
    assert sha256_b64(request.election.encode()) == vote.election_hash
    assert request.to_bytes() == raw
    assert (request.uuid, request.election_hash) == (vote.uuid, vote.election_hash)
    pending = Subtallies.from_bytes(published(database, PENDING_SUBTALLIES_FILE) or b"")
    assert [group_id for group_id, _ in request.groups] == [a.id for a in pending.aggregates]
    # counted_groups waits apart, unread by each decryption step, until the result
    assert dict(pending.counted_groups) == {}
    groups = json.loads(published(database, PENDING_GROUPS_FILE) or b"")
    assert list(groups) == sorted(groups) and groups
    assert all(a.result is None and not a.partial_decryptions for a in pending.aggregates)


def test_bad_partial_decryptions_are_refused_and_nothing_is_written(database: Database) -> None:
    vote = tallied(database)
    request = decryption_request(vote.services, STAGE)
    add = do_add_partial_decryption
    # trustee 2's file made with trustee 3's key: every proof fails against key 2
    wrong_key = vote.trustee_file(request, 2, key_owner=3)
    refused(vote, "decryption.proof", add, vote.services, STAGE, wrong_key)
    # only one group aggregate decrypted with the wrong key
    good = json.loads(vote.trustee_file(request, 2))
    forged = json.loads(vote.trustee_file(request, 2, key_owner=4))
    group = sorted(good["groups"])[-1]
    one_bad = dict(good, groups=dict(good["groups"], **{group: forged["groups"][group]}))
    error = refused(
        vote, "decryption.proof", add, vote.services, STAGE, json.dumps(one_bad).encode()
    )
    assert group in error.detail
    missing = dict(good, groups={k: v for k, v in good["groups"].items() if k != group})
    refused(vote, "decryption.groups", add, vote.services, STAGE, json.dumps(missing).encode())
    extra = dict(good, groups=dict(good["groups"], **{"state:XX": good["groups"][group]}))
    refused(vote, "decryption.groups", add, vote.services, STAGE, json.dumps(extra).encode())
    unknown = dict(good, owner=9)
    refused(vote, "decryption.owner", add, vote.services, STAGE, json.dumps(unknown).encode())
    for junk in (b"not json", b"{}", b'{"owner":2,"tally":{},"groups":{}}'):
        refused(vote, "decryption.malformed", add, vote.services, STAGE, junk)
    # the good file is accepted, once
    assert add(vote.services, STAGE, json.dumps(good).encode()) == 2
    refused(vote, "decryption.owner", add, vote.services, STAGE, json.dumps(good).encode())
    pending = Subtallies.from_bytes(published(database, PENDING_SUBTALLIES_FILE) or b"")
    assert all(sorted(a.partial_decryptions) == [2] for a in pending.aggregates)


def test_steps_out_of_order_are_refused(database: Database) -> None:
    vote = make_vote(database, roll=ROLL)
    cast_all(vote, VOTES[:3])
    refused(vote, "tally.phase", do_tally, vote.services, STAGE)
    refused(vote, "decryption.phase", decryption_request, vote.services, STAGE)
    refused(vote, "result.phase", do_compute_result, vote.services, STAGE)
    do_close(vote.services, STAGE)
    early = TrusteeDecryption(2, PartialDecryption((), ()), {}).to_bytes()
    refused(vote, "decryption.phase", do_add_partial_decryption, vote.services, STAGE, early)
    do_tally(vote.services, STAGE)
    refused(vote, "tally.phase", do_tally, vote.services, STAGE)
    # the server alone is not enough: 2 of the 3 threshold trustees are needed too
    decrypt(vote, owners=(1, 2))
    refused(vote, "decryption.missing", do_compute_result, vote.services, STAGE)
    decrypt(vote, owners=(3,))
    do_compute_result(vote.services, STAGE)
    refused(vote, "result.phase", do_compute_result, vote.services, STAGE)
    refused(vote, "decryption.phase", decryption_request, vote.services, STAGE)


@pytest.mark.belenios
def test_belenios_verifies_the_exported_record(
    database: Database, tmp_path: Path, belenios_verify
) -> None:
    if database.backend != "sqlite":
        pytest.skip("the record's bytes do not depend on the backend: checked once, on SQLite")
    vote = make_vote(database, roll=ROLL)
    cast_all(vote, VOTES)
    do_close(vote.services, STAGE)
    do_tally(vote.services, STAGE)
    decrypt(vote)
    do_compute_result(vote.services, STAGE)
    exported = export_record(vote.services, STAGE, tmp_path / "record.bel")
    code, output = belenios_verify(exported.path)
    assert code == 0, output
