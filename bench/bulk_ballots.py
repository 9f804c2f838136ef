"""Fill an open election with its planned ballots, fast: a fixture builder for the scale
benchmarks only, never the server's path.

    DATABASE_URL=… python -m bench.bulk_ballots STAGE --credentials private-credentials.csv
                                                --distribution shares.toml [--seed N]

``unionvote simulate`` casts every ballot through ``do_cast``, each checked in full: about
12 ms of CPU a ballot on this 2-core machine (making it, checking it, the database), some
three hours for the 1.2 million ballots issue 5 measures. This makes the very ballots
``simulate`` would (``services.simulation.planned_ballots``: the same plan and seed, each
encrypted, proved and signed with its member's real private credential, on every core) and
records them a thousand to a transaction by the code that records a batch of cast ballots
(``services.elections._write_batch``: each its own record chunk, continuing the hash chain,
its row in the ballot index and its audit entry, the head and the counters moved), without
``do_cast``'s pre-check and proofs. What the benchmark then
measures (the tally, the decryption, the report, ``unionvote verify``, which checks every
ballot of the record in full) is the product's own path; the casting is not measured.

Members who already have a ballot (a ``simulate`` run cut short) are skipped: this continues
one. Revotes are refused (``simulate`` casts them): a distribution for this has ``revote = 0``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from sqlalchemy import Connection, func, select

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.domain.simulation import parse_distribution
from unionvote.record.messages import Election
from unionvote.services.booth import make_one
from unionvote.services.context import Services
from unionvote.services.elections import (  # the recording of a batch of checked ballots
    _ToRecord,
    _write_batch,
    election_definition,
    election_status,
)
from unionvote.services.simulation import planned_ballots, read_private_credentials
from unionvote.storage.database import Database
from unionvote.storage.models import Ballot as BallotRow
from unionvote.storage.models import (
    ElectionRow,
    Member,
    PublicCredentialRow,
    StageRow,
)

BATCH = 1000
ACTOR = "scale benchmark (bulk ballots)"

_election: tuple[Election, str] | None = None


def _start_maker(election_json: bytes, election_hash: str) -> None:
    global _election
    _election = (Election.from_json(json.loads(election_json)), election_hash)


def _make_many(jobs: list[tuple[str, list[list[int]]]]) -> list[bytes]:
    """In a worker: a run of ballots, each made as the member's device makes it."""
    assert _election is not None
    election, election_hash = _election
    return [make_one(election, election_hash, PrivateCredential(t), c) for t, c in jobs]


def already_voted(connection: Connection, stage_key: str) -> set[str]:
    """The card numbers of the members with a ballot in the stage's election."""
    stage_id = connection.scalar(select(StageRow.id).where(StageRow.key == stage_key))
    election_id = connection.scalar(select(ElectionRow.id).where(ElectionRow.stage_id == stage_id))
    query = (
        select(Member.card_number)
        .join(PublicCredentialRow, PublicCredentialRow.member_id == Member.id)
        .join(
            BallotRow,
            (BallotRow.credential == PublicCredentialRow.credential)
            & (PublicCredentialRow.stage_id == stage_id),
        )
        .where(BallotRow.election_id == election_id)
    )
    return set(connection.scalars(query))


def write_batch(connection: Connection, services: Services, stage_key: str,
                raws: Sequence[bytes]) -> None:  # fmt: skip
    """``raws`` recorded in one transaction by the very code that records a batch of cast
    ballots (``services.elections._write_batch``: each its own record chunk, its index row and
    audit entry, the head and counters moved once), without the cast's pre-check and proofs."""
    batch = [_ToRecord(raw, sha256_b64(raw), json.loads(raw)["credential"]) for raw in raws]
    _write_batch(connection, services, stage_key, batch)
    refused = [item.error for item in batch if item.error is not None]
    if refused:
        raise SystemExit(f"a ballot was not recorded: {refused[0]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk_ballots", description=__doc__)
    parser.add_argument("stage")
    parser.add_argument("--credentials", type=Path, required=True)
    parser.add_argument("--distribution", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set DATABASE_URL to the election's database")
    database = Database(url)
    services = Services(database, actor=ACTOR)
    try:
        election = election_definition(services, args.stage)
        status = election_status(services, args.stage)
        credentials = read_private_credentials(args.credentials)
        distribution = parse_distribution(
            args.distribution.read_text(encoding="utf-8"),
            stage=args.stage,
            source=str(args.distribution),
        )
        members = planned_ballots(services, args.stage, credentials, distribution, seed=args.seed)
        if any(len(ballots) != 1 for _, _, ballots in members):
            raise SystemExit("revotes are cast by `unionvote simulate`, not here (revote = 0)")
        with database.engine.connect() as connection:
            done = already_voted(connection, args.stage)
        todo = [(text, ballots[0]) for card, text, ballots in members if card not in done]
        print(
            f"{len(members):,} planned ballots: {len(done):,} already cast, "
            f"{len(todo):,} to make and write",
            file=sys.stderr,
        )
        start = time.perf_counter()
        columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        runs = [todo[i : i + BATCH] for i in range(0, len(todo), BATCH)]
        with (
            ProcessPoolExecutor(
                args.workers,
                initializer=_start_maker,
                initargs=(compact_json(election.to_json()), status.election_hash),
            ) as pool,
            database.engine.connect() as connection,
            Progress(*Progress.get_default_columns()[:1], *columns) as progress,
        ):
            task = progress.add_task("ballots", total=len(todo))
            for batch in pool.map(_make_many, runs):  # in order, a worker a run
                write_batch(connection, services, args.stage, batch)
                progress.advance(task, len(batch))
            received = connection.scalar(
                select(func.count()).select_from(BallotRow).where(BallotRow.counted.is_(True))
            )
        took = time.perf_counter() - start
        rate = len(todo) / took if took else 0
        print(f"{len(todo):,} ballots in {took:,.0f} s ({rate:,.0f}/s); {received:,} counted")
    finally:
        database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
