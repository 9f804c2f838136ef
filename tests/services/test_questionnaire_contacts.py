"""Campaigns entered one by one, contacts added, a bounced address replaced (the next send
goes to the new address, the bounced one is never mailed again), and reminders that catch up
with one reminder per run — on SQLite and PostgreSQL, every action in the audit log."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from questionnaire_support import (
    BASE_URL,
    CONTACT,
    DUE,
    KEY,
    QUESTIONNAIRE,
    START,
    Inbox,
    setup_questionnaire,
    smtp_server,
    subject,
)
from sqlalchemy import select

from unionvote.domain.questionnaire import QuestionnaireError
from unionvote.mail import SMTPMailer
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    CampaignInput,
    ContactInput,
    do_add_campaign,
    do_add_contact,
    do_define_questionnaire,
    do_open_form,
    do_replace_contact,
    do_send_links,
    do_send_reminders,
    overview,
)
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, QuestionnaireContact, QuestionnaireEvent


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SMTPMailer]]:
    with smtp_server() as server:
        yield server


def _actions(database: Database) -> list[str]:
    with database.transaction() as session:
        return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def _rows(database: Database) -> tuple[int, int, int]:
    with database.transaction() as session:
        return (
            len(list(session.scalars(select(QuestionnaireContact)))),
            len(list(session.scalars(select(QuestionnaireEvent)))),
            len(list(session.scalars(select(AuditEntry)))),
        )


def test_a_bounced_address_is_replaced_and_the_next_send_goes_to_the_new_one(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    services = Services(database, FixedClock(START))
    do_define_questionnaire(services, QUESTIONNAIRE.read_text(encoding="utf-8"))
    inbox.refuse.add("old@lopez.example")
    do_add_campaign(
        services,
        KEY,
        CampaignInput(
            "lopez",
            "Maria Lopez",
            "Independent",
            "",
            (ContactInput("Sam", "old@lopez.example"), ContactInput("Kim", "kim@lopez.example")),
        ),
    )
    first = do_send_links(services, KEY, mailer, base_url=BASE_URL)
    assert (first.sent, first.bounced) == (1, 1)
    [status] = overview(services, KEY).campaigns
    assert status.office == "President of the United States"
    bounced = {c.email: c.bounced_at for c in status.contact_details}
    assert bounced == {"old@lopez.example": START, "kim@lopez.example": None}
    kim_token = inbox.token("kim@lopez.example")

    # nothing new: a second send mails nobody (the bounced address is not tried again)
    assert do_send_links(services, KEY, mailer, base_url=BASE_URL).sent == 0

    # replace the bounced address: the next send goes to the new one only
    do_replace_contact(services, KEY, "lopez", "OLD@lopez.example", "sam@lopez.example")
    report = do_send_links(services, KEY, mailer, base_url=BASE_URL)
    assert (report.sent, report.bounced) == (1, 0)
    assert len(inbox.to("sam@lopez.example")) == 1
    assert len(inbox.to("kim@lopez.example")) == 1  # kim already had a link…
    do_open_form(services, kim_token)  # …which still works
    do_open_form(services, inbox.token("sam@lopez.example"))
    [status] = overview(services, KEY).campaigns
    assert [(c.name, c.email, c.bounced_at) for c in status.contact_details] == [
        ("Sam", "sam@lopez.example", None),
        ("Kim", "kim@lopez.example", None),
    ]
    assert any(
        e.kind == "contact-replaced" and e.detail == "old@lopez.example → sam@lopez.example"
        for e in status.events
    )

    # add a contact: mailed at the next send, no one else is
    do_add_contact(services, KEY, "lopez", ContactInput("Ana", "ana@lopez.example", "es"))
    assert do_send_links(services, KEY, mailer, base_url=BASE_URL).sent == 1
    assert inbox.to("ana@lopez.example")[0]["Content-Language"] == "es"
    assert len(inbox.to("kim@lopez.example")) == 1

    # reminders never go to a bounced address
    inbox.refuse.add("kim@lopez.example")
    services.clock.current = DUE - datetime.timedelta(days=7)  # type: ignore[attr-defined]
    do_replace_contact(services, KEY, "lopez", "kim@lopez.example", "kim2@lopez.example")
    do_send_reminders(services, KEY, mailer, base_url=BASE_URL)
    assert not any("Reminder" in subject(m) for m in inbox.to("old@lopez.example"))
    assert not any("Reminder" in subject(m) for m in inbox.to("kim@lopez.example"))
    assert subject(inbox.to("sam@lopez.example")[-1]).startswith("Reminder: ")

    done = _actions(database)
    for action in (
        "questionnaire.campaign.add",
        "questionnaire.contact.replace",
        "questionnaire.contact.add",
    ):
        assert action in done


def test_bad_contacts_are_refused_naming_each_field_and_nothing_changes(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    services = Services(database, FixedClock(START))
    setup_questionnaire(services, mailer, inbox)
    before = _rows(database)
    with pytest.raises(QuestionnaireError) as refused:
        do_add_campaign(
            services,
            KEY,
            CampaignInput("Bad Key", " ", "Indep", "", (ContactInput("", "not-an-address", "fr"),)),
        )
    assert refused.value.check == "questionnaire.campaign"
    fields = {(p.question_id, p.check) for p in refused.value.problems}
    assert fields == {
        ("key", "invalid"),
        ("name", "missing"),
        ("party", "unknown-party"),  # the example file lists its parties
        ("contact-email-0", "invalid"),
        ("contact-language-0", "invalid"),
        ("contact-name-0", "missing"),
    }
    with pytest.raises(QuestionnaireError) as twice:
        do_add_contact(services, KEY, "rivera", ContactInput("Again", CONTACT["rivera"].upper()))
    assert [(p.question_id, p.check) for p in twice.value.problems] == [
        ("contact-email-0", "duplicate")
    ]
    with pytest.raises(QuestionnaireError) as unknown:
        do_replace_contact(services, KEY, "hale", "nobody@x.example", "new@x.example")
    assert unknown.value.check == "questionnaire.contact"
    with pytest.raises(QuestionnaireError) as taken:
        do_replace_contact(services, KEY, "rivera", CONTACT["rivera"], "policy@rivera2024.example")
    assert [(p.question_id, p.check) for p in taken.value.problems] == [
        ("contact-email-0", "duplicate")
    ]
    assert _rows(database) == before


def test_reminders_catch_up_with_one_reminder_per_run(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    setup_questionnaire(services, mailer, inbox)
    # both reminder days (7 and 2 days before) have come before the first run
    clock.current = DUE - datetime.timedelta(days=1)
    first = do_send_reminders(services, KEY, mailer, base_url=BASE_URL)
    assert first.sent == 5  # one reminder per contact of each of the four campaigns
    again = do_send_reminders(services, KEY, mailer, base_url=BASE_URL)
    assert (again.sent, again.skipped) == (0, 4)  # no second reminder for the missed day
    for address in CONTACT.values():
        reminders = [m for m in inbox.to(address) if subject(m).startswith("Reminder: ")]
        assert len(reminders) == 1, address
    status = {c.candidate_key: c for c in overview(services, KEY).campaigns}
    assert status["okafor"].reminders == 1


def test_a_link_sent_after_a_reminder_day_is_not_followed_by_that_day_s_reminder(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(DUE - datetime.timedelta(days=5))  # after the 7-day reminder
    services = Services(database, clock)
    setup_questionnaire(services, mailer, inbox)
    assert do_send_reminders(services, KEY, mailer, base_url=BASE_URL).sent == 0
    clock.current = DUE - datetime.timedelta(days=2)
    assert do_send_reminders(services, KEY, mailer, base_url=BASE_URL).sent == 5
