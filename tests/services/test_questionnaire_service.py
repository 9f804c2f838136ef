"""The candidate questionnaire on SQLite and PostgreSQL, with mail through a real SMTP server:
sending, every step tracked with its time, drafts, frozen submissions, declining, no response
by the due date, corrections as new versions, publication under each policy, the forum rule,
and every action in the audit log."""

from __future__ import annotations

import datetime
import hashlib
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
    body,
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
    do_close,
    do_decline,
    do_define_questionnaire,
    do_import_campaigns,
    do_open_correction,
    do_open_form,
    do_publish,
    do_record_bounce,
    do_save_draft,
    do_send_links,
    do_send_reminders,
    do_submit,
    endorsement_links,
    forum_eligible,
    overview,
    publication_view,
    published_questionnaire,
    questionnaires,
    require_answered,
)
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, QuestionnaireLink

ANSWERS = {"pro-act": "yes", "trade": "0", "pensions": "Restore the Butch Lewis Act guarantees."}


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SMTPMailer]]:
    with smtp_server() as server:
        yield server


def start(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> tuple[Services, FixedClock, dict[str, str]]:
    clock = FixedClock(START)
    services = Services(database, clock)
    inbox, mailer = smtp
    return services, clock, setup_questionnaire(services, mailer, inbox)


def actions(database: Database) -> list[tuple[str, str, str]]:
    with database.transaction() as session:
        return [
            (e.actor, e.action, e.subject)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def test_four_campaigns_from_link_to_publication(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    services, clock, tokens = start(database, smtp)

    # the emails: one per contact, each with its own link; rivera's Spanish contact in Spanish
    assert len(inbox.messages) == 5
    first = inbox.to(CONTACT["rivera"])[0]
    assert "2024 Presidential Candidate Questionnaire" in subject(first)
    assert f"{BASE_URL}/questionnaire/answer/{tokens['rivera']}" in body(first)
    spanish = inbox.to("policy@rivera2024.example")[0]
    assert spanish["Content-Language"] == "es"
    assert "Cuestionario para candidatos presidenciales 2024" in body(spanish)
    assert inbox.token("policy@rivera2024.example") == tokens["rivera"]  # one link per campaign
    assert len(set(tokens.values())) == 4
    with database.transaction() as session:  # only hashes are stored
        stored = set(session.scalars(select(QuestionnaireLink.token_hash)))
    assert hashlib.sha256(tokens["hale"].encode()).hexdigest() in stored
    assert not any(token in stored for token in tokens.values())

    # rivera opens the form, saves a draft, then submits
    clock.advance(days=1)
    form = do_open_form(services, tokens["rivera"], language="es")
    assert form.candidate_name == "Ana Rivera" and form.state == "open"
    assert form.questions[0].text == "¿Firmará la Ley PRO?"
    assert form.questions[2].max_words == 150
    assert [c.value for c in form.questions[1].choices] == ["0", "1", "2"]
    clock.advance(hours=1)
    saved = do_save_draft(services, tokens["rivera"], {"pro-act": "yes"})
    assert (saved.answered, saved.total) == (1, 3)
    assert do_open_form(services, tokens["rivera"]).answers["pro-act"] == "yes"
    clock.advance(hours=1)
    submission = do_submit(services, tokens["rivera"], ANSWERS, mailer)
    assert submission.version == 1
    assert set(submission.confirmation_to) == {CONTACT["rivera"], "policy@rivera2024.example"}
    confirmation = inbox.to(CONTACT["rivera"])[-1]
    assert subject(confirmation).startswith("We received your answers")
    assert submission.digest in body(confirmation)
    assert "Restore the Butch Lewis Act guarantees." in body(confirmation)
    assert "Recibimos las respuestas" in body(inbox.to("policy@rivera2024.example")[-1])

    # okafor answers too, without a draft
    do_open_form(services, tokens["okafor"])
    do_submit(services, tokens["okafor"], {"pro-act": "no", "trade": "2", "pensions": "x"}, None)
    # hale declines; brandt opens the form, saves a draft and never submits
    clock.advance(days=2)
    do_decline(services, tokens["hale"], "We do not answer questionnaires.", mailer)
    assert "declines" in subject(inbox.to(CONTACT["hale"])[-1])
    do_open_form(services, tokens["brandt"])
    do_save_draft(services, tokens["brandt"], {"pro-act": "no"})

    before = {c.candidate_key: c.status for c in overview(services, KEY).campaigns}
    assert before == {
        "rivera": "submitted",
        "hale": "declined",
        "okafor": "submitted",
        "brandt": "draft",
    }

    # the due date passes: brandt did not respond
    clock.current = DUE + datetime.timedelta(hours=1)
    assert do_close(services, KEY).no_response == ("brandt",)
    view = overview(services, KEY)
    status = {c.candidate_key: c for c in view.campaigns}
    assert status["brandt"].status == "no-response"
    assert status["brandt"].no_response_at == DUE  # dated by the due date, not the closing
    rivera = status["rivera"]
    assert rivera.sent_at == START
    assert rivera.opened_at == START + datetime.timedelta(days=1)
    assert rivera.draft_saved_at == START + datetime.timedelta(days=1, hours=1)
    assert rivera.submitted_at == START + datetime.timedelta(days=1, hours=2)
    assert [e.kind for e in rivera.events] == [
        "sent",
        "sent",
        "opened",
        "draft-saved",
        # opened again the same day: the first opening of a day only is recorded
        "submitted",
        "confirmation-sent",
        "confirmation-sent",
    ]
    assert status["hale"].declined_at == START + datetime.timedelta(days=3, hours=2)

    # the comparison, in English and Spanish, and the published file
    english = publication_view(services, KEY)
    shown = {c.key: c for c in english.candidates}
    assert {k: c.status for k, c in shown.items()} == {
        "rivera": "answered",
        "hale": "declined",
        "okafor": "answered",
        "brandt": "did-not-respond",
    }
    assert shown["rivera"].answers is not None
    assert [a.display for a in shown["rivera"].answers][:2] == [
        "Yes",
        "Enforceable labor standards in every trade agreement",
    ]
    assert shown["hale"].decline_reason == "We do not answer questionnaires."
    assert shown["brandt"].answers is None  # a draft is never published
    spanish_view = publication_view(services, KEY, language="es")
    answers = {c.key: c.answers for c in spanish_view.candidates}["rivera"]
    assert answers is not None and answers[0].display == "Sí"

    published = do_publish(services, KEY)
    assert published.name == "questionnaire-issues-2024.json"
    assert hashlib.sha256(published.content).hexdigest() == published.sha256
    document = json.loads(published.content)
    assert [(c["key"], c["status"]) for c in document["candidates"]] == [
        ("rivera", "answered"),
        ("hale", "declined"),
        ("okafor", "answered"),
        ("brandt", "did-not-respond"),
    ]
    assert {c["key"]: c.get("answers") for c in document["candidates"]}["rivera"] == ANSWERS
    assert published_questionnaire(services, KEY).sha256 == published.sha256
    assert [p.sha256 for p in endorsement_links(services)] == [published.sha256]
    assert questionnaires(services)[0].published_at == clock.current

    # the forum rule: only who answered
    assert set(forum_eligible(services, KEY)) == {"rivera", "okafor"}
    require_answered(services, KEY, "rivera")
    with pytest.raises(QuestionnaireError) as refused:
        require_answered(services, KEY, "hale")
    assert refused.value.check == "questionnaire.forum"

    # every action is in the audit log, the campaigns' under their own name
    log = actions(database)
    done = {(actor, action) for actor, action, _ in log}
    for expected in (
        ("committee", "questionnaire.define"),
        ("committee", "questionnaire.campaign.import"),
        ("committee", "questionnaire.send"),
        ("committee", "questionnaire.send.outcome"),
        ("campaign:rivera", "questionnaire.open"),
        ("campaign:rivera", "questionnaire.draft"),
        ("campaign:rivera", "questionnaire.submit"),
        ("campaign:hale", "questionnaire.decline"),
        ("committee", "questionnaire.close"),
        ("committee", "questionnaire.publish"),
    ):
        assert expected in done, expected
    assert not any(token in str(log) for token in tokens.values())


def test_reminders_go_to_who_has_not_answered(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    services, clock, tokens = start(database, smtp)
    do_submit(services, tokens["rivera"], ANSWERS, None)
    do_decline(services, tokens["hale"], "", None)

    nothing = do_send_reminders(services, KEY, mailer, base_url=BASE_URL)
    assert (nothing.sent, nothing.skipped) == (0, 4)  # no reminder day has come

    clock.current = DUE - datetime.timedelta(days=7)
    report = do_send_reminders(services, KEY, mailer, base_url=BASE_URL)
    assert (report.sent, report.skipped) == (2, 2)
    reminder = inbox.to(CONTACT["okafor"])[-1]
    assert subject(reminder).startswith("Reminder: ")
    assert not any("Reminder" in subject(m) for m in inbox.to(CONTACT["rivera"]))
    again = do_send_reminders(services, KEY, mailer, base_url=BASE_URL)
    assert again.sent == 0  # once per reminder day

    new_token = inbox.token(CONTACT["okafor"])
    assert new_token != tokens["okafor"]
    do_open_form(services, new_token)
    do_open_form(services, tokens["okafor"])  # the first link still works

    clock.current = DUE - datetime.timedelta(days=2)
    assert do_send_reminders(services, KEY, mailer, base_url=BASE_URL).sent == 2
    status = {c.candidate_key: c for c in overview(services, KEY).campaigns}
    assert status["okafor"].reminders == 2 and status["rivera"].reminders == 0


def test_a_refused_address_is_a_bounce(database: Database, smtp: tuple[Inbox, SMTPMailer]) -> None:
    inbox, mailer = smtp
    services = Services(database, FixedClock(START))
    do_define_questionnaire(services, QUESTIONNAIRE.read_text(encoding="utf-8"))
    inbox.refuse.add("nobody@gone.example")
    do_add_campaign(
        services,
        KEY,
        CampaignInput(
            "lopez",
            "Maria Lopez",
            "Independent",
            "President of the United States",
            (ContactInput("Ghost", "nobody@gone.example"),),
        ),
    )
    report = do_send_links(services, KEY, mailer, base_url=BASE_URL)
    assert (report.sent, report.bounced) == (0, 1)
    [campaign] = overview(services, KEY).campaigns
    assert campaign.status == "bounced" and campaign.bounced_at == START
    assert "550" in campaign.events[-1].detail

    # a bounce that comes back later, as a delivery status notification
    do_add_campaign(
        services,
        KEY,
        CampaignInput(
            "lopez",
            "Maria Lopez",
            "Independent",
            "President of the United States",
            (ContactInput("Press", "press@lopez.example"),),
        ),
    )
    report = do_send_links(services, KEY, mailer, base_url=BASE_URL, candidate="lopez")
    assert (report.sent, report.bounced) == (1, 0)  # the bounced address is no longer mailed
    do_record_bounce(services, KEY, "lopez", "press@lopez.example", "mailbox full")
    events = overview(services, KEY).campaigns[0].events
    assert events[-1].kind == "bounced" and "mailbox full" in events[-1].detail
    with pytest.raises(QuestionnaireError, match="not a contact"):
        do_record_bounce(services, KEY, "lopez", "other@x.example", "?")


def test_a_correction_is_a_new_visible_version(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    _, mailer = smtp
    services, clock, tokens = start(database, smtp)
    first = do_submit(services, tokens["rivera"], ANSWERS, None)
    clock.advance(days=1)
    with pytest.raises(QuestionnaireError, match="already"):
        do_open_correction(services, KEY, "okafor", "asked by phone")
    do_open_correction(services, KEY, "rivera", "the campaign asked to fix a typo")
    form = do_open_form(services, tokens["rivera"])
    assert form.state == "open" and form.correction_open and form.answers == ANSWERS
    corrected = dict(ANSWERS, pensions="Restore the Butch Lewis Act guarantees in full.")
    second = do_submit(services, tokens["rivera"], corrected, mailer)
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(QuestionnaireError) as refused:
        do_submit(services, tokens["rivera"], ANSWERS, None)
    assert refused.value.check == "questionnaire.submitted"

    shown = {c.key: c for c in publication_view(services, KEY).candidates}["rivera"]
    assert shown.version == 2
    assert [v.version for v in shown.earlier_versions] == [1]
    assert shown.earlier_versions[0].answers == ANSWERS
    assert shown.answers is not None and "in full" in shown.answers[2].display
    document = json.loads(do_publish(services, KEY, early=True).content)
    entry = {c["key"]: c for c in document["candidates"]}["rivera"]
    assert entry["version"] == 2 and entry["earlier_versions"][0]["answers_sha256"] == first.digest

    # a campaign that declined can be reopened and then answer
    do_decline(services, tokens["hale"], "", None)
    do_open_correction(services, KEY, "hale", "the campaign changed its mind")
    do_submit(services, tokens["hale"], ANSWERS, None)
    assert {c.key: c.status for c in publication_view(services, KEY).candidates}["hale"] == (
        "answered"
    )


def _policy(text: str, policy: str, version: int = 2) -> str:
    return text.replace('publication = "publish-all"', f'publication = "{policy}"').replace(
        "version = 1", f"version = {version}"
    )


def test_publication_policies(database: Database, smtp: tuple[Inbox, SMTPMailer]) -> None:
    inbox, mailer = smtp
    clock = FixedClock(START)
    services = Services(database, clock)
    text = QUESTIONNAIRE.read_text(encoding="utf-8")
    # The policy is set before the links go out (it cannot change after).
    do_define_questionnaire(services, _policy(text, "who-answered", 1))
    do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"))
    do_send_links(services, KEY, mailer, base_url=BASE_URL)
    tokens = {key: inbox.token(address) for key, address in CONTACT.items()}
    do_submit(services, tokens["rivera"], ANSWERS, None)
    do_decline(services, tokens["hale"], "no", None)

    assert {c.status for c in publication_view(services, KEY).candidates} >= {"awaiting"}
    assert do_open_form(services, tokens["okafor"]).policy == "who-answered"
    view = publication_view(services, KEY)
    assert view.policy == "who-answered"
    assert all(c.answers is None for c in view.candidates)
    assert {c.key: c.status for c in view.candidates}["rivera"] == "answered"
    document = json.loads(do_publish(services, KEY, early=True).content)
    assert all("answers" not in c for c in document["candidates"])
    committee = publication_view(services, KEY, committee=True)
    assert {c.key: c.answers for c in committee.candidates}["rivera"] is not None

    private = _policy(text, "private", 1).replace('key = "issues-2024"', 'key = "private-2024"')
    do_define_questionnaire(services, private)
    with pytest.raises(QuestionnaireError) as refused:
        publication_view(services, "private-2024")
    assert refused.value.check == "questionnaire.private"
    with pytest.raises(QuestionnaireError, match="private"):
        do_publish(services, "private-2024", early=True)
    assert publication_view(services, "private-2024", committee=True).policy == "private"


def test_a_new_version_may_not_change_the_questions_once_sent(
    database: Database, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    services, _, _ = start(database, smtp)
    text = QUESTIONNAIRE.read_text(encoding="utf-8")
    with pytest.raises(QuestionnaireError) as refused:
        do_define_questionnaire(services, text)
    assert refused.value.check == "questionnaire.version"
    changed = text.replace("version = 1", "version = 2").replace(
        "Will you sign the PRO Act into law?", "Will you sign the PRO Act?"
    )
    with pytest.raises(QuestionnaireError) as refused:
        do_define_questionnaire(services, changed)
    assert refused.value.check == "questionnaire.sent"
    later = text.replace("version = 1", "version = 2").replace(
        "due = 2024-03-01T23:59:00Z", "due = 2024-03-08T23:59:00Z"
    )
    defined = do_define_questionnaire(services, later)
    assert defined.version == 2 and defined.replaced
    assert overview(services, KEY).due_at == DUE + datetime.timedelta(days=7)
