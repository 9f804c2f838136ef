"""The IAM's whole endorsement process through the ``unionvote`` command line, as the people who
run it would: the election committee on the server, the independent credential authority, three
trustees and an observer, each in their own directory, handing each other files. Every command
is the real console script in its own process; mail goes through a real SMTP server.

The flow runs once (a module fixture, checking every step as it goes); the tests then verify
both published records (ours and Belenios's verifier) and look for secrets in the server's
database."""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from cli_process_support import (
    CREDENTIAL,
    Inbox,
    Person,
    bad_roll,
    credential_mail,
    decrypt,
    field_of,
    finish_ceremony,
    hand,
    iso,
    members,
    pedersen_ceremony,
    private_credentials,
    read_csv,
    secret_forms,
    smtp_server,
    tamper_digit,
    together,
    trustee_secrets,
    write_roll,
)

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROCESS_FILE, SHARES = EXAMPLES / "iam-2024.toml", EXAMPLES / "iam-2024-shares.toml"
MEMBERSHIP, COUNCIL = "membership-vote", "council-vote"
CUTOFF = "2023-11-01"  # examples/iam-2024.toml
ROLL_SIZE, SEED = 200, 2024
SENDER = "credentials@authority.example"


@dataclass
class Cast:
    """Who runs the process, each in their own directory under one temporary root."""

    committee: Person  # the server, with the database
    hall: Person  # a union hall's terminal on the server: registrations, assisted votes
    authority: Person  # the credential authority: no server database
    trustees: list[Person]  # the membership vote's threshold group
    council_trustee: Person  # the council vote's single trustee
    observer: Person


@dataclass(frozen=True)
class Run:
    """What the flow leaves behind for the tests."""

    cast: Cast
    records: dict[str, Path]
    trackers: dict[str, str]
    database: Path
    secrets: list[str]


# -- 1. the roll ----------------------------------------------------------------------------------


def _roll(cast: Cast) -> list[dict[str, str]]:
    """Load the process, import the roll (shown first, then agreed), refuse a bad roll, freeze
    the electorate; an observer recomputes its digest. Returns the roll's rows."""
    committee = cast.committee
    committee.run("init", PROCESS_FILE)
    roll = committee.directory / "roll.csv"
    rows = write_roll(roll, ROLL_SIZE, SEED)

    shown = committee.run("roll", "import", roll.name, stdin="n\n")
    assert f"{ROLL_SIZE} members — {ROLL_SIZE} added" in shown
    assert "Nothing was changed." in shown
    # Nothing was applied: the same import, now agreed, still adds everyone.
    applied = committee.run("roll", "import", roll.name, "--yes")
    assert f"Imported: {ROLL_SIZE} added, 0 changed, 0 removed." in applied

    problems = bad_roll(roll, committee.directory / "bad-roll.csv")
    hand(roll, cast.observer)
    refused, observed = together(
        partial(committee.refused, "roll", "import", "bad-roll.csv", "--yes"),
        partial(
            cast.observer.run,
            "roll", "digest", "roll.csv", "--process", PROCESS_FILE, "--stage", MEMBERSHIP,
        ),
    )  # fmt: skip
    assert f"nothing was imported: {len(problems)} problems on {len(problems)} lines" in refused
    for line, column in problems.items():
        assert f"bad-roll.csv:line {line}: {column}:" in refused
    # Nor did the bad roll change anything, not even its one good change (a dues status).
    shown = committee.run("roll", "show")
    assert f"Members in the roll: {ROLL_SIZE}\nLast import: roll.csv on " in shown
    standing = sum(row["dues_status"] == "good standing" for row in rows)
    assert f"Dues status: good standing {standing}," in shown

    frozen = committee.run("roll", "freeze", MEMBERSHIP)
    eligible, _ = members(rows, CUTOFF)
    assert f"Electorate of {MEMBERSHIP} frozen: {len(eligible)} members." in frozen
    digest = field_of(r"Digest \(SHA-256, publish it\): (\w+)", frozen)
    assert field_of(r"Digest: (\w+)", observed) == digest
    assert f"Eligible members: {len(eligible)}" in observed
    return rows


# -- 2. registration ------------------------------------------------------------------------------


def _registration(cast: Cast, rows: list[dict[str, str]]) -> None:
    """Members register at a union hall (and three are turned away, each with their answer);
    the rest of the electorate at once, as a rehearsal may; then registration closes."""
    committee, hall = cast.committee, cast.hall
    opened = committee.run(
        "registration", "open", MEMBERSHIP,
        "--opens", iso(-datetime.timedelta(hours=1)),
        "--closes", iso(datetime.timedelta(days=1)),
    )  # fmt: skip
    assert f"Registration for {MEMBERSHIP}: from" in opened
    eligible, behind = members(rows, CUTOFF)
    at_hall, wrong_code = eligible[:4], eligible[4]

    def register(row: dict[str, str], card: str = "", postal_code: str = "") -> list[str]:
        return [
            "registration", "register", MEMBERSHIP, card or row["card_number"],
            "--last-name", row["last_name"], "--postal-code", postal_code or row["postal_code"],
        ]  # fmt: skip

    outputs = together(
        *(partial(hall.run, *register(row)) for row in at_hall),
        partial(hall.run, *register(wrong_code, postal_code="00000"), code=1),
        partial(hall.run, *register(wrong_code, card="999"), code=1),
        partial(hall.run, *register(behind[0]), code=1),
    )
    for output in outputs[: len(at_hall)]:
        assert output.startswith("registered: You are registered for the General membership vote")
    assert outputs[-3].startswith("wrong-details: We could not match these details")
    assert outputs[-2].startswith("unknown: We could not match these details")
    assert outputs[-1].startswith("not-eligible: You cannot register")
    assert f"the roll lists yours as {behind[0]['dues_status']}" in outputs[-1]

    everyone, again = together(
        partial(committee.run, "registration", "register-all", MEMBERSHIP),
        partial(hall.run, *register(at_hall[0])),
    )
    assert f"Registered {len(eligible) - len(at_hall)} members" in everyone
    assert again.startswith("already-registered:")

    closed = committee.run("registration", "close", MEMBERSHIP)
    assert f"{len(eligible)} registered of {len(eligible)} eligible" in closed
    status, exported = together(
        partial(committee.run, "registration", "status", MEMBERSHIP),
        partial(committee.run, "electorate", "export", MEMBERSHIP, "--out", "registered.csv"),
    )
    assert f"Stage {MEMBERSHIP}: registration-closed" in status
    assert f"Eligible: {len(eligible)}   Registered: {len(eligible)}" in status
    assert f"By method: bulk {len(eligible) - len(at_hall)}, details {len(at_hall)}" in status
    for outcome, count in (
        ("registered", len(at_hall)),
        ("already-registered", 1),
        ("not-eligible", 1),
        ("unknown", 1),
        ("wrong-details", 1),
    ):
        assert f" {outcome} {count}" in status
    assert f"{len(eligible)} registered members of {MEMBERSHIP} written" in exported


# -- 3. credentials -------------------------------------------------------------------------------


def _credentials(cast: Cast, inbox: Inbox, smtp: str) -> dict[str, str]:
    """The authority makes the credentials from the server's export and emails them (one
    address bounces: that member gets a letter); the server takes back only the public list
    and the delivery log. Returns the private credentials, card number → credential."""
    committee, authority = cast.committee, cast.authority
    registered = read_csv(hand(committee.directory / "registered.csv", authority))
    authority.run("credentials", "generate", "--registered", "registered.csv", "--dir", "ws")
    workspace = authority.directory / "ws"
    credentials = private_credentials(workspace)
    assert set(credentials) == {row["card_number"] for row in registered}

    bounced = registered[-1]
    inbox.refuse.add(bounced["email"])
    sent = authority.run("credentials", "send", "--dir", "ws", "--smtp", smtp, "--from", SENDER)
    assert f"{len(registered) - 1} sent, 1 refused by the mail server (bounced)" in sent
    card_of = {row["email"]: row["card_number"] for row in registered}
    received = dict(credential_mail(raw) for raw in inbox.messages)
    assert len(received) == len(inbox.messages) == len(registered) - 1
    assert bounced["email"] not in received
    for to, body in received.items():
        card = card_of[to]
        assert f"Card number: {card}" in body
        assert CREDENTIAL.findall(body) == [credentials[card]], to

    status, letters = together(
        partial(authority.run, "credentials", "status", "--dir", "ws"),
        partial(
            authority.run,
            "credentials", "letters", "--dir", "ws", "--only", "bounced", "--out", "letters.pdf",
        ),
    )  # fmt: skip
    assert "email bounced: 1" in status and f"email sent:    {len(registered) - 1}" in status
    assert "1 letters." in letters
    assert (authority.directory / "letters.pdf").read_bytes().startswith(b"%PDF")
    log = [json.loads(line) for line in (workspace / "deliveries.jsonl").read_text().splitlines()]
    assert [e["status"] for e in log if e.get("card_number") == bounced["card_number"]] == [
        "bounced",
        "printed",
    ]

    public = hand(workspace / "public-credentials.json", committee)
    deliveries = hand(workspace / "deliveries.jsonl", committee)
    imported = committee.run("electorate", "import-credentials", MEMBERSHIP, public.name)
    assert f"{len(registered)} public credentials imported for {MEMBERSHIP}" in imported
    stored = committee.run("electorate", "import-deliveries", MEMBERSHIP, deliveries.name)
    events = sum("card_number" in event for event in log)  # the first line is a header
    assert f"{events} delivery events stored (0 were already)" in stored
    shown = committee.run("electorate", "deliveries", MEMBERSHIP)
    assert f"{len(registered)} registered, {len(registered)} public credentials" in shown
    assert "email bounced: 1" in shown and "letters:  1" in shown and "unreached: 0" in shown
    return credentials


# -- 4. voting and tally ---------------------------------------------------------------------------


def _vote(cast: Cast, credentials: dict[str, str]) -> tuple[dict[str, str], int]:
    """Assisted votes, refusals, then the simulated members, close and tally; returns two
    receipts' trackers (``replaced``: that member voted again; ``cast``) and how many ballots
    are counted."""
    committee, hall = cast.committee, cast.hall
    setup = committee.run(
        "election", "setup", MEMBERSHIP,
        "--opens", iso(-datetime.timedelta(minutes=1)),
        "--closes", iso(datetime.timedelta(days=1)),
    )  # fmt: skip
    assert f"Stage {MEMBERSHIP}: voting" in setup
    (first, one), (second, two), (third, _) = list(credentials.items())[:3]

    def vote(card: str, credential: str, choice: str, code: int = 0) -> str:
        return hall.run(
            "vote", MEMBERSHIP, "--card", card, "--choice", choice,
            code=code, env={"UNIONVOTE_CREDENTIAL": credential},
        )  # fmt: skip

    mistyped = two[:3] + ("Q" if two[3] != "Q" else "R") + two[4:]
    votes = together(
        partial(vote, first, one, "Joe Biden"),
        partial(vote, second, two, "Donald Trump"),
        partial(vote, third, two, "Donald Trump", code=1),
        partial(vote, third, mistyped, "Donald Trump", code=1),
    )
    assert votes[0].startswith("Your vote is recorded.\nBallot tracker: ")
    assert votes[1].startswith("Your vote is recorded.\nBallot tracker: ")
    assert "the ballot's credential is not the one issued to this member" in votes[2]
    assert "the credential is mistyped" in votes[3] and "nothing was recorded" in votes[3]
    revote = vote(first, one, "Robert F. Kennedy Jr.")
    assert revote.startswith("Your vote is recorded. It replaces your earlier vote.")
    trackers = [field_of(r"Ballot tracker: (\S+)", out) for out in (votes[0], votes[1], revote)]
    assert len(set(trackers)) == 3

    hand(cast.authority.directory / "ws" / "private-credentials.csv", committee)
    simulated = committee.run(
        "simulate", MEMBERSHIP, "--credentials", "private-credentials.csv",
        "--distribution", SHARES, "--workers", 2, "--seed", SEED,
    )  # fmt: skip
    assert f"of {len(credentials)} members voted" in simulated
    # The committee holds members' private credentials only to simulate their votes.
    (committee.directory / "private-credentials.csv").unlink()

    closed = committee.run("election", "close", MEMBERSHIP)
    assert f"Stage {MEMBERSHIP}: closed" in closed
    again, late = together(
        partial(committee.refused, "election", "close", MEMBERSHIP),
        partial(vote, second, two, "Joe Biden", code=1),
    )
    assert "voting has already ended" in again
    assert "voting has ended; the ballot was not recorded" in late
    counted = int(field_of(r"counted \(last of each voter\): ([\d,]+)", closed).replace(",", ""))
    tallied = committee.run("election", "tally", MEMBERSHIP)
    assert f"Tallied {counted:,} ballots" in tallied
    return {"replaced": trackers[0], "cast": trackers[1]}, counted


# -- 5. the council vote and the endorsement -------------------------------------------------------


def _council(cast: Cast) -> Path:
    """The State Council Presidents' vote, derived from the membership vote's result, with
    the server's key and one single trustee; then the decision and the endorsement. Returns
    the server's key file."""
    committee, authority, dana = cast.committee, cast.authority, cast.council_trustee
    derived = committee.run("council", "derive", MEMBERSHIP, COUNCIL)
    for line in ("Joe Biden (Democratic)", "Donald Trump (Republican)"):
        assert line in derived
    assert "Robert F. Kennedy Jr. (Independent)" in derived
    frozen = committee.run("roll", "freeze", COUNCIL)
    council = int(field_of(r"frozen: (\d+) members", frozen))
    assert f"All {council} registered; election identifier" in frozen

    committee.run("electorate", "export", COUNCIL, "--out", "council-registered.csv")
    hand(committee.directory / "council-registered.csv", authority)
    authority.run(
        "credentials", "generate", "--registered", "council-registered.csv", "--dir", "ws-council"
    )
    public = hand(authority.directory / "ws-council" / "public-credentials.json", committee)
    imported = committee.run("electorate", "import-credentials", COUNCIL, public.name)
    assert f"{council} public credentials imported" in imported

    added = committee.run("trustees", "add", COUNCIL, "--name", dana.name, "--kind", "single")
    assert "at position 1 (single)" in added
    key = committee.directory / f"server-{COUNCIL}.key"
    together(
        partial(committee.run, "trustees", "server-key", COUNCIL, "--out", key.name),
        partial(dana.run, "trustee", "single-key", "--name", dana.name, "--out", "state.json"),
    )
    public_key = hand(dana.directory / "state.public.json", committee, "dana.public.json")
    forged = committee.directory / "dana-forged.json"
    forged.write_text(tamper_digit(public_key.read_text(), "1.pok.response"))
    refused = committee.refused("trustees", "import-key", COUNCIL, 1, forged.name)
    assert "trustee.key" in refused and "do not match" in refused
    committee.run("trustees", "import-key", COUNCIL, 1, public_key.name)
    finish_ceremony(committee, COUNCIL, [dana])

    committee.run(
        "election", "setup", COUNCIL,
        "--opens", iso(-datetime.timedelta(minutes=1)),
        "--closes", iso(datetime.timedelta(days=1)),
    )  # fmt: skip
    hand(authority.directory / "ws-council" / "private-credentials.csv", committee)
    simulated = committee.run(
        "simulate", COUNCIL, "--credentials", "private-credentials.csv",
        "--distribution", SHARES, "--workers", 2,
    )  # fmt: skip
    assert f"{council} of {council} members voted" in simulated
    (committee.directory / "private-credentials.csv").unlink()
    committee.run("election", "close", COUNCIL)
    committee.run("election", "tally", COUNCIL)
    counts = decrypt(committee, COUNCIL, key, [dana])
    assert counts == {
        "Joe Biden": council,
        "Donald Trump": 0,
        "Robert F. Kennedy Jr.": 0,
        "No endorsement": 0,
    }

    report = committee.run("report", "build", COUNCIL, "--simulation")
    assert report.startswith("SIMULATION")
    decided = committee.run("council", "decide", COUNCIL)
    assert f"Joe Biden is endorsed by {council} of {council} votes (simple majority)." in decided
    endorsed = committee.run(
        "endorse",
        "--statement", "SIMULATION. The IAM endorses the candidate this record names.",
        "--decided-by", "IAM State Council Presidents",
    )  # fmt: skip
    assert "endorses Joe Biden." in endorsed
    assert "Decided by: IAM State Council Presidents" in endorsed
    return key


# -- the whole process, once ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("process")
    database = root / "committee" / "unionvote.db"
    cast = Cast(
        committee=Person("committee", root / "committee", database),
        hall=Person("union hall", root / "hall", database),
        authority=Person("authority", root / "authority"),
        trustees=[Person(name, root / "trustees" / name) for name in ("Alice", "Bob", "Carol")],
        council_trustee=Person("Dana", root / "trustees" / "Dana"),
        observer=Person("observer", root / "observer"),
    )
    with smtp_server() as (inbox, smtp):
        rows = _roll(cast)
        _registration(cast, rows)
        credentials = _credentials(cast, inbox, smtp)
    committee = cast.committee
    key = pedersen_ceremony(committee, MEMBERSHIP, cast.trustees)
    trackers, counted = _vote(cast, credentials)
    alice, _, carol = cast.trustees  # any two of the three
    counts = decrypt(committee, MEMBERSHIP, key, [alice, carol], forge=True)
    assert sum(counts.values()) == counted

    report = committee.run("report", "build", MEMBERSHIP, "--simulation")
    assert report.startswith("SIMULATION") and f"Ballots counted: {counted}" in report
    assert committee.run("report", "show", MEMBERSHIP).strip() in report
    council_key = _council(cast)

    stages = (MEMBERSHIP, COUNCIL)
    exports = together(
        *(
            partial(committee.run, "report", "export", stage, "--out", "published")
            for stage in stages
        )
    )
    for stage, exported in zip(stages, exports, strict=True):
        assert f"unionvote verify published/{stage}/{stage}.bel" in exported
    # What the committee publishes, as anyone downloads it.
    shutil.copytree(committee.directory / "published", cast.observer.directory / "published")
    records = {stage: Path("published", stage, f"{stage}.bel") for stage in stages}

    secrets = [*private_credentials(cast.authority.directory / "ws").values()]
    secrets += private_credentials(cast.authority.directory / "ws-council").values()
    for state in [key, council_key] + [t.directory / "state.json" for t in cast.trustees]:
        secrets += trustee_secrets(state)
    secrets += trustee_secrets(cast.council_trustee.directory / "state.json")
    return Run(cast, records, trackers, database, secrets)


SIDECAR_CHECKS = ("published.manifest", "subtallies.election", "subtallies.coverage")
REPORT_CHECKS = ("report.json", "report.text")
COUNCIL_CHECKS = ("council.link", "decision.result", "endorsement.links")


def test_the_endorsement_process_through_the_cli(process: Run) -> None:
    observer = process.cast.observer
    for stage, record in process.records.items():
        report = json.loads(observer.run("verify", record, "--json"))
        assert report["ok"] and report["phase"] == "decrypted", report["verdict"]
        assert report["verdict"].startswith("unionvote verify: PASS")
        passed = {check["name"] for check in report["checks"] if check["passed"]}
        expected = SIDECAR_CHECKS + REPORT_CHECKS + (COUNCIL_CHECKS if stage == COUNCIL else ())
        assert set(expected) <= passed
        assert passed == {check["name"] for check in report["checks"]}

    # Members find their receipts in the published record.
    record = process.records[MEMBERSHIP]
    replaced, cast = together(
        partial(observer.run, "find-ballot", record, process.trackers["replaced"]),
        partial(observer.run, "find-ballot", record, process.trackers["cast"]),
    )
    assert "Your ballot is in the record" in replaced and "You voted again later" in replaced
    assert "Your ballot is in the record" in cast

    # Secrets stay with who holds them: not in the server's database (nor its journal) …
    files = [process.database, process.database.with_name(process.database.name + "-wal")]
    stored = b"".join(path.read_bytes() for path in files if path.exists())
    public = json.loads(
        (process.cast.authority.directory / "ws" / "public-credentials.json").read_text()
    )
    assert public["credentials"][0]["public_credential"].encode() in stored  # the search sees
    leaked = [s for s in process.secrets for form in secret_forms(s) if form in stored]
    assert not leaked, f"{len(leaked)} secrets are in the server's database"
    # … nor in anything the server's commands printed …
    printed = "\n".join(process.cast.committee.outputs + process.cast.hall.outputs)
    assert not [s for s in process.secrets if s in printed]
    # … and the authority's tool and the trustees' never opened a database.
    for person in (process.cast.authority, process.cast.observer, *process.cast.trustees):
        assert not list(person.directory.glob("*.db")), person.name


@pytest.mark.belenios
def test_belenios_verifies_both_records(
    process: Run, belenios_verify: Callable[..., tuple[int, str]]
) -> None:
    for record in process.records.values():
        code, output = belenios_verify(process.cast.observer.directory / record)
        assert code == 0, output
        assert "PASS" in output
