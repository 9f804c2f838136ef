"""Fixes from the questionnaire's review, on SQLite and PostgreSQL: members read the
*published* file (not the live answers) until the next publication; publishing before the due
date needs the committee to say so; the publication policy cannot change once links were sent
or the comparison was published, and the campaign's form names it."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator

import pytest
from questionnaire_support import (
    BASE_URL,
    CAMPAIGNS,
    CONTACT,
    DUE,
    KEY,
    QUESTIONNAIRE,
    START,
    Inbox,
    smtp_server,
)
from questionnaire_support import setup_questionnaire as setup
from test_questionnaire_refusals import refused

from unionvote.mail import SMTPMailer
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    do_close,
    do_define_questionnaire,
    do_import_campaigns,
    do_open_correction,
    do_open_form,
    do_publish,
    do_send_links,
    do_submit,
    overview,
    published_view,
)
from unionvote.storage.database import Database

ANSWERS = {"pro-act": "yes", "trade": "0", "pensions": "Restore the Butch Lewis Act."}


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SMTPMailer]]:
    with smtp_server() as server:
        yield server


def _pensions(services: Services, language: str = "en") -> tuple[int, str]:
    view = published_view(services, KEY, language=language)
    rivera = {c.key: c for c in view.candidates}["rivera"]
    assert rivera.answers is not None
    return rivera.version, rivera.answers[2].display


def test_members_read_the_published_version_until_the_next_publication(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    tokens = setup(services, mailer, inbox)
    do_submit(services, tokens["rivera"], ANSWERS, None)
    refused(database, "questionnaire.not-published", lambda: published_view(services, KEY))

    # Before the due date publishing is refused unless the committee says it is on purpose.
    error = refused(database, "questionnaire.early", lambda: do_publish(services, KEY))
    assert "publish after the due date" in error.detail
    clock.advance(hours=1)
    first = do_publish(services, KEY, early=True)

    clock.advance(hours=1)
    do_open_correction(services, KEY, "rivera", "a typo")
    do_submit(services, tokens["rivera"], dict(ANSWERS, pensions="Corrected in full."), None)
    # The correction is not what members read: the published file is, with its date.
    view = published_view(services, KEY)
    assert view.published is not None and view.published.sha256 == first.sha256
    assert view.published.published_at == START + datetime.timedelta(hours=1)
    assert _pensions(services) == (1, "Restore the Butch Lewis Act.")
    shown = {c.key: c.status for c in view.candidates}
    assert shown == {
        "rivera": "answered",
        "hale": "awaiting",
        "okafor": "awaiting",
        "brandt": "awaiting",
    }
    spanish = published_view(services, KEY, language="es")
    assert spanish.questions[0].text == "¿Firmará la Ley PRO?"
    rivera_es = {c.key: c for c in spanish.candidates}["rivera"]
    assert rivera_es.answers is not None and rivera_es.answers[0].display == "Sí"

    # After the due date the committee publishes again: now members read version 2.
    clock.current = DUE + datetime.timedelta(hours=1)
    do_close(services, KEY)
    second = do_publish(services, KEY)
    assert second.sha256 != first.sha256
    assert _pensions(services) == (2, "Corrected in full.")
    view = published_view(services, KEY)
    rivera = {c.key: c for c in view.candidates}["rivera"]
    assert [v.version for v in rivera.earlier_versions] == [1]
    assert {c.key: c.status for c in view.candidates}["brandt"] == "did-not-respond"
    assert json.loads(second.content)["published_at"] == "2024-03-02T00:59:00Z"


def _with(text: str, policy: str, version: int) -> str:
    return text.replace('publication = "publish-all"', f'publication = "{policy}"').replace(
        "version = 1", f"version = {version}"
    )


def test_the_policy_is_fixed_once_links_are_sent_and_the_form_names_it(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    text = QUESTIONNAIRE.read_text(encoding="utf-8")
    # Before any link is sent the committee may still change its mind.
    do_define_questionnaire(services, _with(text, "who-answered", 1))
    tokens = setup_again(services, mailer, inbox, _with(text, "publish-all", 2))
    assert do_open_form(services, tokens["rivera"]).policy == "publish-all"
    for policy in ("who-answered", "private"):
        error = refused(
            database,
            "questionnaire.sent",
            lambda policy=policy: do_define_questionnaire(services, _with(text, policy, 3)),
        )
        assert "publication policy" in error.detail
    # Other changes are still allowed.
    later = _with(text, "publish-all", 3).replace(
        "due = 2024-03-01T23:59:00Z", "due = 2024-03-08T23:59:00Z"
    )
    assert do_define_questionnaire(services, later).version == 3


def setup_again(services: Services, mailer: SMTPMailer, inbox: Inbox, text: str) -> dict[str, str]:
    """The example campaigns and links after a redefinition (version 2) of the file."""
    do_define_questionnaire(services, text)
    do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"))
    do_send_links(services, KEY, mailer, base_url=BASE_URL)
    return {key: inbox.token(address) for key, address in CONTACT.items()}


def test_the_policy_is_fixed_once_published(database: Database) -> None:
    services = Services(database, FixedClock(START))
    text = QUESTIONNAIRE.read_text(encoding="utf-8")
    do_define_questionnaire(services, text)
    do_publish(services, KEY, early=True)
    refused(
        database,
        "questionnaire.sent",
        lambda: do_define_questionnaire(services, _with(text, "private", 2)),
    )


def test_a_temporary_mail_failure_is_sent_again(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    services = Services(database, FixedClock(START))
    do_define_questionnaire(services, QUESTIONNAIRE.read_text(encoding="utf-8"))
    do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"))
    inbox.defer.add(CONTACT["okafor"])  # the relay says "try again later", once
    first = do_send_links(services, KEY, mailer, base_url=BASE_URL)
    assert (first.sent, first.failed) == (4, 1)
    assert not inbox.to(CONTACT["okafor"])
    okafor = {c.candidate_key: c for c in overview(services, KEY).campaigns}["okafor"]
    assert okafor.status == "not-sent" and [e.kind for e in okafor.events] == ["send-failed"]

    again = do_send_links(services, KEY, mailer, base_url=BASE_URL)
    assert (again.sent, again.failed, again.skipped) == (1, 0, 3)  # only okafor
    token = inbox.token(CONTACT["okafor"])
    assert do_open_form(services, token).candidate_key == "okafor"
    okafor = {c.candidate_key: c for c in overview(services, KEY).campaigns}["okafor"]
    assert [e.kind for e in okafor.events] == ["send-failed", "sent", "opened"]
    assert do_send_links(services, KEY, mailer, base_url=BASE_URL).sent == 0
