"""A weighted council vote (AFL-CIO style: two thirds of the per-capita votes) end to end through
the services, on SQLite and PostgreSQL: the roll gives the weights, freezing keeps them, the
credential authority carries them into the public credentials, the record is a weighted
Belenios election, and the decision counts weight, not heads — here the two disagree."""

from __future__ import annotations

import csv
import datetime
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from unionvote.authority.workspace import generate_workspace
from unionvote.domain.decision import DecisionRule, decide
from unionvote.domain.errors import DomainError
from unionvote.domain.publication import read_record
from unionvote.domain.trustee_work import TrusteeState, partial_decrypt
from unionvote.services.context import FixedClock, Services
from unionvote.services.council import DecidedStage, do_decide
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
from unionvote.services.publication import ExportedStage, export_stage
from unionvote.services.registration import registered_members
from unionvote.services.report import do_publish_report
from unionvote.services.roll import do_freeze_eligibility, do_import_roll
from unionvote.services.simulation import do_vote, read_private_credentials
from unionvote.services.trustees import (
    do_run_local_ceremony,
    election_trustees,
    server_partial_decryption,
)
from unionvote.storage.database import Database
from unionvote.storage.models import (
    EligibilitySnapshot,
    PublicCredentialRow,
    Registration,
    SnapshotEntry,
    StageRow,
)
from unionvote.verify import verify_record

COUNCIL = "council-vote"
START = datetime.datetime(2024, 6, 3, 9, tzinfo=datetime.UTC)
ADA, ALAN, NONE = "Ada Lovelace", "Alan Turing", "No endorsement"

PROCESS = """\
[union]
name = "Test Federation of Labor"
short_name = "TFL"

[eligibility]
countries = ["US"]
dues_statuses = ["good standing"]
cutoff = 2024-01-01

[[parties]]
name = "Democratic"

[[parties]]
name = "Republican"

[report]
threshold_percent = 2
min_group_size = 2
breakdowns = ["state"]

[[stages]]
id = "council-vote"
title = "General Board vote"
electorate = "council role: state council president"

[stages.decision]
rule = "two thirds"
weights = {weights}

[[stages.questions]]
id = "endorsement"
question = "Whom should the federation endorse?"
extra_options = ["no-endorsement"]

[[stages.questions.candidates]]
name = "Ada Lovelace"
party = "Democratic"

[[stages.questions.candidates]]
name = "Alan Turing"
party = "Republican"
"""

HEADER = (
    "card_number,first_name,last_name,email,street,city,postal_code,state,local,dues_status,"
    "country,council_role,council_state,joined_on,Vote Weight\n"
)
# The five presidents of the electorate, their per-capita weights and their (last) votes:
# Ada has two presidents and 80,000 of 98,000 weighted votes; Alan three and 18,000.
PRESIDENTS = {
    "2000001": ("CA", 50_000, ADA),
    "2000002": ("TX", 30_000, ADA),
    "2000003": ("OH", 8_000, ALAN),
    "2000004": ("KS", 6_000, ALAN),
    "2000005": ("WY", 4_000, ALAN),  # votes Ada first, then changes their mind
}
OTHERS = (
    "2000006,Ned,Arrears,,,,,NV,,arrears,US,state council president,NV,2001-01-01,\n"  # ineligible
    "2000010,Mo,Member,,,,,CA,708,good standing,US,,,2010-05-05,3\n"  # a weight, but no role
    "2000011,Lu,Member,,,,,TX,709,good standing,US,,,2011-06-06,\n"
)


def roll(weights: dict[str, int | None]) -> str:
    rows = []
    for card, (state, _, _) in PRESIDENTS.items():
        weight = weights.get(card)
        rows.append(
            f"{card},P{card},President,p{card}@members.example,,,,{state},,good standing,US,"
            f"state council president,{state},1990-01-01,{'' if weight is None else weight}\n"
        )
    return HEADER + "".join(rows) + OTHERS


WEIGHTS: dict[str, int | None] = {card: w for card, (_, w, _) in PRESIDENTS.items()}


def start(database: Database, *, weights: bool = True) -> Services:
    services = Services(database, FixedClock(START))
    do_init_process(services, PROCESS.format(weights=str(weights).lower()), source_name="tfl.toml")
    return services


@dataclass(frozen=True)
class Council:
    services: Services
    decided: DecidedStage
    exported: ExportedStage
    public: list[dict[str, object]]


def run_weighted_council(database: Database, tmp_path: Path) -> Council:
    """The whole stage as the committee, the authority, the trustees and the council run it."""
    services = start(database)
    clock = services.clock
    assert isinstance(clock, FixedClock)
    do_import_roll(services, io.StringIO(roll(WEIGHTS)), source_name="roll.csv", apply=True)
    frozen = do_freeze_eligibility(services, COUNCIL)
    assert (frozen.count, frozen.registered, frozen.total_weight) == (5, 5, 98_000)

    registered = tmp_path / "registered.csv"
    with registered.open("w", encoding="utf-8", newline="") as stream:
        assert do_export_registered(services, COUNCIL, stream) == 5
    authority = tmp_path / "authority"
    workspace = generate_workspace(registered, authority)
    public = json.loads(workspace.public_path.read_text(encoding="utf-8"))["credentials"]
    with workspace.public_path.open("rb") as stream:
        do_import_public_credentials(services, COUNCIL, stream)

    states = do_run_local_ceremony(
        services, COUNCIL, tmp_path / "trustees", names=("T1", "T2", "T3"), threshold=2
    )
    with services.db.sessions() as session:
        row, _ = stage_row(session, COUNCIL)
        trustees = election_trustees(session, row)
    do_setup_election(
        services,
        COUNCIL,
        trustees=trustees,
        name="General Board vote",
        description="Per-capita weighted vote of the state council presidents.",
        voting_opens_at=clock.now(),
        voting_closes_at=clock.now() + datetime.timedelta(days=7),
    )
    clock.advance(hours=1)
    credentials = read_private_credentials(workspace.private_path)
    do_vote(
        services, COUNCIL, card_number="2000005", credential=credentials["2000005"], picks=[[ADA]]
    )
    for card, (_, _, choice) in PRESIDENTS.items():
        do_vote(services, COUNCIL, card_number=card, credential=credentials[card], picks=[[choice]])

    clock.advance(days=7)
    do_close(services, COUNCIL)
    summary = do_tally(services, COUNCIL)
    assert (summary.num_tallied, summary.total_weight) == (5, 98_000)
    request = decryption_request(services, COUNCIL)
    with services.db.sessions() as session:
        row, _ = stage_row(session, COUNCIL)
        server = server_partial_decryption(
            session, row, tmp_path / "trustees" / f"server-trustee-{COUNCIL}.key", request
        )
    do_add_partial_decryption(services, COUNCIL, server)
    for state_path in (states[0], states[2]):
        state = TrusteeState.from_bytes(state_path.read_bytes())
        do_add_partial_decryption(services, COUNCIL, partial_decrypt(state, request))
    result = do_compute_result(services, COUNCIL)
    assert [list(row) for row in result.result] == [[80_000, 18_000, 0]]
    do_publish_report(services, COUNCIL, simulation=False)
    decided = do_decide(services, COUNCIL)
    exported = export_stage(services, COUNCIL, tmp_path / "published")
    return Council(services, decided, exported, public)


def test_a_weighted_council_decides_by_weight_and_its_record_verifies(
    database: Database, tmp_path: Path
) -> None:
    council = run_weighted_council(database, tmp_path)
    text = (council.exported.directory / "report.txt").read_text()
    assert "Weighted vote: these ballots carry 98,000 votes in all" in text

    # the weights went from the roll through the authority into the election
    with database.transaction() as session:
        frozen = dict(
            session.execute(
                select(SnapshotEntry.member_id, SnapshotEntry.weight).join(
                    EligibilitySnapshot, EligibilitySnapshot.id == SnapshotEntry.snapshot_id
                )
            ).all()
        )
        stored = session.scalars(select(PublicCredentialRow.weight)).all()
        sent = {m.card_number: m.weight for m in registered_members(session, COUNCIL)}
    assert sorted(frozen.values()) == sorted(w for w in WEIGHTS.values() if w is not None)
    assert sent == WEIGHTS
    assert {item["card_number"]: item["weight"] for item in council.public} == WEIGHTS
    assert sorted(w for w in stored if w is not None) == sorted(frozen.values())
    facts = read_record(council.exported.record)
    assert sorted(facts.weights.values()) == sorted(frozen.values())  # a weighted election
    assert (facts.num_tallied, facts.total_weight) == (5, 98_000)

    # two thirds of the weight, though a minority of heads
    decision = council.decided.decision
    assert decision.weighted and decision.endorsed == ADA
    assert decision.counts == ((ADA, 80_000), (ALAN, 18_000), (NONE, 0))
    assert decision.votes_cast == 98_000
    assert decision.reason == f"{ADA} is endorsed by 80000 of 98000 weighted votes (two thirds)."
    heads = decide({ADA: 2, ALAN: 3, NONE: 0}, DecisionRule.TWO_THIRDS)
    assert heads.endorsed is None and "Alan Turing had 3 of 5 votes" in heads.reason
    published = json.loads((council.exported.directory / "decision.json").read_bytes())
    assert published["weighted"] is True and published["endorsed"] == ADA

    report = verify_record(council.exported.record)
    assert report.ok, [f.line() for f in report.failures]
    assert report.checks["decision.result"].passed and report.checks["setup.credentials"].passed


@pytest.mark.belenios
def test_belenios_verifies_the_weighted_council_record(
    database: Database, tmp_path: Path, belenios_verify
) -> None:
    if database.backend != "sqlite":
        pytest.skip("the record's bytes do not depend on the backend: checked once, on SQLite")
    council = run_weighted_council(database, tmp_path)
    code, output = belenios_verify(council.exported.record)
    assert code == 0, output


def test_a_member_of_a_weighted_electorate_without_weight_freezes_nothing(
    database: Database,
) -> None:
    services = start(database)
    missing = WEIGHTS | {"2000002": None, "2000004": None}
    do_import_roll(services, io.StringIO(roll(missing)), source_name="roll.csv", apply=True)
    with pytest.raises(DomainError, match="weights = true") as caught:
        do_freeze_eligibility(services, COUNCIL)
    assert caught.value.check == "eligibility.weight"
    assert "2 members of its electorate have no weight in the roll (cards 2000002, 2000004)" in (
        str(caught.value)
    )
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SnapshotEntry)) == 0
        assert session.scalar(select(func.count()).select_from(EligibilitySnapshot)) == 0
        assert session.scalar(select(func.count()).select_from(Registration)) == 0
        council = session.scalars(select(StageRow).where(StageRow.key == COUNCIL)).one()
        assert (council.status, council.uuid) == ("draft", None)

    # the roll fixed, the same stage freezes
    do_import_roll(services, io.StringIO(roll(WEIGHTS)), source_name="roll2.csv", apply=True)
    assert do_freeze_eligibility(services, COUNCIL).total_weight == 98_000


def test_without_weights_in_the_decision_the_roll_weights_are_not_frozen(
    database: Database, tmp_path: Path
) -> None:
    services = start(database, weights=False)
    do_import_roll(services, io.StringIO(roll(WEIGHTS)), source_name="roll.csv", apply=True)
    frozen = do_freeze_eligibility(services, COUNCIL)
    assert (frozen.count, frozen.total_weight) == (5, None)
    with database.transaction() as session:
        assert set(session.scalars(select(SnapshotEntry.weight))) == {None}
    out = io.StringIO(newline="")
    do_export_registered(services, COUNCIL, out)
    rows = list(csv.DictReader(line for line in out.getvalue().splitlines() if line[:1] != "#"))
    assert len(rows) == 5 and {row["weight"] for row in rows} == {""}
