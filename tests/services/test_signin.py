"""Signing in to the booth, on SQLite and PostgreSQL: outcomes, the per-card lockout, what
the audit log keeps (never what a stranger typed), and sign-in codes sent through a real SMTP
server (aiosmtpd): in the page's language, one chance each, one a minute, bound to signing in,
and answers that never tell whether a card exists."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update
from test_elections import STAGE, Vote, make_vote
from test_registration import Inbox

from unionvote.mail import SMTPMailer
from unionvote.services.elections import do_close
from unionvote.services.registration import check_code, issue_code
from unionvote.services.signin import (
    CODE_SENT,
    MAX_FAILURES,
    SIGNIN_PURPOSE,
    CodeAnswer,
    SignInOutcome,
    do_request_signin_code,
    do_sign_in,
)
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, Member, OneTimeCode, StageRow

HERE, ELSEWHERE = "attempts-from-here", "attempts-from-elsewhere"
"""Attempt keys: the website makes them from the card number and the client's address."""


def test_outcomes_lockout_and_audit(database: Database) -> None:
    vote = make_vote(database)
    with database.transaction() as session:
        session.execute(update(Member).values(postal_code="48201"))
    services, card = vote.services, vote.cards[0]
    ok = do_sign_in(
        services,
        STAGE,
        f" {card.lower()} ",
        attempt_key=HERE,
        last_name="TEST",
        postal_code="48201",
    )
    assert ok.signed_in and ok.card_number == card
    stranger = do_sign_in(
        services, STAGE, "Z-SECRET-GUESS", attempt_key="s", last_name="Doe", postal_code="1"
    )
    wrong = do_sign_in(
        services, STAGE, card, attempt_key=HERE, last_name="Other", postal_code="48201"
    )
    assert (
        stranger.outcome is SignInOutcome.UNKNOWN and wrong.outcome is SignInOutcome.WRONG_DETAILS
    )
    assert stranger.message == wrong.message  # an unknown card tells nothing more
    for _ in range(MAX_FAILURES - 1):
        do_sign_in(services, STAGE, card, attempt_key=HERE, last_name="Other", postal_code="48201")
    locked = do_sign_in(
        services, STAGE, card, attempt_key=HERE, last_name="Test", postal_code="48201"
    )
    assert locked.outcome is SignInOutcome.LOCKED and not locked.signed_in
    vote.clock.advance(minutes=16)
    assert do_sign_in(
        services, STAGE, card, attempt_key=HERE, last_name="Test", postal_code="48201"
    ).signed_in
    with database.transaction() as session:
        entries = session.execute(
            select(AuditEntry.action, AuditEntry.subject, AuditEntry.detail).where(
                AuditEntry.action.like("signin.%")
            )
        ).all()
    text = json.dumps([tuple(e) for e in entries])
    assert "Z-SECRET-GUESS" not in text and "Doe" not in text and "Other" not in text
    assert ("signin.failed", "s") in {(a, s) for a, s, _ in entries}


def test_failures_elsewhere_never_lock_a_member_out(database: Database) -> None:
    """Someone who knows a member's number and fails from their own machine is refused
    there; the member, signing in from theirs with the right details, is not."""
    vote = make_vote(database)
    with database.transaction() as session:
        session.execute(update(Member).values(postal_code="48201"))
    services, card = vote.services, vote.cards[0]
    for _ in range(MAX_FAILURES):
        do_sign_in(services, STAGE, card, attempt_key=ELSEWHERE, last_name="X", postal_code="1")
    there = do_sign_in(
        services, STAGE, card, attempt_key=ELSEWHERE, last_name="Test", postal_code="48201"
    )
    assert there.outcome is SignInOutcome.LOCKED
    mine = do_sign_in(
        services, STAGE, card, attempt_key=HERE, last_name="Test", postal_code="48201"
    )
    assert mine.signed_in


def test_an_unknown_number_is_refused_exactly_like_a_real_one(database: Database) -> None:
    """Numbers that match no member are counted too: the sixth wrong try does not tell a
    real number from a made-up one."""
    vote = make_vote(database)
    services = vote.services
    answers = {}
    for card, key in ((vote.cards[1], "a"), ("Z-MADE-UP", "b")):
        answers[card] = [
            do_sign_in(services, STAGE, card, attempt_key=key, last_name="X", postal_code="1")
            for _ in range(MAX_FAILURES + 1)
        ]
    real, made_up = answers[vote.cards[1]], answers["Z-MADE-UP"]
    assert [a.message for a in real] == [a.message for a in made_up]
    assert real[-1].outcome is made_up[-1].outcome is SignInOutcome.LOCKED
    assert "Z-MADE-UP" not in audit(database)


# -- sign-in codes by email -------------------------------------------------------------------


@dataclass
class Refusing(Inbox):
    """A mail server that refuses every recipient."""

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: object
    ) -> str:
        return "550 5.1.1 no such mailbox"


def smtp_server(handler: Inbox) -> Iterator[tuple[Inbox, SMTPMailer]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, SMTPMailer("127.0.0.1", port, "elections@iam.example", timeout=5)
    finally:
        controller.stop()


@pytest.fixture
def mail() -> Iterator[tuple[Inbox, SMTPMailer]]:
    yield from smtp_server(Inbox())


def with_addresses(database: Database) -> Vote:
    vote = make_vote(database)
    with database.transaction() as session:
        for member in session.scalars(select(Member)):
            member.email = f"{member.card_number.lower()}@members.example"
    return vote


def audit(database: Database) -> str:
    with database.transaction() as session:
        entries = session.execute(
            select(AuditEntry.action, AuditEntry.subject, AuditEntry.detail).where(
                AuditEntry.action.like("signin.%")
            )
        ).all()
    return json.dumps([tuple(e) for e in entries])


def test_a_sign_in_code_by_email(database: Database, mail: tuple[Inbox, SMTPMailer]) -> None:
    inbox, mailer = mail
    vote = with_addresses(database)
    services, card = vote.services, vote.cards[0]
    answer = do_request_signin_code(services, STAGE, f" {card.lower()} ", mailer)
    assert answer.answer is CodeAnswer.SENT_IF_KNOWN and answer.message == CODE_SENT
    (message,) = inbox.messages
    assert message["To"] == f"{card.lower()}@members.example"
    assert (
        message["Subject"].startswith("Your sign-in code") and message["Content-Language"] == "en"
    )
    code = inbox.code()
    with database.transaction() as session:
        (stored,) = session.scalars(select(OneTimeCode)).all()
    assert code not in stored.code_hash and stored.code_hash.startswith("scrypt$")
    assert code not in audit(database)
    signed = do_sign_in(services, STAGE, card, attempt_key=HERE, code=code)
    assert signed.signed_in and signed.card_number == card
    again = do_sign_in(services, STAGE, card, attempt_key=HERE, code=code)  # one chance: spent
    assert again.outcome is SignInOutcome.WRONG_DETAILS
    assert any(
        action == "signin.signed-in" and json.loads(detail)["method"] == "code"
        for action, _, detail in json.loads(audit(database))
    )


def test_the_code_mail_in_spanish(database: Database, mail: tuple[Inbox, SMTPMailer]) -> None:
    inbox, mailer = mail
    vote = with_addresses(database)
    do_request_signin_code(vote.services, STAGE, vote.cards[1], mailer, language="es")
    (message,) = inbox.messages
    subject = str(make_header(decode_header(message["Subject"])))
    assert message["Content-Language"] == "es" and subject.startswith("Su código")
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes) and "Hola, Member1:" in body.decode()
    assert do_sign_in(
        vote.services, STAGE, vote.cards[1], attempt_key=HERE, code=inbox.code()
    ).signed_in
    do_request_signin_code(vote.services, STAGE, vote.cards[2], mailer, language="fr")
    assert inbox.messages[-1]["Content-Language"] == "en"  # no French: English


def test_a_code_request_never_tells_whether_a_card_exists(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    vote = with_addresses(database)
    services = vote.services
    with database.transaction() as session:
        session.execute(update(Member).where(Member.card_number == vote.cards[1]).values(email=""))
        session.execute(
            update(Member).where(Member.card_number == vote.cards[2]).values(in_roll=False)
        )
    answers = [
        do_request_signin_code(services, STAGE, card, mailer)
        for card in ("Z-SECRET-GUESS", vote.cards[1], vote.cards[2], vote.cards[0])
    ]
    assert len({(a.answer, a.message) for a in answers}) == 1  # word for word the same
    assert [m["To"] for m in inbox.messages] == [f"{vote.cards[0].lower()}@members.example"]
    stranger = do_sign_in(services, STAGE, "Z-SECRET-GUESS", attempt_key=HERE, code="123456")
    wrong = do_sign_in(services, STAGE, vote.cards[1], attempt_key=HERE, code="123456")
    assert stranger.message == wrong.message
    assert "Z-SECRET-GUESS" not in audit(database)


def _registration_code(vote: Vote, card: str) -> str | None:
    """A registration code for ``card``, issued as ``do_request_code`` issues one."""
    with vote.services.transaction() as tx:
        stage = tx.session.scalar(select(StageRow).where(StageRow.key == STAGE))
        member = tx.session.scalar(select(Member).where(Member.card_number == card))
        assert stage is not None and member is not None
        issued = issue_code(tx, stage, member)
        return None if issued is None else issued[0]


def _check(vote: Vote, card: str, code: str, purpose: str) -> bool:
    with vote.services.transaction() as tx:
        stage = tx.session.scalar(select(StageRow).where(StageRow.key == STAGE))
        member = tx.session.scalar(select(Member).where(Member.card_number == card))
        assert stage is not None and member is not None
        return check_code(tx, stage, member, code, purpose=purpose)


def test_one_code_a_minute_and_each_code_for_its_purpose(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    vote = with_addresses(database)
    services, card, other = vote.services, vote.cards[0], vote.cards[1]
    do_request_signin_code(services, STAGE, card, mailer)
    do_request_signin_code(services, STAGE, card, mailer)  # within the minute: not sent
    assert len(inbox.messages) == 1
    assert _registration_code(vote, card) is None  # the interval holds across purposes
    vote.clock.advance(minutes=1)
    do_request_signin_code(services, STAGE, card, mailer)
    assert len(inbox.messages) == 2
    assert "less than a minute ago" in audit(database)
    # a registration code does not sign in, though it would register
    vote.clock.advance(minutes=1)
    registration = _registration_code(vote, card)  # replaces the unspent sign-in code
    assert registration is not None
    assert do_sign_in(services, STAGE, card, attempt_key=HERE, code=registration).outcome is (
        SignInOutcome.WRONG_DETAILS
    )
    registration = _registration_code(vote, other)
    assert registration is not None and _check(vote, other, registration, "")
    # a sign-in code does not register, though it would sign in
    vote.clock.advance(minutes=1)
    do_request_signin_code(services, STAGE, card, mailer)
    assert not _check(vote, card, inbox.code(), "")
    vote.clock.advance(minutes=1)
    do_request_signin_code(services, STAGE, card, mailer)
    vote.clock.advance(minutes=29)  # still inside its 30 minutes
    assert _check(vote, card, inbox.code(), SIGNIN_PURPOSE)


def test_codes_expire_and_only_while_voting(
    database: Database, mail: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = mail
    vote = with_addresses(database)
    services, card = vote.services, vote.cards[0]
    do_request_signin_code(services, STAGE, card, mailer)
    vote.clock.advance(minutes=31)
    assert not do_sign_in(services, STAGE, card, attempt_key=HERE, code=inbox.code()).signed_in
    do_close(services, STAGE)
    closed = do_request_signin_code(services, STAGE, card, mailer)
    assert closed.answer is CodeAnswer.VOTING_NOT_OPEN and len(inbox.messages) == 1
    unknown = do_request_signin_code(services, STAGE, "Z-SECRET-GUESS", mailer)
    assert unknown == closed


def test_a_refused_mail_is_logged_not_told(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    vote = with_addresses(database)
    for _inbox, mailer in smtp_server(Refusing()):
        with caplog.at_level(logging.WARNING, logger="unionvote.signin"):
            answer = do_request_signin_code(vote.services, STAGE, vote.cards[0], mailer)
    assert answer.answer is CodeAnswer.SENT_IF_KNOWN and answer.message == CODE_SENT
    assert "was refused (code 550)" in caplog.text
    assert "@members.example" not in caplog.text


def test_a_code_request_does_the_same_work_for_any_card(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown card, a member without an address, a voter, the voter again too soon: one
    code hash each, so the time taken does not tell which it was."""
    from test_registration import _Outbox, scrypt_calls

    vote = with_addresses(database)
    with database.transaction() as session:
        session.execute(update(Member).where(Member.card_number == vote.cards[1]).values(email=""))
    outbox = _Outbox()
    calls = scrypt_calls(monkeypatch)
    work = []
    for card in ("Z-NOBODY", vote.cards[1], vote.cards[0], vote.cards[0]):
        before = len(calls)
        do_request_signin_code(vote.services, STAGE, card, outbox)
        work.append(len(calls) - before)
    assert work == [1, 1, 1, 1]
    assert len(outbox.sent) == 1
