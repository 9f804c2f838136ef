"""Registration on SQLite and PostgreSQL: every outcome with its answer and its count, the
window, duplicates, closing (uuid, electorate.json), the export for the credential authority,
and one-time codes sent through a real SMTP server."""

from __future__ import annotations

import datetime
import email
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from unionvote.domain.errors import DomainError
from unionvote.mail import SMTPMailer
from unionvote.services.context import FixedClock, Services
from unionvote.services.process import do_init_process
from unionvote.services.registration import (
    CODE_SENT,
    NO_MATCH,
    Outcome,
    do_close_registration,
    do_open_registration,
    do_register,
    do_register_all,
    do_request_code,
    registered_members,
    registration_stats,
)
from unionvote.services.roll import ELECTORATE_FILE, do_freeze_eligibility, do_import_roll
from unionvote.storage.database import Database
from unionvote.storage.models import (
    AuditEntry,
    Member,
    OneTimeCode,
    PublishedFile,
    Registration,
    RegistrationAttempt,
    StageRow,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START = datetime.datetime(2024, 2, 1, 12, 0, tzinfo=datetime.UTC)
STAGE = "membership-vote"


def setup_stage(database: Database, *, open_window: bool = True) -> tuple[Services, FixedClock]:
    clock = FixedClock(START)
    services = Services(database, clock)
    text = (EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8")
    do_init_process(services, text, source_name="iam-2024.toml")
    do_import_roll(services, EXAMPLES / "roll-sample.csv", apply=True)
    do_freeze_eligibility(services, STAGE)
    if open_window:
        do_open_registration(
            services,
            STAGE,
            opens_at=START + datetime.timedelta(hours=1),
            closes_at=START + datetime.timedelta(days=14),
        )
        clock.advance(hours=2)
    return services, clock


def register(services: Services, card: str, last: str, postal: str) -> Any:
    return do_register(services, STAGE, card_number=card, last_name=last, postal_code=postal)


def test_every_outcome_is_answered_and_counted(database: Database) -> None:
    services, _ = setup_stage(database)
    # accents, case, hyphens and ZIP+4 do not matter
    ok = register(services, " 1052248 ", "HERNANDEZ", "75062-1234")
    assert ok.outcome is Outcome.REGISTERED and ok.registered
    assert "independent credential authority" in ok.message
    again = register(services, "1052248", "Hernández", "75062")
    assert again.outcome is Outcome.ALREADY_REGISTERED and again.registered
    assert "already registered" in again.message and "February 1, 2024" in again.message

    arrears = register(services, "1031356", "muller", "63031")
    assert arrears.outcome is Outcome.NOT_ELIGIBLE and not arrears.registered
    assert "the roll lists yours as arrears" in arrears.message
    canada = register(services, "1081904", "Nowak", "m6m4r2")
    assert "only members in the United States (US) take part" in canada.message
    late = register(services, "1052491", "smith jones", "76010")
    assert "you joined on 2023-11-02, after the cutoff date 2023-11-01" in late.message

    unknown = register(services, "7777777", "Nobody", "00000")
    wrong = register(services, "1052006", "Taylor", "99999")
    assert (unknown.outcome, wrong.outcome) == (Outcome.UNKNOWN, Outcome.WRONG_DETAILS)
    assert unknown.message == wrong.message == NO_MATCH  # the card list cannot be probed

    with database.transaction() as session:
        stats = registration_stats(session, STAGE)
        refused = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "registration.refused")
        ).all()
    assert stats.attempts == {
        "registered": 1,
        "already-registered": 1,
        "not-eligible": 3,
        "unknown": 1,
        "wrong-details": 1,
        "outside-window": 0,
    }
    assert (stats.registered, stats.eligible, stats.by_method) == (1, 19, {"details": 1})
    assert all("7777777" not in e.detail + e.subject for e in refused)  # nothing typed kept


def test_the_window(database: Database) -> None:
    services, clock = setup_stage(database, open_window=False)
    early = register(services, "1052248", "Hernandez", "75062")
    assert early.outcome is Outcome.OUTSIDE_WINDOW and "is not open" in early.message
    do_open_registration(
        services,
        STAGE,
        opens_at=START + datetime.timedelta(hours=1),
        closes_at=START + datetime.timedelta(hours=3),
    )
    before = register(services, "1052248", "Hernandez", "75062")
    assert "opens on February 1, 2024 at 13:00 UTC" in before.message
    clock.advance(hours=1)
    assert register(services, "1052248", "Hernandez", "75062").outcome is Outcome.REGISTERED
    clock.advance(hours=2)
    after = register(services, "1040260", "Kim", "30080")
    assert after.outcome is Outcome.OUTSIDE_WINDOW and "closed on" in after.message
    with database.transaction() as session:
        assert registration_stats(session, STAGE).attempts["outside-window"] == 3


def test_bad_requests_and_bad_windows_are_refused(database: Database) -> None:
    services, _ = setup_stage(database, open_window=False)
    for kwargs in ({}, {"last_name": "Kim"}, {"last_name": "Kim", "postal_code": "1", "code": "1"}):
        with pytest.raises(DomainError, match=r"registration\.factor"):
            do_register(services, STAGE, card_number="1040260", **kwargs)
    with pytest.raises(DomainError, match=r"closes .* before it opens"):
        do_open_registration(services, STAGE, opens_at=START, closes_at=START)
    with pytest.raises(DomainError, match="needs a time zone"):
        do_open_registration(
            services, STAGE, opens_at=datetime.datetime(2024, 3, 1), closes_at=START
        )
    with pytest.raises(DomainError, match="no registration"):
        do_open_registration(
            services,
            "council-vote",
            opens_at=START,
            closes_at=START + datetime.timedelta(days=1),
        )
    with pytest.raises(DomainError, match="never opened"):
        do_close_registration(services, STAGE)
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(RegistrationAttempt)) == 0


def test_open_needs_a_frozen_electorate(database: Database) -> None:
    services = Services(database, FixedClock(START))
    text = (EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8")
    do_init_process(services, text, source_name="iam-2024.toml")
    with pytest.raises(DomainError, match="freeze the electorate"):
        do_open_registration(
            services, STAGE, opens_at=START, closes_at=START + datetime.timedelta(days=1)
        )


def test_closing_fixes_the_electorate_and_publishes_it(database: Database) -> None:
    services, clock = setup_stage(database)
    register(services, "1052248", "Hernandez", "75062")
    register(services, "1020231", "Cote", "06320")
    closed = do_close_registration(services, STAGE)
    assert (closed.eligible, closed.registered) == (19, 2) and len(closed.uuid) == 14
    with database.transaction() as session:
        stage = session.scalars(select(StageRow).where(StageRow.key == STAGE)).one()
        published = session.scalars(select(PublishedFile)).one()
        exported = list(registered_members(session, STAGE))
    assert (stage.status, stage.uuid) == ("registration-closed", closed.uuid)
    assert stage.registration_closes_at == clock.now()  # closed early: the record says when
    assert (published.name, published.content, published.digest) == (
        ELECTORATE_FILE,
        closed.electorate,
        closed.digest,
    )
    document = json.loads(published.content)
    assert (document["stage"], document["eligible"], document["registered"]) == (STAGE, 19, 2)
    assert document["cutoff"] == "2023-11-01"
    assert [m.card_number for m in exported] == ["1020231", "1052248"]
    assert exported[1] == (
        "1052248",
        "María",
        "Hernández",
        "m1052248@members.example",
        "3310 Airport Fwy",
        "Irving",
        "75062",
        "TX",
        "US",
        "776",
        None,
    )
    with pytest.raises(DomainError, match="already closed"):
        do_close_registration(services, STAGE)
    late = register(services, "1040260", "Kim", "30080")
    assert late.outcome is Outcome.OUTSIDE_WINDOW and "closed" in late.message


def test_register_all_for_rehearsals(database: Database) -> None:
    services, _ = setup_stage(database)
    register(services, "1052248", "Hernandez", "75062")
    assert do_register_all(services, STAGE) == 18
    assert do_register_all(services, STAGE) == 0
    with database.transaction() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "registration.register-all")
        ).all()
        methods = dict(
            session.execute(
                select(Registration.method, func.count()).group_by(Registration.method)
            ).all()
        )
    assert [json.loads(e.detail)["registered"] for e in entries] == [18, 0]
    assert methods == {"details": 1, "bulk": 18}


# -- one-time codes over real SMTP ------------------------------------------------------------


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def code(self) -> str:
        body = self.messages[-1].get_payload(decode=True)
        assert isinstance(body, bytes)
        match = re.search(rb"^\s+(\d{6})\s*$", body, re.MULTILINE)
        assert match is not None
        return match[1].decode()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SMTPMailer]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SMTPMailer("127.0.0.1", port, "elections@iam.example", timeout=5)
    finally:
        controller.stop()


def by_code(services: Services, card: str, code: str) -> Any:
    return do_register(services, STAGE, card_number=card, code=code)


def test_a_one_time_code_by_email(database: Database, smtp: tuple[Inbox, SMTPMailer]) -> None:
    inbox, mailer = smtp
    services, clock = setup_stage(database)
    answer = do_request_code(services, STAGE, "1040260", mailer)
    assert answer.message == CODE_SENT
    (message,) = inbox.messages
    assert message["To"] == "m1040260@members.example"
    assert "registration code" in message["Subject"]
    code = inbox.code()
    with database.transaction() as session:
        (stored,) = session.scalars(select(OneTimeCode)).all()
    assert code not in stored.code_hash and stored.code_hash.startswith("scrypt$")
    assert stored.expires_at == clock.now() + datetime.timedelta(minutes=30)

    done = by_code(services, "1040260", code)
    assert done.outcome is Outcome.REGISTERED
    reused = by_code(services, "1040260", code)  # used once: spent
    assert reused.outcome is Outcome.WRONG_DETAILS and reused.message == NO_MATCH
    with database.transaction() as session:
        assert session.scalars(select(Registration.method)).all() == ["code"]


def test_the_code_email_in_spanish(database: Database, smtp: tuple[Inbox, SMTPMailer]) -> None:
    inbox, mailer = smtp
    services, _ = setup_stage(database)
    do_request_code(services, STAGE, "1040260", mailer, language="es")
    (message,) = inbox.messages
    subject = str(make_header(decode_header(message["Subject"])))
    assert message["Content-Language"] == "es"
    assert subject.startswith("Su código para inscribirse")
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    assert text.startswith("Hola, ") and "hasta el 1 de febrero de 2024 a las 14:30 UTC" in text
    assert "registration" not in text.lower()
    assert by_code(services, "1040260", inbox.code()).outcome is Outcome.REGISTERED

    do_request_code(services, STAGE, "1052006", mailer)  # English unless asked
    assert inbox.messages[-1]["Content-Language"] == "en"
    assert "registration code" in inbox.messages[-1]["Subject"]
    do_request_code(services, STAGE, "1052248", mailer, language="fr")  # no French: English
    assert inbox.messages[-1]["Content-Language"] == "en"
    with database.transaction() as session:
        details = session.scalars(
            select(AuditEntry.detail)
            .where(AuditEntry.action == "registration.code")
            .order_by(AuditEntry.id)
        ).all()
    assert [json.loads(d)["language"] for d in details] == ["es", "en", "en"]


def test_codes_are_spent_by_a_wrong_guess_and_expire(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    services, clock = setup_stage(database)
    do_request_code(services, STAGE, "1052006", mailer)
    first = inbox.code()
    wrong = "000000" if first != "000000" else "111111"
    assert by_code(services, "1052006", wrong).outcome is Outcome.WRONG_DETAILS
    assert by_code(services, "1052006", first).outcome is Outcome.WRONG_DETAILS  # spent

    do_request_code(services, STAGE, "1052006", mailer)  # within the minute: not sent
    assert len(inbox.messages) == 1
    clock.advance(minutes=1)
    do_request_code(services, STAGE, "1052006", mailer)
    assert len(inbox.messages) == 2
    clock.advance(minutes=31)
    assert by_code(services, "1052006", inbox.code()).outcome is Outcome.WRONG_DETAILS

    clock.advance(minutes=1)
    do_request_code(services, STAGE, "1052006", mailer)
    clock.advance(minutes=29)
    assert by_code(services, "1052006", inbox.code()).outcome is Outcome.REGISTERED


def test_a_code_request_says_nothing_about_the_card(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    services, _ = setup_stage(database)
    assert do_request_code(services, STAGE, "7777777", mailer).message == CODE_SENT
    assert inbox.messages == []
    assert by_code(services, "7777777", "123456").outcome is Outcome.UNKNOWN
    # a member who is not eligible gets the code, and the reason only after proving who they are
    do_request_code(services, STAGE, "1031356", mailer)
    refused = by_code(services, "1031356", inbox.code())
    assert refused.outcome is Outcome.NOT_ELIGIBLE and "arrears" in refused.message


class _Outbox:
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, mail: object) -> str:
        self.sent.append(mail)
        return "<id@test>"


def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the scrypt hashes computed (the costly part of issuing a code)."""
    import hashlib

    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def test_a_code_request_does_the_same_work_for_any_card(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown card, card without an address, a real one, the real one again too soon: one
    code hash each, so the time taken does not tell which it was."""
    services, _ = setup_stage(database)
    with database.transaction() as session:
        no_address = session.scalars(select(Member).where(Member.email == "")).first()
        no_address_card = no_address.card_number if no_address is not None else None
    outbox = _Outbox()
    calls = scrypt_calls(monkeypatch)
    cards = ["Z-NOBODY", "1040260", "1040260"] + ([no_address_card] if no_address_card else [])
    work = []
    for card in cards:
        before = len(calls)
        do_request_code(services, STAGE, card, outbox)
        work.append(len(calls) - before)
    assert work == [1] * len(cards)
    assert len(outbox.sent) == 1
