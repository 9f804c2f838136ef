"""The whole IAM process, rehearsed on synthetic members: ``unionvote demo`` and ``make demo``.

Every step is the real one, in the order an election committee runs it, on a SQLite database
in the output directory: the roll is imported from a CSV export, the electorate frozen,
members register with their card number and a second fact, the independent credential
authority makes credentials in its own workspace and hands over only the public list, the
trustees run the key ceremony with their own key files, the members' ballots are encrypted and
signed with their credentials and checked before each receipt, the trustees decrypt only the
totals, the report is built from the published record, the State Council Presidents vote
between the top vote-getter of each party, and the endorsement is recorded. Only the members
and their choices are synthetic (and time, which a simulated clock moves through the windows).
"""

from __future__ import annotations

import csv
import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from unionvote.authority.workspace import generate_workspace
from unionvote.domain.endorsement import parse_endorsement
from unionvote.domain.simulation import Distribution, parse_distribution
from unionvote.domain.synthetic import synthetic_roll, write_roll_csv
from unionvote.domain.trustee_work import TrusteeState, partial_decrypt
from unionvote.services.context import FixedClock, Services
from unionvote.services.council import do_decide, do_derive_council_stage, do_record_endorsement
from unionvote.services.credentials import do_export_registered, do_import_public_credentials
from unionvote.services.elections import (
    decryption_request,
    do_add_partial_decryption,
    do_close,
    do_compute_result,
    do_setup_election,
    do_tally,
)
from unionvote.services.process import do_init_process, stage_row
from unionvote.services.publication import ExportedStage, export_stage, read_published
from unionvote.services.registration import (
    do_close_registration,
    do_open_registration,
    do_register,
)
from unionvote.services.report import do_publish_report
from unionvote.services.roll import do_freeze_eligibility, do_import_roll
from unionvote.services.simulation import SimulationSummary, read_private_credentials, simulate
from unionvote.services.trustees import (
    do_make_server_key,
    do_run_local_ceremony,
    election_trustees,
    server_partial_decryption,
)
from unionvote.storage.database import Database

__all__ = ["DemoRun", "run_demo"]

MEMBERSHIP, COUNCIL = "membership-vote", "council-vote"
TRUSTEES = (
    "Trustee for the Democratic caucus",
    "Trustee for the Republican caucus",
    "Trustee for the Independent observers",
)


@dataclass(frozen=True)
class DemoRun:
    out: Path
    database: Path
    stages: dict[str, ExportedStage]
    report_text: str
    council_text: str
    endorsement_text: str
    membership: SimulationSummary
    council: SimulationSummary
    registered: int
    eligible: int


def run_demo(
    out: Path,
    *,
    process: Path,
    distribution: Path,
    members: int,
    seed: int,
    say: Callable[[str], None] = lambda _: None,
    progress: Callable[[str, int, int], None] = lambda what, done, total: None,
    workers: int | None = None,
) -> DemoRun:
    """Run the whole process into ``out`` (which must not exist yet) and return what it made."""
    out.mkdir(parents=True, exist_ok=False)
    # The simulated timeline ends about now: registration, then two weeks of each vote.
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    start -= datetime.timedelta(days=45)
    clock = FixedClock(start)
    database_path = out / "unionvote.db"
    database = Database(f"sqlite:///{database_path}")
    database.upgrade()
    committee = Services(database, clock, actor="election committee (demo)")
    try:
        do_init_process(committee, process.read_text(encoding="utf-8"), source_name=process.name)
        text = distribution.read_text(encoding="utf-8")
        shares = {
            stage: parse_distribution(text, stage=stage, source=str(distribution))
            for stage in (MEMBERSHIP, COUNCIL)
        }

        say(f"Importing the roll of {members:,} synthetic members")
        roll = out / "roll.csv"
        with roll.open("w", encoding="utf-8", newline="") as stream:
            write_roll_csv(synthetic_roll(members, seed=seed), stream)
        do_import_roll(committee, roll, source_name=roll.name, apply=True)
        frozen = do_freeze_eligibility(committee, MEMBERSHIP)
        say(
            f"Eligible (U.S., good standing at the cutoff): {frozen.count:,}; "
            f"snapshot sha256:{frozen.digest}"
        )

        day = datetime.timedelta(days=1)
        do_open_registration(committee, MEMBERSHIP, opens_at=start, closes_at=start + 14 * day)
        clock.advance(hours=1)
        registered = _register(committee, roll, seed=seed, progress=progress)
        clock.current = start + 15 * day
        closed = do_close_registration(committee, MEMBERSHIP)
        say(f"Registered: {registered:,} members")

        membership = _vote_stage(
            committee,
            clock,
            out,
            MEMBERSHIP,
            shares[MEMBERSHIP],
            seed=seed,
            say=say,
            progress=progress,
            workers=workers,
        )
        do_publish_report(committee, MEMBERSHIP, simulation=True)

        say("Deriving the State Council Presidents' vote from the published result")
        do_derive_council_stage(committee, MEMBERSHIP, COUNCIL)
        do_freeze_eligibility(committee, COUNCIL)
        council = _vote_stage(
            committee,
            clock,
            out,
            COUNCIL,
            shares[COUNCIL],
            seed=seed + 1,
            say=say,
            progress=progress,
            workers=workers,
        )
        do_publish_report(committee, COUNCIL, simulation=True)
        do_decide(committee, COUNCIL)
        do_record_endorsement(
            committee,
            statement=(
                "SIMULATION. Following the members' vote and the State Council Presidents' "
                "decision, the union endorses the candidate named in this record."
            ),
            decided_by="IAM State Council Presidents",
        )

        published = out / "published"
        stages = {key: export_stage(committee, key, published) for key in (MEMBERSHIP, COUNCIL)}
        return DemoRun(
            out=out,
            database=database_path,
            stages=stages,
            report_text=read_published(committee, MEMBERSHIP, "report.txt").decode(),
            council_text=read_published(committee, COUNCIL, "report.txt").decode(),
            endorsement_text=parse_endorsement(
                read_published(committee, COUNCIL, "endorsement.json")
            ).to_text(),
            membership=membership,
            council=council,
            registered=closed.registered,
            eligible=frozen.count,
        )
    finally:
        database.dispose()


def _register(
    services: Services,
    roll: Path,
    *,
    seed: int,
    progress: Callable[[str, int, int], None],
) -> int:
    """Most members register with their card number, last name and postal code; some never
    do, and a few make the mistakes real members make (each is answered and counted)."""
    choose = random.Random(seed + 7)
    with roll.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    registered = 0
    for done, row in enumerate(rows, start=1):
        if choose.random() < 0.2:
            continue  # never registers
        if choose.random() < 0.01:  # a typo in the postal code first
            do_register(
                services,
                MEMBERSHIP,
                card_number=row["card_number"],
                last_name=row["last_name"],
                postal_code="00000",
            )
        outcome = do_register(
            services,
            MEMBERSHIP,
            card_number=row["card_number"],
            last_name=row["last_name"],
            postal_code=row["postal_code"],
        )
        registered += outcome.registered
        if done % 200 == 0 or done == len(rows):
            progress("Members registering", done, len(rows))
    return registered


def _vote_stage(
    services: Services,
    clock: FixedClock,
    out: Path,
    stage: str,
    distribution: Distribution,
    *,
    seed: int,
    say: Callable[[str], None],
    progress: Callable[[str, int, int], None],
    workers: int | None,
) -> SimulationSummary:
    """Credentials, key ceremony, voting, tally and decryption of one stage."""
    authority = out / "credential-authority"
    authority.mkdir(mode=0o700, exist_ok=True)
    registered = authority / f"{stage}-registered.csv"
    with registered.open("w", encoding="utf-8", newline="") as stream:
        do_export_registered(services, stage, stream)
    workspace = generate_workspace(registered, authority / stage)
    with workspace.public_path.open("rb") as stream:
        do_import_public_credentials(services, stage, stream)
    say(
        f"{stage}: the credential authority made the credentials; the server holds the "
        "public list only"
    )

    server_key = out / "server" / f"server-trustee-{stage}.key"
    server_key.parent.mkdir(mode=0o700, exist_ok=True)
    do_make_server_key(services, stage, server_key)
    states = do_run_local_ceremony(
        services, stage, out / "trustees" / stage, names=TRUSTEES, threshold=2
    )
    with services.db.sessions() as session:
        row, _ = stage_row(session, stage)
        trustees = election_trustees(session, row)
    now = clock.now()
    do_setup_election(
        services,
        stage,
        trustees=trustees,
        name=f"{row.title} (SIMULATION)",
        description="A rehearsal with synthetic members; not a real vote.",
        voting_opens_at=now,
        voting_closes_at=now + datetime.timedelta(days=14),
    )
    say(f"{stage}: key ceremony done (the server's key and 2 of 3 trustees); voting is open")
    clock.advance(hours=1)
    summary = simulate(
        services,
        stage,
        read_private_credentials(workspace.private_path),
        distribution,
        seed=seed,
        workers=workers,
        progress=lambda done, total: progress(f"{stage}: ballots", done, total),
    )
    clock.advance(days=14)
    do_close(services, stage)
    do_tally(services, stage)
    request = decryption_request(services, stage)
    with services.db.sessions() as session:
        row, _ = stage_row(session, stage)
        server_part = server_partial_decryption(session, row, server_key, request)
    do_add_partial_decryption(services, stage, server_part)
    for state_path in (states[0], states[2]):  # any two of the three trustees
        state = TrusteeState.from_bytes(state_path.read_bytes())
        do_add_partial_decryption(services, stage, partial_decrypt(state, request))
    do_compute_result(services, stage)
    say(
        f"{stage}: {summary.ballots_cast:,} ballots; decrypted by the server's key and "
        "trustees 1 and 3"
    )
    return summary
