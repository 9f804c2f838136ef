"""The election service: casting, on SQLite and PostgreSQL.

Every refusal must leave the stored record, the ballot index and the counters exactly as they
were. The helpers here (a process, members, real credentials and trustee keys, ballots and
trustee decryption files) are shared with the other ``test_elections_*`` files.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.trustees import TrusteeItem, TrusteePrivateKey
from unionvote.domain.ceremony import run_threshold_ceremony, single_trustee
from unionvote.domain.election import new_uuid
from unionvote.domain.errors import ElectionError
from unionvote.domain.tally import DecryptionRequest, TrusteeDecryption
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Election
from unionvote.services.context import FixedClock, Services
from unionvote.services.elections import (
    do_cast,
    do_close,
    do_setup_election,
    election_definition,
    election_status,
)
from unionvote.services.process import do_init_process
from unionvote.storage.database import Database
from unionvote.storage.models import (
    AuditEntry,
    Ballot,
    ElectionRow,
    Member,
    PartialDecryptionRow,
    PublicCredentialRow,
    PublishedFile,
    RecordChunk,
    StageRow,
)

STAGE = "membership-vote"
OPENS = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.UTC)
CLOSES = OPENS + datetime.timedelta(days=7)

PROCESS = """
[union]
name = "Test Union of Machinists"
short_name = "TUM"

[eligibility]
countries = ["US"]
dues_statuses = ["good standing"]
cutoff = 2024-01-01

[[parties]]
name = "Democratic"

[[parties]]
name = "Republican"

[report]
min_group_size = {minimum}
breakdowns = [{breakdowns}]

[[stages]]
id = "membership-vote"
title = "General membership vote"
electorate = "members"

[[stages.questions]]
id = "president"
question = "Whom should the union endorse?"

[[stages.questions.candidates]]
name = "Ann Able"
party = "Democratic"

[[stages.questions.candidates]]
name = "Bob Baker"
party = "Republican"

[[stages.questions.candidates]]
name = "Cy Cole"
party = "Republican"

[[stages.questions]]
id = "issues"
question = "Which issues matter most?"
options = ["Jobs", "Health", "Trade"]
min = 0
max = 2

[[stages]]
id = "council-vote"
title = "State Council Presidents' vote"
electorate = "council role: state council president"
derived_from = "membership-vote"
rule = "top vote-getter of each party"

[[stages.questions]]
id = "endorsement"
question = "Which candidate should the union endorse?"
candidates_from = "president"
extra_options = ["no-endorsement"]
"""

#: Where each test member is on the roll: (state, local).
ROLL = [("MI", "751")] * 5 + [("MI", "9")] * 2 + [("OH", "2")] * 4 + [("WY", "1")] * 1 + [("", "")]


def process_text(minimum: int = 3, breakdowns: Sequence[str] = ("state", "local")) -> str:
    listed = ", ".join(f'"{b}"' for b in breakdowns)
    return PROCESS.replace("{minimum}", str(minimum)).replace("{breakdowns}", listed)


@dataclass
class Vote:
    """An election set up through the service, with the secrets only a test holds."""

    services: Services
    clock: FixedClock
    uuid: str
    election: Election
    election_hash: str
    credentials: list[PrivateCredential]
    cards: list[str]
    roll: list[tuple[str, str]]
    weights: list[int] | None
    trustees: list[TrusteeItem]
    server_key: TrusteePrivateKey
    shares: list[TrusteePrivateKey]
    timestamp: int
    rng: random.Random = field(default_factory=random.Random)

    def ballot(self, voter: int, choices: Sequence[Sequence[int]]) -> bytes:
        return make_ballot(
            self.election,
            self.election_hash,
            self.credentials[voter],
            choices,
            rng=self.rng.randrange,
        ).to_bytes()

    def cast(self, voter: int, choices: Sequence[Sequence[int]]):
        return do_cast(self.services, STAGE, self.ballot(voter, choices))

    def key_of(self, owner: int) -> TrusteePrivateKey:
        return self.server_key if owner == 1 else self.shares[owner - 2]

    def trustee_file(self, request: bytes, owner: int, *, key_owner: int | None = None) -> bytes:
        """What trustee ``owner`` sends back for ``request`` (computed with the key of
        ``key_owner`` when given, to forge a wrong one)."""
        parsed = DecryptionRequest.from_bytes(request)
        key = self.key_of(owner if key_owner is None else key_owner)
        rng = self.rng.randrange

        def decrypt(tally) -> PartialDecryption:
            return PartialDecryption.compute(parsed.election_hash, key, tally, rng=rng)

        return TrusteeDecryption(
            owner,
            decrypt(parsed.encrypted_tally),
            {group_id: decrypt(tally) for group_id, tally in parsed.groups},
        ).to_bytes()


def make_vote(
    database: Database,
    *,
    roll: Sequence[tuple[str, str]] = ROLL,
    weights: Sequence[int] | None = None,
    minimum: int = 3,
    breakdowns: Sequence[str] = ("state", "local"),
    seed: int = 2024,
    set_up: bool = True,
    text: str | None = None,
) -> Vote:
    """A process (``text``, or :data:`PROCESS`), its members and their public credentials
    (inserted as the roll and the credential authority's import would), the server's key and a
    2-of-3 threshold group, and (``set_up``) the election, with the clock inside the voting
    window."""
    rng = random.Random(seed)
    clock = FixedClock(OPENS - datetime.timedelta(days=1))
    services = Services(database, clock)
    text = text if text is not None else process_text(minimum, breakdowns)
    do_init_process(services, text, source_name="test.toml")
    uuid = new_uuid(rng.randrange)
    credentials = [PrivateCredential.generate(rng.randrange) for _ in roll]
    cards = [f"C{i:05d}" for i in range(len(roll))]
    with database.transaction() as session:
        stage = session.scalar(select(StageRow).where(StageRow.key == STAGE))
        assert stage is not None
        stage.uuid, stage.status = uuid, "credentials"
        for i, (state, local) in enumerate(roll):
            member = Member(
                card_number=cards[i],
                first_name=f"Member{i}",
                last_name="Test",
                state=state,
                local=local,
                dues_status="good standing",
                country="US",
                updated_at=clock.now(),
            )
            session.add(member)
            session.flush()
            weight = None if weights is None else weights[i]
            session.add(
                PublicCredentialRow(
                    stage_id=stage.id,
                    member_id=member.id,
                    credential=str(credentials[i].public(uuid).key),
                    weight=weight,
                )
            )
    server, server_key = single_trustee(rng.randrange)
    group, shares = run_threshold_ceremony(3, 2, rng.randrange)
    trustees: list[TrusteeItem] = [server, group]
    vote = Vote(
        services,
        clock,
        uuid,
        None,  # type: ignore[arg-type]
        "",
        credentials,
        cards,
        list(roll),
        None if weights is None else list(weights),
        trustees,
        server_key,
        shares,
        int(clock.now().timestamp()),
        rng,
    )
    if set_up:
        setup(vote)
    return vote


def setup(vote: Vote) -> None:
    do_setup_election(
        vote.services,
        STAGE,
        trustees=vote.trustees,
        name="General membership vote",
        description="A test of the election service.",
        voting_opens_at=OPENS,
        voting_closes_at=CLOSES,
    )
    vote.election = election_definition(vote.services, STAGE)
    vote.election_hash = election_status(vote.services, STAGE).election_hash
    vote.clock.current = OPENS + datetime.timedelta(hours=1)


def snapshot(database: Database) -> tuple:
    """Everything a refused action must leave unchanged."""
    with database.transaction() as session:
        chunks = session.execute(
            select(RecordChunk.seq, RecordChunk.content).order_by(RecordChunk.seq)
        ).all()
        ballots = session.execute(select(Ballot.tracker, Ballot.counted).order_by(Ballot.id)).all()
        election = session.execute(
            select(ElectionRow.phase, ElectionRow.head, ElectionRow.height, ElectionRow.chunks)
        ).all()
        received = session.scalar(select(ElectionRow.ballots_received))
        audit = session.scalar(select(func.count()).select_from(AuditEntry))
        files = session.execute(
            select(PublishedFile.name, PublishedFile.content).order_by(PublishedFile.name)
        ).all()
        owners = session.scalars(select(PartialDecryptionRow.owner)).all()
        return (
            tuple(chunks),
            tuple(ballots),
            tuple(election),
            received,
            audit,
            tuple(files),
            tuple(sorted(owners)),
        )


def refused(vote: Vote, check: str, action, *args, **kwargs) -> ElectionError:
    before = snapshot(vote.services.db)
    with pytest.raises(ElectionError) as caught:
        action(*args, **kwargs)
    assert caught.value.check == check, str(caught.value)
    assert snapshot(vote.services.db) == before, "a refused action changed something"
    return caught.value


A, B, C = (1, 0, 0), (0, 1, 0), (0, 0, 1)
NONE, JOBS, JOBS_HEALTH = (0, 0, 0), (1, 0, 0), (1, 1, 0)


# -- casting --------------------------------------------------------------------------------


def test_revote_replaces_and_replay_is_recorded_once(database: Database) -> None:
    vote = make_vote(database)
    first = vote.cast(0, (A, JOBS))
    assert not first.replaced_earlier_ballot and not first.already_recorded
    second_raw = vote.ballot(0, (B, NONE))
    second = do_cast(vote.services, STAGE, second_raw)
    assert second.replaced_earlier_ballot and second.tracker != first.tracker
    before = snapshot(database)
    again = do_cast(vote.services, STAGE, second_raw)
    assert again.already_recorded and again.tracker == second.tracker
    assert not again.replaced_earlier_ballot
    assert snapshot(database) == before
    status = election_status(vote.services, STAGE)
    assert (status.ballots_received, status.counted, status.height) == (2, 1, 2)
    with database.transaction() as session:
        rows = session.execute(select(Ballot.tracker, Ballot.counted).order_by(Ballot.id)).all()
        assert [tuple(r) for r in rows] == [(first.tracker, False), (second.tracker, True)]
        audit = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "ballot.cast")
        ).all()
        # the audit log names the tracker only: never the credential or a member
        assert [json.loads(d) for d in audit] == [
            {"tracker": first.tracker},
            {"tracker": second.tracker},
        ]


def test_a_cast_rolled_back_after_its_chunk_was_written_leaves_the_chain_whole(
    database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The head event this process caches for the next append belongs to a transaction that
    may still roll back: the next cast must continue from the committed head, not from it."""
    from sqlalchemy import event

    from unionvote.services.elections import export_record
    from unionvote.verify import verify_record

    vote = make_vote(database)
    vote.cast(0, (A, JOBS))
    before = snapshot(database)
    written: list[str] = []

    def failing_audit(conn, cursor, statement: str, *args) -> None:
        """The cast's last write fails, after its chunk, ballot and head were written."""
        words = statement.split()
        if words[0] in ("INSERT", "UPDATE"):
            written.append(words[2] if words[0] == "INSERT" else words[1])
        if statement.startswith("INSERT INTO audit_log"):
            raise RuntimeError("the disk is full")

    event.listen(database.engine, "before_cursor_execute", failing_audit)
    try:
        with pytest.raises(RuntimeError, match="disk is full"):
            vote.cast(1, (B, NONE))
    finally:
        event.remove(database.engine, "before_cursor_execute", failing_audit)
    assert {"record_chunks", "ballots", "elections"} <= set(written)
    assert snapshot(database) == before
    vote.cast(2, (C, JOBS_HEALTH))
    vote.cast(1, (B, NONE))
    status = election_status(vote.services, STAGE)
    assert (status.ballots_received, status.counted, status.height) == (3, 3, 3)
    do_close(vote.services, STAGE)
    exported = export_record(vote.services, STAGE, tmp_path / "record.bel")
    report = verify_record(exported.path)
    assert report.ok, report.verdict()


def test_unknown_credential_is_refused(database: Database) -> None:
    vote = make_vote(database)
    stranger = PrivateCredential.generate(random.Random(5).randrange)
    raw = make_ballot(
        vote.election, vote.election_hash, stranger, (A, NONE), rng=vote.rng.randrange
    ).to_bytes()
    refused(vote, "ballot.credential", do_cast, vote.services, STAGE, raw)


def test_a_member_can_cast_only_with_their_own_credential(database: Database) -> None:
    vote = make_vote(database)
    raw = vote.ballot(1, (C, JOBS))
    refused(
        vote, "ballot.credential", do_cast, vote.services, STAGE, raw, member_card=vote.cards[2]
    )
    refused(vote, "ballot.credential", do_cast, vote.services, STAGE, raw, member_card="C99999")
    receipt = do_cast(vote.services, STAGE, raw, member_card=vote.cards[1])
    assert not receipt.already_recorded


def test_malformed_and_forged_ballots_are_refused(database: Database) -> None:
    vote = make_vote(database)
    raw = vote.ballot(3, (A, JOBS))
    for bad in (b"not json", b"{}", raw.replace(b',"', b', "', 1)):
        refused(vote, "ballot.malformed", do_cast, vote.services, STAGE, bad)
    ballot = json.loads(raw)
    ballot["answers"][0]["choices"][0], ballot["answers"][0]["choices"][1] = (
        ballot["answers"][0]["choices"][1],
        ballot["answers"][0]["choices"][0],
    )
    tampered = json.dumps(ballot, separators=(",", ":")).encode()
    refused(vote, "ballot.signature", do_cast, vote.services, STAGE, tampered)


def test_ballots_outside_the_window_are_refused(database: Database) -> None:
    vote = make_vote(database)
    raw = vote.ballot(4, (A, NONE))
    vote.clock.current = OPENS - datetime.timedelta(seconds=1)
    error = refused(vote, "ballot.window", do_cast, vote.services, STAGE, raw)
    assert "opens" in error.detail
    vote.clock.current = CLOSES
    error = refused(vote, "ballot.window", do_cast, vote.services, STAGE, raw)
    assert "closed" in error.detail
    vote.clock.current = CLOSES - datetime.timedelta(seconds=1)
    assert not do_cast(vote.services, STAGE, raw).already_recorded


def test_no_ballot_after_close_and_closing_twice_is_refused(database: Database) -> None:
    vote = make_vote(database)
    recorded = vote.ballot(5, (B, JOBS))
    do_cast(vote.services, STAGE, recorded)
    status = do_close(vote.services, STAGE)
    assert (status.phase, status.ballots_received, status.height) == ("closed", 1, 2)
    refused(vote, "ballot.closed", do_cast, vote.services, STAGE, vote.ballot(6, (A, NONE)))
    refused(vote, "ballot.closed", do_cast, vote.services, STAGE, recorded)
    refused(vote, "election.closed", do_close, vote.services, STAGE)
    with database.transaction() as session:
        assert session.scalar(select(StageRow.status).where(StageRow.key == STAGE)) == "closed"
