"""``unionvote serve --send-reminders``: the questionnaire's reminders and its "no response by
the due date" without cron. The scheduler runs the very services the ``remind`` command runs,
on the services' clock (a fixed clock here: nothing sleeps), through a real local SMTP server,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import json
import logging
import warnings
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
    body,
    setup_questionnaire,
    smtp_server,
    subject,
)
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from unionvote.errors import UnionVoteError
from unionvote.mail import SMTPMailer
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import do_decline, do_submit, overview
from unionvote.services.questionnaire_schedule import ReminderScheduler
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry
from unionvote.web.app import create_app
from unionvote.web.settings import WebSettings

FIRST_REMINDER_DAY = DUE - datetime.timedelta(days=7)  # 2024-02-23 23:59 UTC
ANSWERS = {"pro-act": "yes", "trade": "0", "pensions": "Keep the PBGC whole."}


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SMTPMailer]]:
    with smtp_server() as server:
        yield server


def _at(clock: FixedClock, when: datetime.datetime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


def _reminders(inbox: Inbox) -> list[str]:
    return [m["To"] for m in inbox.messages if subject(m).startswith(("Reminder", "Recordatorio"))]


def _audit(database: Database, action: str) -> list[AuditEntry]:
    with database.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def test_the_scheduler_reminds_daily_at_its_hour_once_and_catches_up_at_start(
    database: Database, smtp: tuple[Inbox, SMTPMailer], caplog: pytest.LogCaptureFixture
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    tokens = setup_questionnaire(services, mailer, inbox)
    scheduler = ReminderScheduler(services, mailer, base_url=BASE_URL, hour=9)

    # Before the first reminder day: nothing, whatever the hour, even at start-up.
    assert scheduler.run_due(startup=True) == ()
    _at(clock, START.replace(hour=9))
    assert scheduler.run_due() == ()
    assert _reminders(inbox) == []

    # The server starts at 08:00 the morning after the first reminder day: the start-up
    # catch-up, in the background thread, reminds every campaign's contacts at once.
    _at(clock, datetime.datetime(2024, 2, 24, 8, 0, tzinfo=datetime.UTC))
    caplog.set_level(logging.INFO, logger="unionvote.questionnaire.scheduler")
    scheduler.start()
    scheduler.stop()  # joins: the start-up run is done
    assert sorted(_reminders(inbox)) == sorted([*CONTACT.values(), "policy@rivera2024.example"])
    # The log names counts, never an address or a link.
    logged = caplog.text
    assert "reminders sent 5" in logged
    assert "/questionnaire/answer/" not in logged and "@" not in logged
    assert all(t not in logged for t in tokens.values())

    # Before the hour nothing more; at the hour the daily run goes, and sends nothing twice.
    _at(clock, datetime.datetime(2024, 2, 24, 8, 30, tzinfo=datetime.UTC))
    assert scheduler.run_due() == ()
    _at(clock, datetime.datetime(2024, 2, 24, 9, 0, tzinfo=datetime.UTC))
    (run,) = scheduler.run_due()
    assert run.reminders is not None and run.reminders.sent == 0
    assert run.reminders.reminded_already == 4
    _at(clock, datetime.datetime(2024, 2, 24, 15, 0, tzinfo=datetime.UTC))
    assert scheduler.run_due() == ()  # once a day
    _at(clock, datetime.datetime(2024, 2, 25, 9, 0, tzinfo=datetime.UTC))
    (run,) = scheduler.run_due()
    assert run.reminders is not None and run.reminders.sent == 0
    assert len(_reminders(inbox)) == 5

    # Rivera answers, Hale declines; after the second reminder day (2024-02-28 23:59) the
    # next daily run reminds the two others once.
    do_submit(services, tokens["rivera"], ANSWERS, None)
    do_decline(services, tokens["hale"], "", None)
    _at(clock, datetime.datetime(2024, 2, 29, 9, 5, tzinfo=datetime.UTC))
    (run,) = scheduler.run_due()
    assert run.reminders is not None and run.reminders.sent == 2
    assert sorted(_reminders(inbox)[5:]) == sorted([CONTACT["okafor"], CONTACT["brandt"]])
    # Each reminder carries a working link (the reminder mail is usable on its own).
    assert "/questionnaire/answer/" in body(inbox.to(CONTACT["okafor"])[-1])
    remind_actors = {e.actor for e in _audit(database, "questionnaire.remind")}
    assert remind_actors == {"scheduler"}


def test_the_scheduler_records_no_response_at_the_due_date_once(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    tokens = setup_questionnaire(services, mailer, inbox)
    do_submit(services, tokens["rivera"], ANSWERS, None)
    do_decline(services, tokens["hale"], "We do not fill in questionnaires.", None)
    scheduler = ReminderScheduler(services, mailer, base_url=BASE_URL, hour=9)

    _at(clock, DUE - datetime.timedelta(minutes=1))
    (run,) = scheduler.run_due()  # the day's reminders, to the two that have not answered
    assert run.no_response == () and run.reminders is not None and run.reminders.sent == 2
    assert _audit(database, "questionnaire.no-response") == []

    # The first wake after the due date (within the hour) records it, dated by the due date.
    _at(clock, DUE + datetime.timedelta(minutes=1))
    (run,) = scheduler.run_due()
    assert run.no_response == ("okafor", "brandt")
    _at(clock, DUE + datetime.timedelta(hours=5))
    assert scheduler.run_due() == ()  # once
    (entry,) = _audit(database, "questionnaire.no-response")
    assert entry.actor == "scheduler"
    assert json.loads(entry.detail)["no_response"] == ["okafor", "brandt"]
    statuses = {c.candidate_key: c for c in overview(services, KEY).campaigns}
    for key in ("okafor", "brandt"):
        assert statuses[key].status == "no-response"
        assert statuses[key].no_response_at == DUE
        recorded = [e for e in statuses[key].events if e.kind == "no-response"]
        assert [e.at for e in recorded] == [DUE]
    assert statuses["rivera"].status == "submitted" and statuses["rivera"].no_response_at is None
    assert statuses["hale"].status == "declined" and statuses["hale"].no_response_at is None
    assert len(_reminders(inbox)) == 2  # no reminder after the due date


def test_the_next_wake_is_the_next_whole_hour() -> None:
    at = datetime.datetime(2024, 2, 24, 8, 59, 59, tzinfo=datetime.UTC)
    assert ReminderScheduler.next_wake(at) == at.replace(hour=9, minute=0, second=0)
    on_the_hour = datetime.datetime(2024, 2, 24, 9, 0, tzinfo=datetime.UTC)
    assert ReminderScheduler.next_wake(on_the_hour) == on_the_hour.replace(hour=10)
    zoned = datetime.datetime(
        2024, 2, 24, 4, 30, tzinfo=datetime.timezone(-datetime.timedelta(hours=5))
    )
    assert ReminderScheduler.next_wake(zoned) == datetime.datetime(
        2024, 2, 24, 10, 0, tzinfo=datetime.UTC
    )


def test_the_hour_is_read_in_the_questionnaire_zone(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    """A questionnaire due at 18:59 UTC-05:00: the 9 o'clock run is at 14:00 UTC."""
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    text = QUESTIONNAIRE.read_text(encoding="utf-8")
    zoned = text.replace("due = 2024-03-01T23:59:00Z", "due = 2024-03-01T18:59:00-05:00")
    assert zoned != text
    setup_questionnaire(services, mailer, inbox, text=zoned)
    scheduler = ReminderScheduler(services, mailer, base_url=BASE_URL, hour=9)
    _at(clock, datetime.datetime(2024, 2, 24, 13, 0, tzinfo=datetime.UTC))  # 08:00 there
    assert scheduler.run_due() == ()
    _at(clock, datetime.datetime(2024, 2, 24, 14, 0, tzinfo=datetime.UTC))  # 09:00 there
    (run,) = scheduler.run_due()
    assert run.reminders is not None and run.reminders.sent == 5


def test_serve_runs_the_scheduler_for_its_lifetime(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    setup_questionnaire(services, mailer, inbox)
    _at(clock, datetime.datetime(2024, 2, 24, 8, 0, tzinfo=datetime.UTC))
    settings = WebSettings(
        dev=True,
        session_secret="a test secret that is long enough for the session",
        verify_board=False,
        smtp_host=mailer.host,
        smtp_port=mailer.port,
        smtp_timeout=5,
        public_url=BASE_URL,
        questionnaire_reminders=True,
    )
    app = create_app(settings, services=services)
    with TestClient(app):  # the server's lifetime: the scheduler starts, catches up, stops
        pass
    assert len(_reminders(inbox)) == 5
    assert BASE_URL + "/questionnaire/answer/" in body(inbox.to(CONTACT["hale"])[-1])
    # Without the setting, no scheduler.
    plain = create_app(
        settings.model_copy(update={"questionnaire_reminders": False}), services=services
    )
    assert plain.state.questionnaire_scheduler is None


@pytest.mark.parametrize(
    ("missing", "named"),
    [({"smtp_host": None}, "UNIONVOTE_SMTP_HOST"), ({"public_url": None}, "UNIONVOTE_PUBLIC_URL")],
)
def test_send_reminders_needs_the_mail_server_and_the_public_address(
    missing: dict[str, object], named: str
) -> None:
    values: dict[str, object] = {
        "dev": True,
        "smtp_host": "127.0.0.1",
        "public_url": BASE_URL,
        "questionnaire_reminders": True,
        **missing,
    }
    with pytest.raises(UnionVoteError, match=named):
        WebSettings(**values)  # type: ignore[arg-type]
