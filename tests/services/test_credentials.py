"""The server's side of credentials, on SQLite and PostgreSQL: the export for the authority,
the import of the public credentials (bad files refused, nothing changed), the delivery log,
and a whole flow after which no table holds a private credential."""

from __future__ import annotations

import datetime
import email
import io
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from unionvote.authority import (
    Workspace,
    generate_workspace,
    print_letters,
    read_registered,
    send_credentials,
)
from unionvote.authority.registered import COLUMNS, HEADER_PREFIX
from unionvote.domain.ceremony import single_trustee
from unionvote.domain.errors import DomainError
from unionvote.mail import SMTPMailer
from unionvote.record.ballot import make_ballot
from unionvote.services.context import FixedClock, Services
from unionvote.services.credentials import (
    REGISTERED_COLUMNS,
    REGISTERED_HEADER_PREFIX,
    delivery_stats,
    do_export_registered,
    do_import_deliveries,
    do_import_public_credentials,
)
from unionvote.services.elections import (
    do_cast,
    do_setup_election,
    election_definition,
    election_status,
)
from unionvote.services.process import do_init_process
from unionvote.services.registration import (
    do_close_registration,
    do_open_registration,
    do_register_all,
    registered_members,
)
from unionvote.services.roll import do_freeze_eligibility, do_import_roll
from unionvote.storage.database import Database
from unionvote.storage.models import (
    AuditEntry,
    Base,
    CredentialDelivery,
    PublicCredentialRow,
    StageRow,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START = datetime.datetime(2024, 2, 1, 12, 0, tzinfo=datetime.UTC)
STAGE = "membership-vote"


def registered_stage(database: Database, *, close: bool = True) -> Services:
    """The IAM process with the sample roll, every eligible member registered, and (``close``)
    registration closed, which fixes the election's uuid."""
    clock = FixedClock(START)
    services = Services(database, clock)
    text = (EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8")
    do_init_process(services, text, source_name="iam-2024.toml")
    do_import_roll(services, EXAMPLES / "roll-sample.csv", apply=True)
    do_freeze_eligibility(services, STAGE)
    do_open_registration(
        services,
        STAGE,
        opens_at=START + datetime.timedelta(hours=1),
        closes_at=START + datetime.timedelta(days=14),
    )
    clock.advance(hours=2)
    do_register_all(services, STAGE)
    if close:
        do_close_registration(services, STAGE)
    return services


def export(services: Services, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        do_export_registered(services, STAGE, stream)
    return path


def authority(services: Services, tmp_path: Path) -> Workspace:
    registered = export(services, tmp_path / "registered.csv")
    return generate_workspace(registered, tmp_path / "ws", vote_url="https://vote.example")


def state(database: Database) -> tuple[str, int, int]:
    """What an import may change: the stage's status, stored credentials, import entries."""
    with database.transaction() as session:
        status = session.scalar(select(StageRow.status).where(StageRow.key == STAGE))
        stored = session.scalar(select(func.count()).select_from(PublicCredentialRow))
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "credentials.import")
        )
    assert status is not None
    return status, stored or 0, audited or 0


def test_both_sides_agree_on_the_registered_file_format() -> None:
    assert REGISTERED_COLUMNS == COLUMNS and REGISTERED_HEADER_PREFIX == HEADER_PREFIX


def test_the_export_carries_the_election_and_every_registered_member(
    database: Database, tmp_path: Path
) -> None:
    services = registered_stage(database)
    path = export(services, tmp_path / "registered.csv")
    with database.transaction() as session:
        uuid = session.scalar(select(StageRow.uuid).where(StageRow.key == STAGE))
        expected = list(registered_members(session, STAGE))
    with path.open(encoding="utf-8", newline="") as stream:
        header, rows = read_registered(stream)
        members = list(rows)
    assert (header.uuid, header.stage, header.count) == (uuid, STAGE, len(expected))
    assert "General membership vote" in header.election
    assert [m.card_number for m in members] == [e.card_number for e in expected]
    assert [m.email for m in members] == [e.email for e in expected]
    assert len(members) > 10


def test_no_export_before_the_electorate_is_final(database: Database) -> None:
    services = registered_stage(database, close=False)
    with pytest.raises(DomainError, match="close registration first"):
        do_export_registered(services, STAGE, io.StringIO())


def test_import_stores_the_public_side_and_moves_to_credentials(
    database: Database, tmp_path: Path
) -> None:
    services = registered_stage(database)
    workspace = authority(services, tmp_path)
    with workspace.public_path.open("rb") as stream:
        done = do_import_public_credentials(services, STAGE, stream)
    assert done.count == workspace.info.count and not done.replaced
    assert state(database) == ("credentials", workspace.info.count, 1)
    expected = {m.card_number: str(c.public(done.uuid).key) for m, c in workspace.members()}
    with database.transaction() as session:
        from unionvote.storage.models import Member

        stored = dict(
            session.execute(
                select(Member.card_number, PublicCredentialRow.credential).join(
                    Member, Member.id == PublicCredentialRow.member_id
                )
            ).all()
        )
    assert stored == expected


def _mutate(obj: dict[str, Any], change: str) -> dict[str, Any]:
    items = obj["credentials"]
    if change == "uuid":
        obj["uuid"] = "Wr0ngUuidAAAAAAA".replace("0", "o")
    elif change == "stage":
        obj["stage"] = "council-vote"
    elif change == "unknown card":
        items[0]["card_number"] = "9999999"
    elif change == "duplicate card":
        items[1]["card_number"] = items[0]["card_number"]
    elif change == "duplicate key":
        items[1]["public_credential"] = items[0]["public_credential"]
    elif change == "missing member":
        items.pop()
    elif change == "bad key":
        items[2]["public_credential"] = "ff" * 32
    elif change == "weight":
        items[0]["weight"] = 3
    return obj


@pytest.mark.parametrize(
    ("change", "check", "message"),
    [
        ("uuid", "credentials.uuid", "was it made from another export"),
        ("stage", "credentials.stage", "not 'membership-vote'"),
        ("unknown card", "credentials.import", "'9999999' is not registered"),
        ("duplicate card", "credentials.import", "has two credentials"),
        ("duplicate key", "credentials.import", "the same public credential"),
        ("missing member", "credentials.import", "1 registered member has no credential"),
        ("bad key", "credentials.import", "not a public credential"),
        ("weight", "credentials.import", "weight 3 instead of None"),
    ],
)
def test_a_bad_public_file_is_refused_and_changes_nothing(
    database: Database, tmp_path: Path, change: str, check: str, message: str
) -> None:
    services = registered_stage(database)
    workspace = authority(services, tmp_path)
    before = state(database)
    bad = _mutate(json.loads(workspace.public_path.read_text()), change)
    with pytest.raises(DomainError, match=message) as refused:
        do_import_public_credentials(services, STAGE, io.BytesIO(json.dumps(bad).encode()))
    assert refused.value.check == check
    assert state(database) == before == ("registration-closed", 0, 0)


def private_files(workspace: Workspace) -> Iterator[tuple[str, bytes]]:
    yield "the private CSV", workspace.private_path.read_bytes()
    public = json.loads(workspace.public_path.read_text())
    _, credential = next(workspace.members())
    for label, form in (
        ("written", credential.reveal()),
        ("without dashes", credential.reveal().replace("-", "")),
    ):
        public["credentials"][0]["public_credential"] = form
        yield f"a private credential {label} as a key", json.dumps(public).encode()


def test_a_file_with_a_private_credential_is_refused_without_echoing_it(
    database: Database, tmp_path: Path
) -> None:
    services = registered_stage(database)
    workspace = authority(services, tmp_path)
    secrets = [c.reveal() for _, c in workspace.members()]
    for what, content in private_files(workspace):
        with pytest.raises(DomainError, match="PRIVATE credential") as refused:
            do_import_public_credentials(services, STAGE, io.BytesIO(content))
        assert refused.value.check == "credentials.private", what
        text = str(refused.value)
        assert not any(s in text or s.replace("-", "") in text for s in secrets)
    assert state(database) == ("registration-closed", 0, 0)


def test_a_second_import_needs_replace_and_only_before_setup(
    database: Database, tmp_path: Path
) -> None:
    services = registered_stage(database)
    workspace = authority(services, tmp_path)
    content = workspace.public_path.read_bytes()
    do_import_public_credentials(services, STAGE, io.BytesIO(content))
    with pytest.raises(DomainError, match="--replace") as refused:
        do_import_public_credentials(services, STAGE, io.BytesIO(content))
    assert refused.value.check == "credentials.exists"
    again = generate_workspace(tmp_path / "registered.csv", tmp_path / "ws2")
    done = do_import_public_credentials(
        services, STAGE, io.BytesIO(again.public_path.read_bytes()), replace=True
    )
    assert done.replaced and state(database) == ("credentials", done.count, 2)
    set_up(services)
    with pytest.raises(DomainError, match="can no longer change") as fixed:
        do_import_public_credentials(services, STAGE, io.BytesIO(content), replace=True)
    assert fixed.value.check == "credentials.fixed"
    # the member votes with the credential the authority delivered
    member, credential = next(again.members())
    assert cast(services, credential, member.card_number).tracker


def set_up(services: Services) -> None:
    server, _ = single_trustee()
    do_setup_election(
        services,
        STAGE,
        trustees=[server],
        name="General membership vote",
        description="",
        voting_opens_at=START,
        voting_closes_at=START + datetime.timedelta(days=60),
    )


def cast(services: Services, credential: Any, card: str) -> Any:
    election = election_definition(services, STAGE)
    answers = len(election.questions[0].answers) + int(election.questions[0].blank)
    choices = [[1] + [0] * (answers - 1)] + [
        [1] + [0] * (len(q.answers) + int(q.blank) - 1) for q in election.questions[1:]
    ]
    election_hash = election_status(services, STAGE).election_hash
    raw = make_ballot(election, election_hash, credential, choices).to_bytes()
    return do_cast(services, STAGE, raw, member_card=card)


def event_lines(header: dict[str, Any], events: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in [header, *events])


def test_deliveries_import_is_idempotent_and_sums_up(database: Database, tmp_path: Path) -> None:
    services = registered_stage(database)
    workspace = authority(services, tmp_path)
    do_import_public_credentials(services, STAGE, io.BytesIO(workspace.public_path.read_bytes()))
    cards = [m.card_number for m in workspace.registered()]
    header = json.loads(workspace.deliveries_path.read_bytes().splitlines()[0])
    at = "2024-03-01T10:00:00+00:00"
    events = [
        {"card_number": cards[0], "channel": "email", "status": "sent", "at": at},
        {"card_number": cards[1], "channel": "email", "status": "sent", "at": at},
        {"card_number": cards[1], "channel": "email", "status": "bounced", "at": at[:-6] + "Z"},
        {"card_number": cards[2], "channel": "email", "status": "failed", "at": at},
        {"card_number": cards[1], "channel": "post", "status": "printed", "at": at},
    ]
    first = do_import_deliveries(services, STAGE, io.BytesIO(event_lines(header, events[:3])))
    assert (first.added, first.already) == (3, 0)
    second = do_import_deliveries(services, STAGE, io.BytesIO(event_lines(header, events)))
    assert (second.added, second.already) == (2, 3)
    with database.transaction() as session:
        stats = delivery_stats(session, STAGE)
        assert session.scalar(select(func.count()).select_from(CredentialDelivery)) == 5
    assert stats.email == {"sent": 1, "bounced": 1, "resent": 0, "failed": 1}
    assert (stats.printed, stats.credentials) == (1, len(cards))
    assert stats.unreached == len(cards) - 2

    def refused(content: bytes, message: str) -> None:
        with pytest.raises(DomainError, match=message):
            do_import_deliveries(services, STAGE, io.BytesIO(content))

    stranger = {**events[0], "card_number": "9999999"}
    refused(event_lines(header, [stranger]), "line 2: card '9999999' is not registered")
    refused(event_lines(header, [{**events[0], "status": "printed"}]), "no status 'printed'")
    refused(event_lines(header, [{**events[0], "at": "2024-03-01"}]), "with a zone")
    refused(event_lines({**header, "uuid": "AAAAAAAAAAAAAAA"}, events), "another export")
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CredentialDelivery)) == 5


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def mailer() -> Iterator[Callable[[], tuple[Inbox, SMTPMailer]]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield lambda: (inbox, SMTPMailer("127.0.0.1", port, "ca@authority.example", timeout=5))
    finally:
        controller.stop()


def test_after_a_whole_flow_no_table_holds_a_private_credential(
    database: Database, tmp_path: Path, mailer: Callable[[], tuple[Inbox, SMTPMailer]]
) -> None:
    services = registered_stage(database)
    workspace = authority(services, tmp_path)
    inbox, smtp = mailer()
    summary = send_credentials(workspace, smtp)
    assert summary.sent == workspace.info.count == len(inbox.messages)
    print_letters(workspace, tmp_path / "letters.pdf")
    do_import_public_credentials(services, STAGE, io.BytesIO(workspace.public_path.read_bytes()))
    do_import_deliveries(services, STAGE, io.BytesIO(workspace.deliveries_path.read_bytes()))
    set_up(services)
    members = list(workspace.members())
    for member, credential in members[:3]:
        cast(services, credential, member.card_number)
    secrets = [c.reveal() for _, c in members]
    forms = [s.encode() for s in secrets] + [s.replace("-", "").encode() for s in secrets]
    scanned: set[str] = set()
    with database.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for value in row:
                    if isinstance(value, str):
                        value = value.encode()
                    if isinstance(value, bytes):
                        scanned.add(table.name)
                        assert not any(f in value for f in forms), table.name
        with_events = session.scalar(select(func.count()).select_from(CredentialDelivery))
    assert with_events == 2 * workspace.info.count  # sent, then printed
    assert {
        "public_credentials",
        "credential_deliveries",
        "record_chunks",
        "ballots",
        "audit_log",
        "members",
    } <= scanned
