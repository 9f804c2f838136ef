"""Fixes from the second review of the questionnaire (SQLite and PostgreSQL, a real local SMTP
server): a relay that refuses the sender bounces nobody; a bounced address can work again;
the due date cannot move later once published; a resend that reached nobody is sent again;
choice answers in ASCII digits only; control characters and over-long titles refused with
their field; a submitted campaign under correction cannot decline; confirmations audited; a
campaign whose every address bounced shows "bounced"; a Spanish contact's link opens in
Spanish."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from questionnaire_support import (
    BASE_URL,
    CAMPAIGNS,
    CONTACT,
    DUE,
    KEY,
    QUESTIONNAIRE,
    START,
    Inbox,
    body,
    setup_questionnaire,
)
from sqlalchemy import func, select

from unionvote.domain.questionnaire import (
    QuestionnaireError,
    QuestionnaireFileError,
    check_answers,
    parse_questionnaire,
)
from unionvote.mail import SMTPMailer
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    do_close,
    do_decline,
    do_define_questionnaire,
    do_import_campaigns,
    do_open_correction,
    do_open_form,
    do_publish,
    do_record_bounce,
    do_replace_contact,
    do_save_draft,
    do_send_links,
    do_submit,
    overview,
)
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, QuestionnaireEvent, QuestionnaireResponse

ANSWERS = {"pro-act": "yes", "trade": "0", "pensions": "Keep the PBGC whole."}
EXAMPLE = parse_questionnaire(QUESTIONNAIRE.read_text(encoding="utf-8"))


@dataclass
class Relay(Inbox):
    """The test SMTP server, which can refuse the sender (MAIL FROM), as a misconfigured
    relay does."""

    refuse_sender: bool = False

    async def handle_MAIL(
        self, server: object, session: object, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse_sender:
            return "550 5.7.1 sender address not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[tuple[Relay, SMTPMailer]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Relay()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SMTPMailer("127.0.0.1", port, "committee@union.example", timeout=5)
    finally:
        controller.stop()


def _audit(database: Database, action: str) -> list[AuditEntry]:
    with database.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def _counts(database: Database) -> tuple[int, int, int]:
    with database.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
            session.scalar(select(func.count()).select_from(QuestionnaireEvent)) or 0,
            session.scalar(select(func.count()).select_from(QuestionnaireResponse)) or 0,
        )


def test_a_relay_refusing_the_sender_bounces_nobody_and_a_bounce_can_be_cleared(
    database: Database, relay: tuple[Relay, SMTPMailer]
) -> None:
    inbox, mailer = relay
    services = Services(database, FixedClock(START))
    inbox.refuse_sender = True
    do_define_questionnaire(services, QUESTIONNAIRE.read_text(encoding="utf-8"))
    do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"))
    first = do_send_links(services, KEY, mailer, base_url=BASE_URL)
    assert (first.sent, first.bounced, first.failed) == (0, 0, 5)
    inbox.refuse_sender = False  # the relay is fixed: the next send reaches everyone
    second = do_send_links(services, KEY, mailer, base_url=BASE_URL)
    assert (second.sent, second.bounced) == (5, 0)
    assert all(c.bounced_at is None for c in overview(services, KEY).campaigns)

    # A mistaken "bounced" is undone by giving the same address again.
    do_record_bounce(services, KEY, "brandt", CONTACT["brandt"], "marked by mistake")
    (brandt,) = [c for c in overview(services, KEY).campaigns if c.candidate_key == "brandt"]
    assert brandt.status == "bounced"  # its only address bounced, although a mail went
    do_replace_contact(services, KEY, "brandt", CONTACT["brandt"], CONTACT["brandt"])
    (brandt,) = [c for c in overview(services, KEY).campaigns if c.candidate_key == "brandt"]
    assert brandt.status == "sent" and brandt.contact_details[0].bounced_at is None
    assert len(_audit(database, "questionnaire.contact.clear-bounce")) == 1
    resent = do_send_links(services, KEY, mailer, base_url=BASE_URL, candidate="brandt")
    assert resent.sent == 1
    # The same address when it has not bounced is still refused as no change.
    with pytest.raises(QuestionnaireError) as same:
        do_replace_contact(services, KEY, "brandt", CONTACT["brandt"], CONTACT["brandt"])
    assert [p.check for p in same.value.problems] == ["same"]


@pytest.fixture
def smtp(relay: tuple[Relay, SMTPMailer]) -> tuple[Relay, SMTPMailer]:
    return relay


def test_the_due_date_cannot_move_later_once_published(
    database: Database, smtp: tuple[Relay, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    setup_questionnaire(services, mailer, inbox)
    clock.advance(seconds=(DUE - START).total_seconds() + 3600)
    do_publish(services, KEY)
    later = (
        QUESTIONNAIRE.read_text(encoding="utf-8")
        .replace("version = 1", "version = 2")
        .replace("due = 2024-03-01T23:59:00Z", "due = 2024-03-10T23:59:00Z")
    )
    before = _counts(database)
    with pytest.raises(QuestionnaireError) as refused:
        do_define_questionnaire(services, later)
    assert refused.value.check == "questionnaire.published"
    assert "can no longer move later" in refused.value.detail
    assert _counts(database) == before


def test_a_resend_that_reached_nobody_is_sent_again_by_the_bulk_send(
    database: Database, smtp: tuple[Relay, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    tokens = setup_questionnaire(services, mailer, inbox)
    clock.advance(hours=1)
    inbox.defer.add(CONTACT["okafor"])  # 451 once
    resend = do_send_links(services, KEY, mailer, base_url=BASE_URL, candidate="okafor")
    assert (resend.sent, resend.failed) == (0, 1)
    with pytest.raises(QuestionnaireError):
        do_open_form(services, tokens["okafor"])  # the old link was replaced
    bulk = do_send_links(services, KEY, mailer, base_url=BASE_URL)
    assert bulk.sent == 1  # only okafor: the others have their working link
    new = inbox.token(CONTACT["okafor"])
    assert new != tokens["okafor"]
    assert do_open_form(services, new).candidate_key == "okafor"


@given(value=st.text(max_size=6))
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_choice_answer_is_an_ascii_index_or_refused(value: str) -> None:
    try:
        checked = check_answers(EXAMPLE, {"trade": value}, complete=False)
    except QuestionnaireError as error:
        assert error.check == "questionnaire.answer"
        return
    assert checked["trade"] in ("", "0", "1", "2")


def test_choice_digits_and_control_characters(
    database: Database, smtp: tuple[Relay, SMTPMailer]
) -> None:
    for value in ("²", "①", "١", "１"):
        with pytest.raises(QuestionnaireError) as refused:
            check_answers(EXAMPLE, {"trade": value}, complete=False)
        assert refused.value.check == "questionnaire.answer", value
    assert check_answers(EXAMPLE, {"trade": "01"}, complete=False)["trade"] == "1"
    assert EXAMPLE.display(EXAMPLE.question("trade"), "²", "en") == "²"  # no crash

    inbox, mailer = smtp
    services = Services(database, FixedClock(START))
    tokens = setup_questionnaire(services, mailer, inbox)
    before = _counts(database)
    with pytest.raises(QuestionnaireError) as nul:
        do_save_draft(services, tokens["hale"], {"pensions": "no\x00thanks"})
    assert nul.value.check == "questionnaire.answer"
    assert [p.question_id for p in nul.value.problems] == ["pensions"]
    with pytest.raises(QuestionnaireError) as reason:
        do_decline(services, tokens["hale"], "no\x00thanks", None)
    assert reason.value.check == "questionnaire.answer"
    assert _counts(database) == before
    # A tab and line breaks are text.
    saved = do_save_draft(services, tokens["hale"], {"pensions": "One.\n\tTwo."})
    assert saved.answered == 1


def test_a_title_over_300_characters_is_a_file_problem() -> None:
    text = QUESTIONNAIRE.read_text(encoding="utf-8").replace(
        'title = "2024 Presidential Candidate Questionnaire"', f'title = "{"T" * 301}"'
    )
    with pytest.raises(QuestionnaireFileError) as refused:
        parse_questionnaire(text, source="long.toml")
    assert refused.value.file_problems[0].field == "title"
    assert "at most 300 characters" in refused.value.detail


def test_under_correction_a_submitted_campaign_cannot_decline_and_confirmations_are_audited(
    database: Database, smtp: tuple[Relay, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    tokens = setup_questionnaire(services, mailer, inbox)
    do_submit(services, tokens["okafor"], ANSWERS, mailer)
    (confirmed,) = _audit(database, "questionnaire.confirmation.outcome")
    assert confirmed.subject == f"{KEY}/okafor"
    assert json.loads(confirmed.detail) == {"confirms": "submitted", "delivered": 1, "bounced": 0}
    do_open_correction(services, KEY, "okafor", "a typo")
    before = _counts(database)
    with pytest.raises(QuestionnaireError) as refused:
        do_decline(services, tokens["okafor"], "", None)
    assert refused.value.check == "questionnaire.decline-after-submit"
    assert "submit a new version, not decline" in refused.value.detail
    assert _counts(database) == before
    do_decline(services, tokens["hale"], "", mailer)
    declined = _audit(database, "questionnaire.confirmation.outcome")[-1]
    assert json.loads(declined.detail)["confirms"] == "declined"
    clock.advance(days=40)
    do_close(services, KEY)


def test_a_spanish_contact_s_link_opens_the_form_in_spanish(
    database: Database, smtp: tuple[Relay, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    services = Services(database, FixedClock(START))
    setup_questionnaire(services, mailer, inbox)
    (spanish,) = inbox.to("policy@rivera2024.example")
    (english,) = inbox.to(CONTACT["rivera"])
    token = inbox.token(CONTACT["rivera"])
    assert f"{BASE_URL}/questionnaire/answer/{token}?lang=es" in body(spanish)
    assert f"{BASE_URL}/questionnaire/answer/{token}" in body(english)
    assert "?lang=" not in body(english)
