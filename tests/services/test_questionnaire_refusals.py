"""Bad input to the questionnaire, on SQLite and PostgreSQL: an altered or expired link, a
second submission, an oversized answer, a post after the due date, a bad file or CSV — each
refused with a clear message naming what is wrong, and nothing changed (every table the
questionnaire writes, and the audit log, are compared before and after)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator

import pytest
from questionnaire_support import (
    BASE_URL,
    CAMPAIGNS,
    DUE,
    KEY,
    START,
    Inbox,
    setup_questionnaire,
    smtp_server,
)
from sqlalchemy import select

from unionvote.domain.questionnaire import QuestionnaireError
from unionvote.mail import SMTPMailer
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    CampaignInput,
    ContactInput,
    answer_form,
    do_add_campaign,
    do_close,
    do_decline,
    do_import_campaigns,
    do_open_form,
    do_save_draft,
    do_send_links,
    do_submit,
)
from unionvote.storage.database import Database
from unionvote.storage.models import (
    AuditEntry,
    QuestionnaireCampaign,
    QuestionnaireContact,
    QuestionnaireEvent,
    QuestionnaireLink,
    QuestionnairePublication,
    QuestionnaireResponse,
    QuestionnaireRow,
    QuestionnaireVersion,
)

ANSWERS = {"pro-act": "yes", "trade": "1", "pensions": "Protect them."}
TABLES = (
    AuditEntry,
    QuestionnaireRow,
    QuestionnaireVersion,
    QuestionnaireCampaign,
    QuestionnaireContact,
    QuestionnaireLink,
    QuestionnaireResponse,
    QuestionnaireEvent,
    QuestionnairePublication,
)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SMTPMailer]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def sent(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> tuple[Services, FixedClock, dict[str, str]]:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    return services, clock, setup_questionnaire(services, mailer, inbox)


def snapshot(database: Database) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with database.transaction() as session:
        for model in TABLES:
            columns = list(model.__table__.columns)
            rows = session.execute(select(*columns).order_by(columns[0])).all()
            out[model.__tablename__] = [tuple(row) for row in rows]
    return out


def refused(database: Database, check: str, action: Callable[[], object]) -> QuestionnaireError:
    """Run ``action``; it must be refused with ``check`` and change nothing."""
    before = snapshot(database)
    with pytest.raises(QuestionnaireError) as caught:
        action()
    assert caught.value.check == check, caught.value
    assert snapshot(database) == before
    return caught.value


def altered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_an_altered_or_made_up_link(
    database: Database, sent: tuple[Services, FixedClock, dict[str, str]]
) -> None:
    services, _, tokens = sent
    for token in (
        altered(tokens["rivera"]),
        "x" * 43,
        "",
        "../../etc/passwd",
        tokens["rivera"][:20],
    ):
        error = refused(database, "questionnaire.link", lambda t=token: do_open_form(services, t))
        assert "not valid" in error.detail and "whole link" in error.detail
        refused(
            database, "questionnaire.link", lambda t=token: do_submit(services, t, ANSWERS, None)
        )
        refused(database, "questionnaire.link", lambda t=token: do_decline(services, t, "", None))


def test_a_replaced_link_has_expired(
    database: Database,
    sent: tuple[Services, FixedClock, dict[str, str]],
    smtp: tuple[Inbox, SMTPMailer],
) -> None:
    inbox, mailer = smtp
    services, clock, tokens = sent
    clock.advance(days=1)
    do_send_links(services, KEY, mailer, base_url=BASE_URL, candidate="hale")
    error = refused(
        database, "questionnaire.expired", lambda: do_open_form(services, tokens["hale"])
    )
    assert "replaced by a newer one" in error.detail
    refused(
        database,
        "questionnaire.expired",
        lambda: do_save_draft(services, tokens["hale"], {"pro-act": "no"}),
    )
    do_open_form(services, inbox.token("outreach@hale2024.example"))  # the new one works


def test_a_second_submission(
    database: Database, sent: tuple[Services, FixedClock, dict[str, str]]
) -> None:
    services, clock, tokens = sent
    first = do_submit(services, tokens["rivera"], ANSWERS, None)
    clock.advance(hours=1)
    changed = dict(ANSWERS, **{"pro-act": "no"})
    error = refused(
        database,
        "questionnaire.submitted",
        lambda: do_submit(services, tokens["rivera"], changed, None),
    )
    assert "cannot be changed" in error.detail and "correction" in error.detail
    refused(
        database,
        "questionnaire.submitted",
        lambda: do_save_draft(services, tokens["rivera"], changed),
    )
    refused(
        database,
        "questionnaire.submitted",
        lambda: do_decline(services, tokens["rivera"], "", None),
    )
    form = do_open_form(services, tokens["rivera"])
    assert form.state == "submitted" and form.answers == ANSWERS
    assert [v.digest for v in form.submitted] == [first.digest]
    # and after declining, no answers
    do_decline(services, tokens["hale"], "", None)
    refused(
        database,
        "questionnaire.declined",
        lambda: do_submit(services, tokens["hale"], ANSWERS, None),
    )


def test_an_oversized_answer(
    database: Database, sent: tuple[Services, FixedClock, dict[str, str]]
) -> None:
    services, _, tokens = sent
    do_save_draft(services, tokens["okafor"], {"pro-act": "yes"})
    too_long = dict(ANSWERS, pensions="word " * 151)
    for action in (
        lambda: do_save_draft(services, tokens["okafor"], too_long),
        lambda: do_submit(services, tokens["okafor"], too_long, None),
    ):
        error = refused(database, "questionnaire.too-long", action)
        assert [(p.question_id, p.check) for p in error.problems] == [
            ("pensions", "questionnaire.too-long")
        ]
        assert error.detail == "Question 'pensions': The answer has 151 words; the limit is 150."
    huge = dict(ANSWERS, pensions="x" * 100_000)  # one "word", still too long
    refused(
        database,
        "questionnaire.too-long",
        lambda: do_submit(services, tokens["okafor"], huge, None),
    )
    reason = "no " * 201
    refused(
        database,
        "questionnaire.too-long",
        lambda: do_decline(services, tokens["okafor"], reason, None),
    )
    do_submit(
        services, tokens["okafor"], dict(ANSWERS, pensions="word " * 150), None
    )  # at the limit


def test_answers_that_do_not_fit_the_questions(
    database: Database, sent: tuple[Services, FixedClock, dict[str, str]]
) -> None:
    services, _, tokens = sent
    token = tokens["okafor"]
    error = refused(
        database,
        "questionnaire.answer",
        lambda: do_submit(services, token, dict(ANSWERS, trade="7"), None),
    )
    assert error.detail == "Question 'trade': The answer is not one of the 3 choices."
    refused(
        database,
        "questionnaire.answer",
        lambda: do_save_draft(services, token, {"pro-act": "maybe"}),
    )
    error = refused(
        database,
        "questionnaire.answer",
        lambda: do_save_draft(services, token, {"minimum-wage": "yes"}),
    )
    assert "Question 'minimum-wage': There is no such question." in error.detail
    error = refused(
        database,
        "questionnaire.incomplete",
        lambda: do_submit(services, token, {"pro-act": "yes"}, None),
    )
    assert {p.question_id for p in error.problems} == {"trade", "pensions"}


def test_a_post_after_the_due_date(
    database: Database, sent: tuple[Services, FixedClock, dict[str, str]]
) -> None:
    services, clock, tokens = sent
    form = do_open_form(services, tokens["okafor"])
    clock.current = form.due_at  # the due time itself is too late
    error = refused(
        database, "questionnaire.due", lambda: do_submit(services, tokens["okafor"], ANSWERS, None)
    )
    assert "March 1, 2024 at 23:59 UTC" in error.detail and "nothing was saved" in error.detail
    refused(
        database, "questionnaire.due", lambda: do_save_draft(services, tokens["okafor"], ANSWERS)
    )
    refused(database, "questionnaire.due", lambda: do_decline(services, tokens["okafor"], "", None))
    error = refused(
        database, "questionnaire.expired", lambda: do_open_form(services, tokens["okafor"])
    )
    assert "expired" in error.detail
    with smtp_server() as (_, mailer):
        refused(
            database,
            "questionnaire.due",
            lambda: do_send_links(services, KEY, mailer, base_url=BASE_URL, candidate="okafor"),
        )
    clock.current = DUE + datetime.timedelta(days=1)
    do_close(services, KEY)
    refused(database, "questionnaire.closed", lambda: do_close(services, KEY))


def test_closing_before_the_due_date(
    database: Database, sent: tuple[Services, FixedClock, dict[str, str]]
) -> None:
    services, _, _ = sent
    refused(database, "questionnaire.not-due", lambda: do_close(services, KEY))


def test_bad_campaigns_are_refused_whole(
    database: Database, sent: tuple[Services, FixedClock, dict[str, str]]
) -> None:
    services, _, _ = sent
    text = CAMPAIGNS.read_text(encoding="utf-8")
    bad = (
        text
        + "lopez,Maria Lopez,Independent,,Ann,not-an-address,en\n"
        + "Bad Key,X,Y,,Bo,bo@x.example,fr\n"
    )
    error = refused(
        database,
        "questionnaire.csv",
        lambda: do_import_campaigns(services, KEY, bad, source="c.csv"),
    )
    assert "c.csv:7: lopez" in error.detail and "'not-an-address' is not an email" in error.detail
    assert "c.csv:8" in error.detail and "language 'fr'" in error.detail
    refused(
        database,
        "questionnaire.csv",
        lambda: do_import_campaigns(services, KEY, "key,name\nx,y\n", source="c.csv"),
    )
    refused(
        database,
        "questionnaire.campaign",
        lambda: do_add_campaign(
            services,
            KEY,
            CampaignInput("new", "", "Green", "President", (ContactInput("A", "a@b.example"),)),
        ),
    )
    refused(
        database,
        "questionnaire.unknown",
        lambda: do_add_campaign(
            services,
            "no-such",
            CampaignInput("new", "N", "Green", "President", (ContactInput("A", "a@b.example"),)),
        ),
    )
    with smtp_server() as (_, mailer):
        refused(
            database,
            "questionnaire.base-url",
            lambda: do_send_links(services, KEY, mailer, base_url="vote.example.org"),
        )


def test_showing_the_form_again_records_nothing(
    database: Database, sent: tuple[Services, FixedClock, dict[str, str]]
) -> None:
    services, _, tokens = sent
    before = snapshot(database)
    form = answer_form(services, tokens["okafor"], language="es")
    assert form.candidate_name == "Grace Okafor" and form.state == "open"
    assert snapshot(database) == before
    refused(
        database, "questionnaire.link", lambda: answer_form(services, altered(tokens["okafor"]))
    )
