"""The candidate questionnaire (issue 6): define it, enter the campaigns, send each a personal
link by email, remind, track every step with its time, take the answers through the link,
freeze them on submission, and publish the comparison the endorsement record links to.

The personal link is ``BASE/questionnaire/answer/<token>``: a 256-bit random token shown once,
in the email; only its SHA-256 is stored (``questionnaire_links``), so the database cannot
answer for a campaign. ``do_send_links`` sends the first link of every campaign not yet sent,
or, for one campaign, a new link that replaces (revokes) its earlier ones. A reminder carries a
new link too (the reminder must be usable on its own) but leaves the earlier ones valid. Every
link stops working at the due date.

Answers are frozen on submission: a submitted response never changes. A correction is opened by
the committee (``do_open_correction``, with its reason in the audit log) and is a new version;
every earlier version stays visible on the comparison.

Every action writes its audit entry in its own transaction; campaigns act as
``campaign:<key>``. A refused action raises :class:`QuestionnaireError` and changes nothing.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from unionvote.authority.bounces import read_bounces
from unionvote.domain.process import Problem
from unionvote.domain.questionnaire import (
    CHOICE,
    PRIVATE,
    PUBLISH_ALL,
    TEXT,
    AnswerProblem,
    Question,
    Questionnaire,
    QuestionnaireError,
    answers_digest,
    canonical_json,
    check_answers,
    count_words,
    has_control_characters,
    parse_questionnaire,
    zone_label,
)
from unionvote.mail import Mail, Mailer, MailError
from unionvote.services.context import Services, Tx
from unionvote.storage.models import (
    QuestionnaireCampaign,
    QuestionnaireContact,
    QuestionnaireEvent,
    QuestionnaireLink,
    QuestionnairePublication,
    QuestionnaireResponse,
    QuestionnaireRow,
    QuestionnaireVersion,
)

__all__ = [
    "ANSWER_PATH",
    "REPLACED_LINK",
    "AnswerForm",
    "BounceReport",
    "CampaignInput",
    "CampaignStatus",
    "ChoiceView",
    "Closed",
    "ContactInput",
    "ContactStatus",
    "Declined",
    "Defined",
    "DefinitionPreview",
    "Event",
    "ImportedCampaigns",
    "Overview",
    "Publication",
    "PublishedAnswer",
    "PublishedCandidate",
    "PublishedQuestionnaire",
    "QuestionView",
    "QuestionnaireError",
    "QuestionnaireSummary",
    "RecordedBounce",
    "SavedDraft",
    "SendReport",
    "Submission",
    "SubmittedVersion",
    "answer_form",
    "check_decline",
    "definition_text",
    "do_add_campaign",
    "do_add_contact",
    "do_close",
    "do_decline",
    "do_define_questionnaire",
    "do_import_campaigns",
    "do_mark_no_response",
    "do_open_correction",
    "do_open_form",
    "do_publish",
    "do_record_bounce",
    "do_record_bounces",
    "do_replace_contact",
    "do_save_draft",
    "do_send_links",
    "do_send_reminders",
    "do_submit",
    "endorsement_links",
    "forum_eligible",
    "overview",
    "preview_definition",
    "publication_view",
    "published_questionnaire",
    "published_view",
    "questionnaires",
    "require_answered",
    "submitted_versions",
    "token_hash",
]

ANSWER_PATH: Final = "/questionnaire/answer/"
PUBLICATION_FORMAT: Final = "unionvote-questionnaire-publication/1"
MAX_DECLINE_WORDS: Final = 200
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LANGUAGES = ("en", "es")

REPLACED_LINK: Final = "This link was replaced by a newer one"
LINK_NOT_VALID = (
    "This questionnaire link is not valid. Check that you copied the whole link from the "
    "email, or ask the committee to send a new one."
)

# -- the views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceView:
    value: str
    label: str


@dataclass(frozen=True)
class QuestionView:
    id: str
    kind: str
    text: str
    help: str
    required: bool
    max_words: int | None
    choices: tuple[ChoiceView, ...]


@dataclass(frozen=True)
class SubmittedVersion:
    version: int
    submitted_at: datetime.datetime
    answers: Mapping[str, str]
    digest: str


@dataclass(frozen=True)
class AnswerForm:
    questionnaire_key: str
    title: str
    introduction: str
    questionnaire_version: int
    due_at: datetime.datetime
    candidate_key: str
    candidate_name: str
    party: str
    office: str
    questions: tuple[QuestionView, ...]
    state: str
    answers: Mapping[str, str]
    draft_saved_at: datetime.datetime | None
    submitted: tuple[SubmittedVersion, ...]
    declined_at: datetime.datetime | None
    decline_reason: str
    correction_open: bool
    policy: str  # the publication policy, shown on the form before the campaign answers
    zone: datetime.timezone = datetime.UTC  # the due date's offset: times shown in it


@dataclass(frozen=True)
class SavedDraft:
    saved_at: datetime.datetime
    answered: int
    total: int


@dataclass(frozen=True)
class Submission:
    version: int
    submitted_at: datetime.datetime
    digest: str
    confirmation_to: tuple[str, ...]


@dataclass(frozen=True)
class Declined:
    declined_at: datetime.datetime


@dataclass(frozen=True)
class ContactInput:
    name: str
    email: str
    language: str = "en"


@dataclass(frozen=True)
class CampaignInput:
    key: str
    name: str
    party: str
    office: str
    contacts: tuple[ContactInput, ...]


@dataclass(frozen=True)
class Defined:
    key: str
    version: int
    title: str
    due_at: datetime.datetime
    digest: str
    replaced: bool
    zone: datetime.timezone = datetime.UTC  # the questionnaire's: its times are shown in it


@dataclass(frozen=True)
class ImportedCampaigns:
    added: int
    updated: int


@dataclass(frozen=True)
class SendReport:
    sent: int
    bounced: int
    failed: int
    skipped: int
    # Reminders only: of ``skipped``, the campaigns that wait because no reminder day has come
    # yet, and those already mailed since the latest reminder day; the next reminder day.
    not_due_yet: int = 0
    reminded_already: int = 0
    next_reminder_at: datetime.datetime | None = None
    zone: datetime.timezone = datetime.UTC  # the questionnaire's: its times are shown in it


@dataclass(frozen=True)
class Closed:
    no_response: tuple[str, ...]


@dataclass(frozen=True)
class QuestionnaireSummary:
    key: str
    title: str
    version: int
    due_at: datetime.datetime
    policy: str
    campaigns: int
    submitted: int
    declined: int
    published_at: datetime.datetime | None
    zone: datetime.timezone = datetime.UTC
    closed_at: datetime.datetime | None = None
    reminder_times: tuple[datetime.datetime, ...] = ()  # when reminders are due, earliest first


@dataclass(frozen=True)
class Event:
    at: datetime.datetime
    kind: str
    detail: str


@dataclass(frozen=True)
class ContactStatus:
    """A campaign contact as the committee sees it; ``bounced_at``: when a mail to this
    address was refused for good (then it is no longer mailed)."""

    name: str
    email: str
    language: str
    bounced_at: datetime.datetime | None


@dataclass(frozen=True)
class CampaignStatus:
    candidate_key: str
    name: str
    party: str
    office: str
    contacts: tuple[str, ...]
    status: str
    sent_at: datetime.datetime | None
    bounced_at: datetime.datetime | None
    opened_at: datetime.datetime | None
    draft_saved_at: datetime.datetime | None
    submitted_at: datetime.datetime | None
    declined_at: datetime.datetime | None
    no_response_at: datetime.datetime | None
    reminders: int
    response_version: int
    events: tuple[Event, ...]
    contact_details: tuple[ContactStatus, ...] = ()
    correction_open: bool = False


@dataclass(frozen=True)
class Overview:
    key: str
    title: str
    version: int
    due_at: datetime.datetime
    policy: str
    forum_rule: bool
    campaigns: tuple[CampaignStatus, ...]
    zone: datetime.timezone = datetime.UTC  # the due date's offset: times shown in it


@dataclass(frozen=True)
class PublishedAnswer:
    question_id: str
    value: str
    display: str


@dataclass(frozen=True)
class PublishedCandidate:
    key: str
    name: str
    party: str
    office: str
    status: str
    submitted_at: datetime.datetime | None
    declined_at: datetime.datetime | None
    decline_reason: str
    version: int
    earlier_versions: tuple[SubmittedVersion, ...]
    answers: tuple[PublishedAnswer, ...] | None
    # The answers of each earlier version, as shown (parallel to ``earlier_versions``).
    earlier_answers: tuple[tuple[PublishedAnswer, ...], ...] = ()


@dataclass(frozen=True)
class PublishedQuestionnaire:
    key: str
    title: str
    name: str
    content: bytes
    sha256: str
    published_at: datetime.datetime
    zone: datetime.timezone = datetime.UTC  # the questionnaire's: its times are shown in it
    title_es: str = ""  # the title in Spanish, if the file translates it

    def __repr__(self) -> str:
        return f"PublishedQuestionnaire({self.name!r}, sha256={self.sha256!r})"

    def title_in(self, language: str) -> str:
        """The title in ``language`` (the members' list of published comparisons)."""
        return (self.title_es or self.title) if language == "es" else self.title


@dataclass(frozen=True)
class Publication:
    key: str
    title: str
    introduction: str
    version: int
    due_at: datetime.datetime
    policy: str
    language: str
    questions: tuple[QuestionView, ...]
    candidates: tuple[PublishedCandidate, ...]
    published: PublishedQuestionnaire | None
    # When an earlier publication is shown (by its SHA-256): the latest one, which replaced it.
    newer: PublishedQuestionnaire | None = None
    zone: datetime.timezone = datetime.UTC  # the due date's offset: times shown in it


# -- helpers ------------------------------------------------------------------------------------

_PARSED: dict[str, Questionnaire] = {}


def _parsed(row: QuestionnaireRow) -> Questionnaire:
    cached = _PARSED.get(row.digest)
    if cached is None:
        cached = parse_questionnaire(row.text, source=f"{row.key} version {row.version}")
        _PARSED[row.digest] = cached
    return cached


def _questionnaire(
    session: Session, key: str, *, for_update: bool = False
) -> tuple[QuestionnaireRow, Questionnaire]:
    query = select(QuestionnaireRow).where(QuestionnaireRow.key == key)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise QuestionnaireError("questionnaire.unknown", f"there is no questionnaire {key!r}")
    return row, _parsed(row)


def _campaign(session: Session, row: QuestionnaireRow, key: str) -> QuestionnaireCampaign:
    campaign = session.scalar(
        select(QuestionnaireCampaign).where(
            QuestionnaireCampaign.questionnaire_id == row.id, QuestionnaireCampaign.key == key
        )
    )
    if campaign is None:
        raise QuestionnaireError(
            "questionnaire.unknown", f"questionnaire {row.key!r} has no campaign {key!r}"
        )
    return campaign


def _campaigns(session: Session, row: QuestionnaireRow) -> list[QuestionnaireCampaign]:
    return list(
        session.scalars(
            select(QuestionnaireCampaign)
            .where(QuestionnaireCampaign.questionnaire_id == row.id)
            .order_by(QuestionnaireCampaign.id)
        )
    )


def _contacts(session: Session, campaign: QuestionnaireCampaign) -> list[QuestionnaireContact]:
    return list(
        session.scalars(
            select(QuestionnaireContact)
            .where(QuestionnaireContact.campaign_id == campaign.id)
            .order_by(QuestionnaireContact.id)
        )
    )


def _responses(session: Session, campaign: QuestionnaireCampaign) -> list[QuestionnaireResponse]:
    return list(
        session.scalars(
            select(QuestionnaireResponse)
            .where(QuestionnaireResponse.campaign_id == campaign.id)
            .order_by(QuestionnaireResponse.version)
        )
    )


def _events(session: Session, campaign: QuestionnaireCampaign) -> list[QuestionnaireEvent]:
    return list(
        session.scalars(
            select(QuestionnaireEvent)
            .where(QuestionnaireEvent.campaign_id == campaign.id)
            .order_by(QuestionnaireEvent.at, QuestionnaireEvent.id)
        )
    )


def _event(tx: Tx, campaign: QuestionnaireCampaign, kind: str, detail: str = "") -> None:
    tx.session.add(QuestionnaireEvent(campaign_id=campaign.id, at=tx.at, kind=kind, detail=detail))


def _submitted(responses: Sequence[QuestionnaireResponse]) -> list[SubmittedVersion]:
    return [
        SubmittedVersion(r.version, r.submitted_at, json.loads(r.answers), r.digest or "")
        for r in responses
        if r.status == "submitted" and r.submitted_at is not None
    ]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", errors="replace")).hexdigest()


_MONTHS_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def when(at: datetime.datetime, language: str = "en", zone: datetime.tzinfo = datetime.UTC) -> str:
    """A time as an email says it: "March 1, 2024 at 23:59 UTC" / "1 de marzo de 2024…", in
    ``zone`` (the questionnaire's: the offset its due date was written with), named."""
    at = at.astimezone(zone)
    label = zone_label(zone)
    if language == "es":
        return f"{at.day} de {_MONTHS_ES[at.month - 1]} de {at:%Y} a las {at:%H:%M} {label}"
    return f"{at:%B} {at.day}, {at:%Y} at {at:%H:%M} {label}"


def _row_when(row: QuestionnaireRow, at: datetime.datetime) -> str:
    """A time in a refusal or a record: in the questionnaire's zone, named."""
    return when(at, "en", _parsed(row).zone)


def _question_views(q: Questionnaire, language: str) -> tuple[QuestionView, ...]:
    return tuple(
        QuestionView(
            id=question.id,
            kind=question.kind,
            text=q.translated(question.text, language),
            help=q.translated(question.help, language),
            required=question.required,
            max_words=question.max_words,
            choices=tuple(
                ChoiceView(str(i), q.translated(choice, language))
                for i, choice in enumerate(question.choices)
            ),
        )
        for question in q.questions
    )


@dataclass(frozen=True)
class DefinitionPreview:
    """A questionnaire file as a campaign will see it, in one language, before it is saved.
    ``current_version``: the version saved now under the same key (0: a new questionnaire)."""

    key: str
    version: int
    title: str
    introduction: str
    office: str
    due_at: datetime.datetime
    policy: str
    language: str
    questions: tuple[QuestionView, ...]
    current_version: int
    zone: datetime.timezone = datetime.UTC


def preview_definition(
    services: Services, text: str, *, language: str = "en", source: str = "<questionnaire>"
) -> DefinitionPreview:
    """Check a questionnaire file and show its questions as the answer form will, without
    saving anything. Raises ``QuestionnaireFileError`` (every problem with its line) like
    ``do_define_questionnaire``."""
    parsed = parse_questionnaire(text, source=source)
    with services.transaction() as tx:
        current = tx.session.scalar(
            select(QuestionnaireRow.version).where(QuestionnaireRow.key == parsed.key)
        )
    return DefinitionPreview(
        key=parsed.key,
        version=parsed.version,
        title=parsed.translated(parsed.title, language),
        introduction=parsed.translated(parsed.introduction, language),
        office=parsed.translated(parsed.office, language),
        due_at=parsed.due,
        policy=parsed.publication,
        language=language,
        questions=_question_views(parsed, language),
        current_version=current or 0,
        zone=parsed.zone,
    )


def definition_text(services: Services, key: str) -> tuple[int, str]:
    """The current version of a questionnaire and its file's text, as saved."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key)
        return row.version, row.text


# -- defining -----------------------------------------------------------------------------------


def do_define_questionnaire(
    services: Services, text: str, *, source: str = "<questionnaire>"
) -> Defined:
    """Define a questionnaire from its file, or replace its definition by a higher version.

    Once links were sent, a new version may change the due date, the reminders, the forum
    rule and the translations, but not the questions nor the publication policy: a campaign
    answered knowing the policy (its form says it), and a stricter policy would leave the
    file already published public. Once the comparison was published the policy is fixed
    too."""
    parsed = parse_questionnaire(text, source=source)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with services.transaction() as tx:
        row = tx.session.scalar(
            select(QuestionnaireRow).where(QuestionnaireRow.key == parsed.key).with_for_update()
        )
        replaced = row is not None
        if row is None:
            row = QuestionnaireRow(key=parsed.key, defined_at=tx.at)
            tx.session.add(row)
        else:
            if parsed.version <= row.version:
                raise QuestionnaireError(
                    "questionnaire.version",
                    f"questionnaire {parsed.key!r} is at version {row.version}: a new "
                    f"definition needs a higher version (this file says {parsed.version})",
                )
            if row.closed_at is not None:
                raise QuestionnaireError(
                    "questionnaire.closed",
                    f"questionnaire {parsed.key!r} was closed on {_row_when(row, row.closed_at)}",
                )
            if row.first_sent_at is not None and (_parsed(row).comparable() != parsed.comparable()):
                raise QuestionnaireError(
                    "questionnaire.sent",
                    f"links to questionnaire {parsed.key!r} were sent on "
                    f"{_row_when(row, row.first_sent_at)}: a new version may change the due date, "
                    "reminders and translations, not the questions nor the publication "
                    "policy (the campaigns answered knowing it)",
                )
            published = _latest_publication(tx.session, row)
            if published is not None and parsed.due > row.due_at:
                raise QuestionnaireError(
                    "questionnaire.published",
                    f"questionnaire {parsed.key!r} was published on "
                    f"{_row_when(row, published.published_at)}: its due date can no longer move "
                    "later (campaigns would answer with their rivals' answers already published)",
                )
            if published is not None and parsed.publication != row.policy:
                raise QuestionnaireError(
                    "questionnaire.sent",
                    f"questionnaire {parsed.key!r} was published on "
                    f"{_row_when(row, published.published_at)} under the policy "
                    f"{row.policy!r}: the policy can no longer change",
                )
        row.version, row.title, row.text, row.digest = parsed.version, parsed.title, text, digest
        row.due_at, row.policy, row.defined_at = parsed.due, parsed.publication, tx.at
        tx.session.flush()
        tx.session.add(
            QuestionnaireVersion(
                questionnaire_id=row.id,
                version=parsed.version,
                text=text,
                digest=digest,
                defined_at=tx.at,
            )
        )
        tx.audit(
            "questionnaire.define",
            parsed.key,
            version=parsed.version,
            sha256=digest,
            due=parsed.due.isoformat(),
            policy=parsed.publication,
            questions=len(parsed.questions),
            replaced=replaced,
        )
    return Defined(
        parsed.key, parsed.version, parsed.title, parsed.due, digest, replaced, parsed.zone
    )


# -- campaigns ----------------------------------------------------------------------------------


def _contact_problems(
    campaign_key: str, contact: ContactInput, index: int, known: set[str]
) -> list[AnswerProblem]:
    """What is wrong with one contact, each problem naming its field (``contact-name-<i>``,
    ``contact-email-<i>``, ``contact-language-<i>``) and a check (missing, invalid, duplicate).
    ``known``: the addresses already listed for the campaign (lower case); added to."""
    problems: list[AnswerProblem] = []
    email = contact.email.strip()
    if not email:
        problems.append(
            AnswerProblem(
                f"contact-email-{index}",
                "missing",
                f"campaign {campaign_key!r}: an address is missing",
            )
        )
    elif not _EMAIL.fullmatch(email) or len(email) > 320 or has_control_characters(email):
        problems.append(
            AnswerProblem(
                f"contact-email-{index}",
                "invalid",
                f"campaign {campaign_key!r}: {contact.email!r} is not an email address",
            )
        )
    elif email.lower() in known:
        problems.append(
            AnswerProblem(
                f"contact-email-{index}",
                "duplicate",
                f"campaign {campaign_key!r}: a contact's address is listed twice",
            )
        )
    known.add(email.lower())
    if contact.language not in _LANGUAGES:
        problems.append(
            AnswerProblem(
                f"contact-language-{index}",
                "invalid",
                f"campaign {campaign_key!r}: language {contact.language!r} "
                f"(expected {' or '.join(_LANGUAGES)})",
            )
        )
    if not contact.name.strip():
        problems.append(
            AnswerProblem(
                f"contact-name-{index}",
                "missing",
                f"campaign {campaign_key!r}: a contact's name is missing",
            )
        )
    elif has_control_characters(contact.name):
        problems.append(
            AnswerProblem(
                f"contact-name-{index}",
                "invalid",
                f"campaign {campaign_key!r}: a contact's name holds a control character",
            )
        )
    elif len(contact.name) > 200:
        problems.append(
            AnswerProblem(
                f"contact-name-{index}",
                "too-long",
                f"campaign {campaign_key!r}: a contact's name is over 200 characters",
            )
        )
    return problems


def _campaign_field_problems(
    campaign: CampaignInput, parties: Sequence[str] = ()
) -> list[AnswerProblem]:
    """Every problem of a campaign, each naming its field (``key``, ``name``, ``party``,
    ``office``, or a contact's field) for a form to show it beside that field. ``parties``:
    the questionnaire file's list, if it gives one: the party must be one of them."""
    problems: list[AnswerProblem] = []
    if not _KEY.fullmatch(campaign.key):
        problems.append(
            AnswerProblem(
                "key",
                "invalid",
                f"campaign key {campaign.key!r}: use lower-case letters, digits and hyphens",
            )
        )
    for name, value, limit in (
        ("name", campaign.name, 200),
        ("party", campaign.party, 100),
        ("office", campaign.office, 200),
    ):
        if not value.strip():
            problems.append(
                AnswerProblem(name, "missing", f"campaign {campaign.key!r}: the {name} is missing")
            )
        elif has_control_characters(value):
            problems.append(
                AnswerProblem(
                    name,
                    "invalid",
                    f"campaign {campaign.key!r}: the {name} holds a control character",
                )
            )
        elif len(value) > limit:
            problems.append(
                AnswerProblem(
                    name,
                    "too-long",
                    f"campaign {campaign.key!r}: the {name} is over {limit} characters",
                )
            )
    party = campaign.party.strip()
    if parties and party and party not in parties:
        problems.append(
            AnswerProblem(
                "party",
                "unknown-party",
                f"campaign {campaign.key!r}: unknown party {party!r} (the questionnaire's "
                f"file lists: {', '.join(parties)})",
            )
        )
    known: set[str] = set()
    for index, contact in enumerate(campaign.contacts):
        problems.extend(_contact_problems(campaign.key, contact, index, known))
    return problems


def _campaign_problems(campaign: CampaignInput, parties: Sequence[str] = ()) -> list[str]:
    return [p.message for p in _campaign_field_problems(campaign, parties)]


def _upsert(tx: Tx, row: QuestionnaireRow, campaign: CampaignInput) -> bool:
    """Add the campaign or update it (name, party, office; contacts added). True if added."""
    existing = tx.session.scalar(
        select(QuestionnaireCampaign).where(
            QuestionnaireCampaign.questionnaire_id == row.id,
            QuestionnaireCampaign.key == campaign.key,
        )
    )
    added = existing is None
    if existing is None:
        existing = QuestionnaireCampaign(
            questionnaire_id=row.id,
            key=campaign.key,
            state="open",
            correction_open=False,
            decline_reason="",
            created_at=tx.at,
        )
        tx.session.add(existing)
    existing.name = campaign.name.strip()
    existing.party = campaign.party.strip()
    existing.office = campaign.office.strip()
    tx.session.flush()
    known = {c.email.lower() for c in _contacts(tx.session, existing)}
    new_contacts = []
    for contact in campaign.contacts:
        email = contact.email.strip()
        if email.lower() not in known:
            known.add(email.lower())
            new_contacts.append(email)
            tx.session.add(
                QuestionnaireContact(
                    campaign_id=existing.id,
                    name=contact.name.strip(),
                    email=email,
                    language=contact.language,
                )
            )
    tx.audit(
        "questionnaire.campaign.add" if added else "questionnaire.campaign.update",
        f"{row.key}/{campaign.key}",
        name=existing.name,
        party=existing.party,
        office=existing.office,
        contacts_added=len(new_contacts),
    )
    return added


def _open_for_campaigns(row: QuestionnaireRow, at: datetime.datetime) -> None:
    if row.closed_at is not None or at >= row.due_at:
        raise QuestionnaireError(
            "questionnaire.due",
            f"questionnaire {row.key!r} was due on {_row_when(row, row.due_at)}: no campaign "
            "can be added or sent a link now",
        )


def do_add_campaign(services: Services, key: str, campaign: CampaignInput) -> str:
    """Enter a candidate's campaign (or update it: its contacts are added to). An empty
    ``office`` is the questionnaire's."""
    with services.transaction() as tx:
        row, q = _questionnaire(tx.session, key, for_update=True)
        _open_for_campaigns(row, tx.at)
        if not campaign.office.strip():
            campaign = replace(campaign, office=q.office)
        problems = _campaign_field_problems(campaign, q.parties)
        if problems:
            raise QuestionnaireError(
                "questionnaire.campaign", "; ".join(p.message for p in problems), problems
            )
        _upsert(tx, row, campaign)
    return campaign.key


def _bounced_at(events: Sequence[QuestionnaireEvent], email: str) -> datetime.datetime | None:
    """When a mail to ``email`` was first refused for good ("bounced" events name the address
    first: ``address`` or ``address: detail``)."""
    address = email.strip().lower()
    bounced: datetime.datetime | None = None
    for event in events:
        if event.kind in ("bounced", "bounce-cleared"):
            named = event.detail.split(": ", 1)[0].strip().lower()
            if named != address:
                continue
            if event.kind == "bounce-cleared":
                bounced = None  # the committee says the address works again
            elif bounced is None:
                bounced = event.at
    return bounced


def _mailable(session: Session, campaign: QuestionnaireCampaign) -> list[QuestionnaireContact]:
    """The contacts that are mailed: every one whose address has not bounced."""
    events = _events(session, campaign)
    return [c for c in _contacts(session, campaign) if _bounced_at(events, c.email) is None]


def _sent_to(session: Session, campaign: QuestionnaireCampaign) -> set[str]:
    """The addresses (lower case) a link mail to the campaign was accepted for."""
    return {
        e.detail.strip().lower()
        for e in session.scalars(
            select(QuestionnaireEvent).where(
                QuestionnaireEvent.campaign_id == campaign.id, QuestionnaireEvent.kind == "sent"
            )
        )
    }


def do_add_contact(services: Services, key: str, candidate: str, contact: ContactInput) -> None:
    """Add a contact to a campaign; the next ``do_send_links`` mails them a link (the
    campaign's other contacts keep theirs)."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key, for_update=True)
        _open_for_campaigns(row, tx.at)
        campaign = _campaign(tx.session, row, candidate)
        known = {c.email.lower() for c in _contacts(tx.session, campaign)}
        problems = _contact_problems(candidate, contact, 0, known)
        if problems:
            raise QuestionnaireError(
                "questionnaire.contact", "; ".join(p.message for p in problems), problems
            )
        email = contact.email.strip()
        tx.session.add(
            QuestionnaireContact(
                campaign_id=campaign.id,
                name=contact.name.strip(),
                email=email,
                language=contact.language,
            )
        )
        _event(tx, campaign, "contact-added", email)
        tx.audit(
            "questionnaire.contact.add",
            f"{key}/{candidate}",
            email=email,
            language=contact.language,
        )


def do_replace_contact(
    services: Services,
    key: str,
    candidate: str,
    email: str,
    new_email: str,
    *,
    detail: str = "",
) -> None:
    """Replace a contact's address (one that bounced, or is wrong) with a new one: the old
    address is recorded as bounced and no longer mailed; the next ``do_send_links`` mails the
    new address a link. The contact keeps its name and language. The same address again, when
    it is recorded as bounced, clears the bounce (``bounce-cleared``, audited): the address
    works again and is mailed from now on."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key, for_update=True)
        campaign = _campaign(tx.session, row, candidate)
        contacts = _contacts(tx.session, campaign)
        old = email.strip().lower()
        contact = next((c for c in contacts if c.email.lower() == old), None)
        if contact is None:
            raise QuestionnaireError(
                "questionnaire.contact",
                f"{email!r} is not a contact of campaign {candidate!r}",
                (AnswerProblem("email", "unknown", f"{email!r} is not a contact"),),
            )
        known = {c.email.lower() for c in contacts if c is not contact}
        problems = _contact_problems(
            candidate, ContactInput(contact.name, new_email, contact.language), 0, known
        )
        if not problems and new_email.strip().lower() == old:
            if _bounced_at(_events(tx.session, campaign), contact.email) is not None:
                # The same address again: it works again (a relay misconfiguration, a
                # mistaken "bounced"); it is mailed from now on.
                _event(tx, campaign, "bounce-cleared", f"{contact.email}: {detail.strip()}")
                tx.audit(
                    "questionnaire.contact.clear-bounce",
                    f"{key}/{candidate}",
                    email=contact.email,
                    detail=detail.strip(),
                )
                return
            problems = [AnswerProblem("contact-email-0", "same", "the new address is the old one")]
        if problems:
            raise QuestionnaireError(
                "questionnaire.contact", "; ".join(p.message for p in problems), problems
            )
        previous = contact.email
        if _bounced_at(_events(tx.session, campaign), previous) is None:
            _event(tx, campaign, "bounced", f"{previous}: {detail.strip() or 'replaced'}")
        contact.email = new_email.strip()
        _event(tx, campaign, "contact-replaced", f"{previous} → {contact.email}")
        tx.audit(
            "questionnaire.contact.replace",
            f"{key}/{candidate}",
            email=previous,
            new_email=contact.email,
            detail=detail.strip(),
        )


_CSV_COLUMNS = ("key", "name", "party", "office", "contact_name", "contact_email", "language")


def parse_campaigns_csv(
    csv_text: str, *, office: str = "", source: str = "<csv>", parties: Sequence[str] = ()
) -> list[CampaignInput]:
    """Campaigns from a CSV file (one row per contact; rows of the same key are one campaign).
    Columns: key, name, party, office (optional: the questionnaire's), contact_name,
    contact_email, language (optional: en). Raises listing every problem with its line."""
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    header = tuple(reader.fieldnames or ())
    required = ("key", "name", "party", "contact_name", "contact_email")
    missing = [c for c in required if c not in header]
    if missing:
        raise QuestionnaireError(
            "questionnaire.csv", f"{source}:1: missing column(s): {', '.join(missing)}"
        )
    unknown = [c for c in header if c not in _CSV_COLUMNS]
    if unknown:
        raise QuestionnaireError(
            "questionnaire.csv",
            f"{source}:1: unknown column(s): {', '.join(unknown)} "
            f"(expected {', '.join(_CSV_COLUMNS)})",
        )
    problems: list[Problem] = []
    grouped: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for record in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in record.items() if k is not None}
        if None in record:
            problems.append(Problem(line, "row", "more fields than columns"))
            continue
        grouped.setdefault(values.get("key", ""), []).append((line, values))
    campaigns: list[CampaignInput] = []
    for ckey, rows in grouped.items():
        line, first = rows[0]
        for other_line, other in rows[1:]:
            for column in ("name", "party", "office"):
                if other.get(column, "") != first.get(column, ""):
                    problems.append(
                        Problem(other_line, column, f"differs from line {line} for {ckey!r}")
                    )
        campaign = CampaignInput(
            key=ckey,
            name=first.get("name", ""),
            party=first.get("party", ""),
            office=first.get("office", "") or office,
            contacts=tuple(
                ContactInput(
                    values.get("contact_name", ""),
                    values.get("contact_email", ""),
                    values.get("language", "") or "en",
                )
                for _, values in rows
            ),
        )
        problems.extend(
            Problem(line, ckey or "key", p) for p in _campaign_problems(campaign, parties)
        )
        campaigns.append(campaign)
    if problems:
        lines = [f"{source}:{p.line}: {p.field}: {p.message}" for p in problems]
        raise QuestionnaireError(
            "questionnaire.csv", f"{len(lines)} problem(s) in {source}\n" + "\n".join(lines)
        )
    if not campaigns:
        raise QuestionnaireError("questionnaire.csv", f"{source} lists no campaign")
    return campaigns


def do_import_campaigns(
    services: Services, key: str, csv_text: str, *, source: str = "<csv>"
) -> ImportedCampaigns:
    """Import campaigns from CSV: all of them, or none if any row has a problem."""
    with services.transaction() as tx:
        row, parsed = _questionnaire(tx.session, key, for_update=True)
        _open_for_campaigns(row, tx.at)
        campaigns = parse_campaigns_csv(
            csv_text, office=parsed.office, source=source, parties=parsed.parties
        )
        added = sum(_upsert(tx, row, campaign) for campaign in campaigns)
        tx.audit(
            "questionnaire.campaign.import",
            key,
            source=source,
            added=added,
            updated=len(campaigns) - added,
        )
    return ImportedCampaigns(added, len(campaigns) - added)


# -- sending ------------------------------------------------------------------------------------


def _base(base_url: str) -> str:
    base = base_url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", base):
        raise QuestionnaireError(
            "questionnaire.base-url",
            f"{base_url!r} is not the website's address (expected https://host or http://host)",
        )
    return base


@dataclass(frozen=True)
class _Outgoing:
    campaign_id: int
    campaign_key: str
    mails: tuple[Mail, ...]


def _link_mail(
    q: Questionnaire,
    campaign: QuestionnaireCampaign,
    contact: QuestionnaireContact,
    url: str,
    *,
    reminder: bool,
) -> Mail:
    es = contact.language == "es"
    if es:
        url += "?lang=es"  # the form opens in the email's language
    title = q.translated(q.title, contact.language)
    due = when(q.due, contact.language, q.zone)
    if es:
        subject = f"{'Recordatorio: ' if reminder else ''}{title} (fecha límite: {due})"
        text = (
            f"Estimado/a {contact.name}:\n\n"
            f"{'Le recordamos que aún no hemos recibido' if reminder else 'Le enviamos'} "
            f"el cuestionario «{title}» para la campaña de {campaign.name}.\n\n"
            f"Responda aquí (no necesita cuenta; puede guardar un borrador):\n{url}\n\n"
            f"Fecha límite: {due}. También puede indicar en el formulario que la campaña "
            "no responderá.\n\n"
            "Este enlace es personal de su campaña: quien lo tenga puede responder en su "
            "nombre. No lo reenvíe fuera de la campaña.\n"
        )
    else:
        subject = f"{'Reminder: ' if reminder else ''}{title} (due {due})"
        text = (
            f"Dear {contact.name},\n\n"
            + (
                f"This is a reminder: we have not yet received {campaign.name}'s answers to "
                f'"{title}".\n\n'
                if reminder
                else f'We ask {campaign.name}\'s campaign to answer "{title}".\n\n'
            )
            + f"Answer here (no account needed; you can save a draft):\n{url}\n\n"
            f"The answers are due by {due}. You can also tell us on the form that the "
            "campaign declines to answer.\n\n"
            "This link is personal to your campaign: anyone who has it can answer for it. "
            "Please do not forward it outside the campaign.\n"
        )
    return Mail(to=contact.email, subject=subject, text=text, language=contact.language)


def _deliver(
    services: Services, key: str, outgoing: Sequence[_Outgoing], mailer: Mailer, kind: str
) -> tuple[int, int, int]:
    """Send the mails, then record each outcome with its time (one transaction)."""
    outcomes: list[tuple[int, str, str, str]] = []  # campaign id, kind, email, detail
    for item in outgoing:
        for mail in item.mails:
            try:
                mailer.send(mail)
                outcomes.append((item.campaign_id, kind, mail.to, ""))
            except MailError as error:
                outcomes.append(
                    (
                        item.campaign_id,
                        # Only a refusal of the address is a bounce; a relay that refuses
                        # the sender, the login or the message is tried again next time.
                        "bounced" if error.permanent and error.recipient else "send-failed",
                        mail.to,
                        error.detail,
                    )
                )
    with services.transaction() as tx:
        for campaign_id, what, email, detail in outcomes:
            tx.session.add(
                QuestionnaireEvent(
                    campaign_id=campaign_id,
                    at=services.clock.now(),
                    kind=what,
                    detail=f"{email}: {detail}" if detail else email,
                )
            )
        counts = {k: sum(1 for o in outcomes if o[1] == k) for k in (kind, "bounced")}
        failed = sum(1 for o in outcomes if o[1] == "send-failed")
        tx.audit(
            f"questionnaire.{'remind' if kind == 'reminded' else 'send'}.outcome",
            key,
            delivered=counts[kind],
            bounced=counts["bounced"],
            failed=failed,
        )
    return counts[kind], counts["bounced"], failed


def _new_link(tx: Tx, campaign: QuestionnaireCampaign, base: str, *, revoke: bool) -> str:
    if revoke:
        for link in tx.session.scalars(
            select(QuestionnaireLink).where(
                QuestionnaireLink.campaign_id == campaign.id,
                QuestionnaireLink.revoked_at.is_(None),
            )
        ):
            link.revoked_at = tx.at
    token = secrets.token_urlsafe(32)
    tx.session.add(
        QuestionnaireLink(
            campaign_id=campaign.id, token_hash=token_hash(token), issued_at=tx.at, revoked_at=None
        )
    )
    return f"{base}{ANSWER_PATH}{token}"


def _latest_link_delivered(session: Session, campaign: QuestionnaireCampaign) -> bool:
    """Whether a mail carrying the campaign's latest valid link was accepted (a link or a
    reminder sent since it was issued); True when the campaign has a valid link that is not
    its latest."""
    links = list(
        session.scalars(
            select(QuestionnaireLink)
            .where(QuestionnaireLink.campaign_id == campaign.id)
            .order_by(QuestionnaireLink.id)
        )
    )
    if not links:
        return False
    latest = links[-1]
    if any(link.revoked_at is None for link in links[:-1]):
        return True  # an earlier link still works (a reminder's link need not be delivered)
    return any(
        e.kind in ("sent", "reminded") and e.at >= latest.issued_at
        for e in _events(session, campaign)
    )


def _has_link(session: Session, campaign: QuestionnaireCampaign) -> bool:
    count = session.scalar(
        select(func.count())
        .select_from(QuestionnaireLink)
        .where(QuestionnaireLink.campaign_id == campaign.id)
    )
    return bool(count)


def _may_answer(campaign: QuestionnaireCampaign) -> bool:
    return campaign.state == "open" or campaign.correction_open


def do_send_links(
    services: Services,
    key: str,
    mailer: Mailer,
    *,
    base_url: str,
    candidate: str | None = None,
) -> SendReport:
    """Email each campaign not yet sent a personal link; with ``candidate``, send that
    campaign a new link that replaces its earlier ones (a lost or leaked link)."""
    base = _base(base_url)
    outgoing: list[_Outgoing] = []
    skipped = 0
    with services.transaction() as tx:
        row, q = _questionnaire(tx.session, key, for_update=True)
        _open_for_campaigns(row, tx.at)
        if candidate is not None:
            chosen = [_campaign(tx.session, row, candidate)]
            if not _may_answer(chosen[0]):
                raise QuestionnaireError(
                    "questionnaire.submitted",
                    f"campaign {candidate!r} has {chosen[0].state} already: open a "
                    "correction first if it should answer again",
                )
        else:
            # Every campaign with a contact no link has reached yet: never sent, only
            # temporary failures ("send-failed") so far — a campaign is never stranded by a
            # mail server's hiccup —, or a contact added or an address replaced since.
            chosen = [c for c in _campaigns(tx.session, row) if _may_answer(c)]
            skipped = len(_campaigns(tx.session, row)) - len(chosen)
        for campaign in chosen:
            contacts = _mailable(tx.session, campaign)
            sent_to = _sent_to(tx.session, campaign) if candidate is None else set()
            if sent_to and not _latest_link_delivered(tx.session, campaign):
                # A new link (a resend) that reached nobody revoked the earlier ones: the
                # campaign has no working link, so it is sent one again.
                sent_to = set()
            unsent = [c for c in contacts if c.email.lower() not in sent_to]
            if not unsent:
                skipped += 1
                continue
            # A new link replaces any earlier one that was never delivered (in a bulk send)
            # or a lost or leaked one (for one candidate); a contact added or replaced after
            # the campaign got its link gets a link of its own, the others' keep working.
            url = _new_link(tx, campaign, base, revoke=not sent_to)
            mails = tuple(_link_mail(q, campaign, c, url, reminder=False) for c in unsent)
            outgoing.append(_Outgoing(campaign.id, campaign.key, mails))
        if outgoing and row.first_sent_at is None:
            row.first_sent_at = tx.at
        tx.audit(
            "questionnaire.send",
            key,
            campaigns=[o.campaign_key for o in outgoing],
            replaces_earlier=candidate is not None,
            skipped=skipped,
        )
    sent, bounced, failed = _deliver(services, key, outgoing, mailer, "sent")
    return SendReport(sent, bounced, failed, skipped, zone=q.zone)


def do_send_reminders(services: Services, key: str, mailer: Mailer, *, base_url: str) -> SendReport:
    """Remind every campaign that has not submitted or declined, once per reminder day that
    has come (``reminders`` in the file). A run that comes after several reminder days sends
    one reminder, not one per day missed (catch-up): a campaign is reminded when nothing was
    mailed to it (link or reminder) since the latest reminder day that has come. A reminder
    carries a new link; earlier links stay valid."""
    base = _base(base_url)
    outgoing: list[_Outgoing] = []
    skipped = not_due_yet = reminded_already = 0
    with services.transaction() as tx:
        row, q = _questionnaire(tx.session, key, for_update=True)
        _open_for_campaigns(row, tx.at)
        come = [at for at in q.reminder_times() if at <= tx.at]
        latest = max(come) if come else None
        upcoming = [at for at in q.reminder_times() if at > tx.at]
        next_at = min(upcoming) if upcoming else None
        for campaign in _campaigns(tx.session, row):
            events = _events(tx.session, campaign)
            mailed_since = latest is not None and any(
                e.kind in ("sent", "reminded") and e.at >= latest for e in events
            )
            contacts = _mailable(tx.session, campaign)
            if (
                campaign.state != "open"
                or not contacts
                or not _has_link(tx.session, campaign)
                or latest is None
                or mailed_since
            ):
                skipped += 1
                if campaign.state == "open" and contacts and _has_link(tx.session, campaign):
                    if latest is None:
                        not_due_yet += 1
                    else:
                        reminded_already += 1
                continue
            url = _new_link(tx, campaign, base, revoke=False)
            mails = tuple(_link_mail(q, campaign, c, url, reminder=True) for c in contacts)
            outgoing.append(_Outgoing(campaign.id, campaign.key, mails))
        tx.audit(
            "questionnaire.remind",
            key,
            campaigns=[o.campaign_key for o in outgoing],
            skipped=skipped,
            not_due_yet=not_due_yet,
            reminded_already=reminded_already,
        )
    sent, bounced, failed = _deliver(services, key, outgoing, mailer, "reminded")
    return SendReport(
        sent,
        bounced,
        failed,
        skipped,
        not_due_yet,
        reminded_already,
        next_reminder_at=next_at,
        zone=q.zone,
    )


def do_record_bounce(services: Services, key: str, candidate: str, email: str, detail: str) -> None:
    """Record a bounce that came back later (a delivery status notification)."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key)
        campaign = _campaign(tx.session, row, candidate)
        if email.strip().lower() not in {c.email.lower() for c in _contacts(tx.session, campaign)}:
            raise QuestionnaireError(
                "questionnaire.contact", f"{email!r} is not a contact of campaign {candidate!r}"
            )
        _event(tx, campaign, "bounced", f"{email.strip()}: {detail.strip()}")
        tx.audit("questionnaire.bounce", f"{key}/{candidate}", email=email.strip())


@dataclass(frozen=True, slots=True)
class RecordedBounce:
    candidate_key: str
    email: str
    at: datetime.datetime  # the notification's own date (the time of reading if it has none)
    detail: str


@dataclass(frozen=True, slots=True)
class BounceReport:
    notifications: int  # messages that were delivery-status notifications naming a failure
    recorded: tuple[RecordedBounce, ...]
    already: int  # bounces of an address already recorded as bounced (nothing new)
    unmatched: tuple[str, ...]  # addresses that are no contact of any campaign
    zone: datetime.timezone = datetime.UTC  # the questionnaire's: its times are shown in it


def do_record_bounces(services: Services, key: str, mailbox: Path) -> BounceReport:
    """Read the delivery-status notifications in an mbox file or maildir (the credential
    authority's parser) and record each bounced contact of ``key``'s campaigns, dated by the
    notification itself, audited. An address already recorded as bounced is left as it is, so
    reading the same mailbox again records nothing new. Raises ``AuthorityError``
    (``bounces.mailbox``) for a path that is no mbox file or maildir, with nothing recorded."""
    found = [(number, bounces) for number, bounces in read_bounces(mailbox) if bounces]
    recorded: list[RecordedBounce] = []
    unmatched: list[str] = []
    already = 0
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key, for_update=True)
        by_address: dict[str, list[tuple[QuestionnaireCampaign, QuestionnaireContact]]] = {}
        for campaign in _campaigns(tx.session, row):
            for contact in _contacts(tx.session, campaign):
                by_address.setdefault(contact.email.strip().lower(), []).append((campaign, contact))
        for number, bounces in found:
            for bounce in bounces:
                matches = by_address.get(bounce.address.strip().lower())
                if not matches:
                    if bounce.address not in unmatched:
                        unmatched.append(bounce.address)
                    continue
                at = (bounce.notified_at or tx.at).astimezone(datetime.UTC)
                for campaign, contact in matches:
                    if _bounced_at(_events(tx.session, campaign), contact.email) is not None:
                        already += 1
                        continue
                    tx.session.add(
                        QuestionnaireEvent(
                            campaign_id=campaign.id,
                            at=at,
                            kind="bounced",
                            detail=f"{contact.email}: {bounce.detail}",
                        )
                    )
                    tx.session.flush()
                    tx.audit(
                        "questionnaire.bounce",
                        f"{key}/{campaign.key}",
                        email=contact.email,
                        notified_at=at.isoformat(),
                        notice=number,
                        source="delivery-status notification",
                    )
                    recorded.append(RecordedBounce(campaign.key, contact.email, at, bounce.detail))
    return BounceReport(
        len(found), tuple(recorded), already, tuple(unmatched), zone=_parsed(row).zone
    )


# -- the campaign's form ------------------------------------------------------------------------


def _by_token(
    tx: Tx, token: str
) -> tuple[QuestionnaireRow, Questionnaire, QuestionnaireCampaign, QuestionnaireLink]:
    if not _TOKEN.fullmatch(token):
        raise QuestionnaireError("questionnaire.link", LINK_NOT_VALID)
    link = tx.session.scalar(
        select(QuestionnaireLink).where(QuestionnaireLink.token_hash == token_hash(token))
    )
    if link is None:
        raise QuestionnaireError("questionnaire.link", LINK_NOT_VALID)
    campaign = tx.session.get(QuestionnaireCampaign, link.campaign_id, with_for_update=True)
    assert campaign is not None
    row = tx.session.get(QuestionnaireRow, campaign.questionnaire_id)
    assert row is not None
    tx.actor = f"campaign:{campaign.key}"
    if link.revoked_at is not None:
        raise QuestionnaireError(
            "questionnaire.expired",
            f"{REPLACED_LINK} on {_row_when(row, link.revoked_at)}. Use "
            "the link in the latest email from the committee.",
            at=link.revoked_at,
            zone=_parsed(row).zone,
        )
    return row, _parsed(row), campaign, link


def _not_due(row: QuestionnaireRow, at: datetime.datetime, *, opening: bool) -> None:
    if at >= row.due_at or row.closed_at is not None:
        if opening:
            raise QuestionnaireError(
                "questionnaire.expired",
                f"This link expired: the questionnaire was due on {_row_when(row, row.due_at)}.",
                at=row.due_at,
                zone=_parsed(row).zone,
            )
        raise QuestionnaireError(
            "questionnaire.due",
            f"The questionnaire was due on {_row_when(row, row.due_at)}: answers are no longer "
            "accepted, and nothing was saved.",
            at=row.due_at,
            zone=_parsed(row).zone,
        )


def _refuse_if_frozen(
    row: QuestionnaireRow, campaign: QuestionnaireCampaign, session: Session
) -> None:
    if campaign.correction_open:
        return
    if campaign.state == "submitted":
        submitted = _submitted(_responses(session, campaign))
        at = submitted[-1].submitted_at if submitted else None
        raise QuestionnaireError(
            "questionnaire.submitted",
            f"These answers were submitted{f' on {_row_when(row, at)}' if at else ''} and cannot "
            "be changed. To correct them, ask the committee to open a correction.",
            at=at,
            zone=_parsed(row).zone,
        )
    if campaign.state == "declined":
        raise QuestionnaireError(
            "questionnaire.declined",
            f"The campaign declined to answer"
            f"{f' on {_row_when(row, campaign.declined_at)}' if campaign.declined_at else ''}. "
            "To answer after all, ask the committee to reopen the questionnaire for you.",
            at=campaign.declined_at,
            zone=_parsed(row).zone,
        )


def _form(
    session: Session,
    row: QuestionnaireRow,
    q: Questionnaire,
    campaign: QuestionnaireCampaign,
    language: str,
) -> AnswerForm:
    responses = _responses(session, campaign)
    submitted = tuple(_submitted(responses))
    draft = next((r for r in responses if r.status == "draft"), None)
    if draft is not None and _may_answer(campaign):
        answers: Mapping[str, str] = json.loads(draft.answers)
    elif submitted:
        answers = submitted[-1].answers
    else:
        answers = {}
    state = "open" if _may_answer(campaign) else campaign.state
    return AnswerForm(
        questionnaire_key=row.key,
        title=q.translated(q.title, language),
        introduction=q.translated(q.introduction, language),
        questionnaire_version=row.version,
        due_at=row.due_at,
        candidate_key=campaign.key,
        candidate_name=campaign.name,
        party=q.translated(campaign.party, language),
        office=q.translated(campaign.office, language),
        questions=_question_views(q, language),
        state=state,
        answers=dict(answers),
        draft_saved_at=draft.saved_at if draft is not None else None,
        submitted=submitted,
        declined_at=campaign.declined_at if campaign.state == "declined" else None,
        decline_reason=campaign.decline_reason if campaign.state == "declined" else "",
        correction_open=campaign.correction_open,
        policy=row.policy,
        zone=q.zone,
    )


def do_open_form(services: Services, token: str, *, language: str = "en") -> AnswerForm:
    """The answer form for the campaign the link belongs to; records that it was opened: the
    first opening of each day (in the questionnaire's zone) only, so that reloading the form or
    switching its language is not counted again (``opened`` says on which days the campaign
    looked at the form, and when first)."""
    with services.transaction() as tx:
        row, q, campaign, _ = _by_token(tx, token)
        _not_due(row, tx.at, opening=True)
        today = tx.at.astimezone(q.zone).date()
        opened = tx.session.scalars(
            select(QuestionnaireEvent.at).where(
                QuestionnaireEvent.campaign_id == campaign.id, QuestionnaireEvent.kind == "opened"
            )
        )
        if all(at.astimezone(q.zone).date() != today for at in opened):
            _event(tx, campaign, "opened")
            tx.audit("questionnaire.open", f"{row.key}/{campaign.key}")
        form = _form(tx.session, row, q, campaign, language)
    return form


def answer_form(services: Services, token: str, *, language: str = "en") -> AnswerForm:
    """The same form as :func:`do_open_form` without recording an opening (to show the form
    again beside a refusal). Raises as ``do_open_form`` does."""
    with services.transaction() as tx:
        row, q, campaign, _ = _by_token(tx, token)
        _not_due(row, tx.at, opening=True)
        return _form(tx.session, row, q, campaign, language)


def _draft_row(
    tx: Tx, row: QuestionnaireRow, campaign: QuestionnaireCampaign
) -> QuestionnaireResponse:
    responses = _responses(tx.session, campaign)
    draft = next((r for r in responses if r.status == "draft"), None)
    if draft is None:
        draft = QuestionnaireResponse(
            campaign_id=campaign.id,
            version=len(responses) + 1,
            questionnaire_version=row.version,
            status="draft",
            answers="{}",
            saved_at=tx.at,
            submitted_at=None,
            digest=None,
        )
        tx.session.add(draft)
    return draft


def do_save_draft(services: Services, token: str, answers: Mapping[str, str]) -> SavedDraft:
    """Save the campaign's answers so far (any question may be blank; each is checked)."""
    with services.transaction() as tx:
        row, q, campaign, _ = _by_token(tx, token)
        _not_due(row, tx.at, opening=False)
        _refuse_if_frozen(row, campaign, tx.session)
        checked = check_answers(q, answers, complete=False)
        draft = _draft_row(tx, row, campaign)
        draft.answers = json.dumps(checked, sort_keys=True, ensure_ascii=False)
        draft.saved_at, draft.questionnaire_version = tx.at, row.version
        answered = sum(1 for v in checked.values() if v)
        _event(tx, campaign, "draft-saved", f"{answered} of {len(checked)} answered")
        tx.audit(
            "questionnaire.draft",
            f"{row.key}/{campaign.key}",
            version=draft.version,
            answered=answered,
        )
    return SavedDraft(tx.at, answered, len(checked))


def _confirmation(
    services: Services,
    mailer: Mailer,
    campaign_id: int,
    mails: Sequence[Mail],
    subject: str = "",
    what: str = "",
) -> None:
    outcomes: list[tuple[str, str]] = []
    for mail in mails:
        try:
            mailer.send(mail)
            outcomes.append(("confirmation-sent", mail.to))
        except MailError as error:
            outcomes.append(("confirmation-bounced", f"{mail.to}: {error.detail}"))
    with services.transaction() as tx:
        for kind, detail in outcomes:
            tx.session.add(
                QuestionnaireEvent(campaign_id=campaign_id, at=tx.at, kind=kind, detail=detail)
            )
        tx.audit(
            "questionnaire.confirmation.outcome",
            subject,
            confirms=what,
            delivered=sum(1 for kind, _ in outcomes if kind == "confirmation-sent"),
            bounced=sum(1 for kind, _ in outcomes if kind == "confirmation-bounced"),
        )


def _answers_text(q: Questionnaire, answers: Mapping[str, str], language: str) -> str:
    blank = "(sin respuesta)" if language == "es" else "(not answered)"
    lines = []
    for question in q.questions:
        value = answers.get(question.id, "")
        shown = q.display(question, value, language) if value else blank
        lines.append(f"{q.translated(question.text, language)}\n{shown}\n")
    return "\n".join(lines)


def _submitted_mail(
    q: Questionnaire,
    campaign: QuestionnaireCampaign,
    contact: QuestionnaireContact,
    answers: Mapping[str, str],
    version: int,
    at: datetime.datetime,
    digest: str,
) -> Mail:
    lang = contact.language
    title = q.translated(q.title, lang)
    if lang == "es":
        subject = f"Recibimos sus respuestas: {title}"
        head = (
            f"Recibimos las respuestas de la campaña de {campaign.name} el {when(at, lang, q.zone)}"
            f"{f' (versión {version}, una corrección)' if version > 1 else ''}. "
            "Quedan registradas tal como se enviaron.\n\n"
        )
        tail = f"\nHuella SHA-256 de las respuestas: {digest}\n"
    else:
        subject = f"We received your answers: {title}"
        head = (
            f"We received the answers of {campaign.name}'s campaign on {when(at, lang, q.zone)}"
            f"{f' (version {version}, a correction)' if version > 1 else ''}. "
            "They are recorded exactly as sent.\n\n"
        )
        tail = f"\nSHA-256 of the answers: {digest}\n"
    text = head + _answers_text(q, answers, lang) + tail
    return Mail(to=contact.email, subject=subject, text=text, language=lang)


def do_submit(
    services: Services,
    token: str,
    answers: Mapping[str, str],
    mailer: Mailer | None,
    *,
    language: str = "en",
) -> Submission:
    """Submit the campaign's answers: checked, frozen as a new version, confirmed by email to
    the campaign's contacts (each in their language) after the commit."""
    del language  # each contact gets the confirmation in their own language
    mails: list[Mail] = []
    with services.transaction() as tx:
        row, q, campaign, _ = _by_token(tx, token)
        _not_due(row, tx.at, opening=False)
        _refuse_if_frozen(row, campaign, tx.session)
        checked = check_answers(q, answers, complete=True)
        digest = answers_digest(checked)
        draft = _draft_row(tx, row, campaign)
        draft.answers = json.dumps(checked, sort_keys=True, ensure_ascii=False)
        draft.status, draft.saved_at, draft.submitted_at = "submitted", tx.at, tx.at
        draft.digest, draft.questionnaire_version = digest, row.version
        version = draft.version
        campaign.state, campaign.correction_open = "submitted", False
        _event(tx, campaign, "submitted", f"version {version}")
        tx.audit(
            "questionnaire.submit",
            f"{row.key}/{campaign.key}",
            version=version,
            answers_sha256=digest,
        )
        contacts = _mailable(tx.session, campaign)
        if mailer is not None:
            mails = [
                _submitted_mail(q, campaign, c, checked, version, tx.at, digest) for c in contacts
            ]
            campaign_id, audited = campaign.id, f"{row.key}/{campaign.key}"
            tx.after_commit(
                lambda: _confirmation(services, mailer, campaign_id, mails, audited, "submitted")
            )
    return Submission(version, tx.at, digest, tuple(m.to for m in mails))


def _decline_reason(reason: str) -> str:
    """The decline reason as recorded (line ends normalised, trimmed); refused with a
    control character or over :data:`MAX_DECLINE_WORDS` words."""
    reason = reason.replace("\r\n", "\n").strip()
    words = count_words(reason)
    if has_control_characters(reason):
        raise QuestionnaireError(
            "questionnaire.answer",
            "The reason holds a control character; remove it.",
            (AnswerProblem("", "questionnaire.answer", "The reason holds a control character."),),
        )
    if words > MAX_DECLINE_WORDS:
        raise QuestionnaireError(
            "questionnaire.too-long",
            f"The reason has {words} words; the limit is {MAX_DECLINE_WORDS}.",
            (
                AnswerProblem(
                    "",
                    "questionnaire.too-long",
                    f"The reason has {words} words; the limit is {MAX_DECLINE_WORDS}.",
                ),
            ),
        )
    return reason


def _may_decline(tx: Tx, row: QuestionnaireRow, campaign: QuestionnaireCampaign) -> None:
    """Refuse a decline after the due date, once submitted or declined, or during a
    correction of submitted answers."""
    _not_due(row, tx.at, opening=False)
    _refuse_if_frozen(row, campaign, tx.session)
    if _submitted(_responses(tx.session, campaign)):
        raise QuestionnaireError(
            "questionnaire.decline-after-submit",
            "This campaign has submitted answers already; they stay on the record. "
            "During a correction it can submit a new version, not decline.",
        )


def check_decline(
    services: Services, token: str, reason: str, *, language: str = "en"
) -> AnswerForm:
    """The first step of declining (the form's confirmation page): every refusal
    :func:`do_decline` would make for this link and reason, and nothing recorded — no event,
    no audit entry, no mail. Returns the form, for the confirmation page to name the
    campaign and the publication policy."""
    _decline_reason(reason)
    with services.transaction() as tx:
        row, q, campaign, _ = _by_token(tx, token)
        _may_decline(tx, row, campaign)
        return _form(tx.session, row, q, campaign, language)


def do_decline(
    services: Services,
    token: str,
    reason: str,
    mailer: Mailer | None,
    *,
    language: str = "en",
) -> Declined:
    """Record that the campaign declines to answer (with its reason, if it gives one). The
    answer form asks first (:func:`check_decline`); this is the confirmed step."""
    del language
    reason = _decline_reason(reason)
    mails: list[Mail] = []
    with services.transaction() as tx:
        row, q, campaign, _ = _by_token(tx, token)
        _may_decline(tx, row, campaign)
        campaign.state, campaign.correction_open = "declined", False
        campaign.declined_at, campaign.decline_reason = tx.at, reason
        _event(tx, campaign, "declined", reason)
        tx.audit("questionnaire.decline", f"{row.key}/{campaign.key}", reason=reason)
        if mailer is not None:
            for contact in _mailable(tx.session, campaign):
                title = q.translated(q.title, contact.language)
                # Only a policy that publishes something tells members who declined.
                private = row.policy == PRIVATE
                if contact.language == "es":
                    subject = f"Registramos que su campaña no responderá: {title}"
                    text = (
                        f"Registramos el {when(tx.at, 'es', q.zone)} que la campaña de "
                        f"{campaign.name} "
                        "no responderá. "
                        + (
                            "El comité mantiene las respuestas en privado: no se publica nada "
                            "a los miembros.\n"
                            if private
                            else "Los miembros verán «Se negó a responder».\n"
                        )
                    )
                else:
                    subject = f"We recorded that your campaign declines: {title}"
                    text = (
                        f"We recorded on {when(tx.at, zone=q.zone)} that "
                        f"{campaign.name}'s campaign declines "
                        "to answer. "
                        + (
                            "The committee keeps the answers private: nothing is published to "
                            "members.\n"
                            if private
                            else 'Members will see "Declined to answer".\n'
                        )
                    )
                mails.append(Mail(contact.email, subject, text, language=contact.language))
            campaign_id, audited = campaign.id, f"{row.key}/{campaign.key}"
            tx.after_commit(
                lambda: _confirmation(services, mailer, campaign_id, mails, audited, "declined")
            )
    return Declined(tx.at)


# -- the committee after the due date -----------------------------------------------------------


def _record_no_response(tx: Tx, row: QuestionnaireRow) -> list[str]:
    """Record "no response" for every campaign that neither submitted nor declined by the due
    date, dated by the due date itself (when it happened, not when it was noticed); a
    campaign already recorded for this due date is left as it is."""
    missing = []
    for campaign in _campaigns(tx.session, row):
        if campaign.state != "open" or _submitted(_responses(tx.session, campaign)):
            continue
        if _no_response_at(_events(tx.session, campaign), row) is not None:
            continue
        missing.append(campaign.key)
        tx.session.add(
            QuestionnaireEvent(
                campaign_id=campaign.id,
                at=row.due_at,
                kind="no-response",
                detail=f"nothing by {_row_when(row, row.due_at)}",
            )
        )
    return missing


def _no_response_at(
    events: Sequence[QuestionnaireEvent], row: QuestionnaireRow
) -> datetime.datetime | None:
    """When "no response" was recorded for the current due date (a record for an earlier due
    date, which a new version moved, does not count)."""
    return next((e.at for e in events if e.kind == "no-response" and e.at >= row.due_at), None)


def do_mark_no_response(services: Services, key: str) -> tuple[str, ...]:
    """Once the due date has passed: record "no response by the due date", dated by the due
    date, for each campaign that neither submitted nor declined (audited when it records
    any). Idempotent: a campaign already recorded is left as it is, so running it every hour
    (``unionvote serve --send-reminders``) records each once. Before the due date it records
    nothing. Unlike :func:`do_close` it leaves the questionnaire open to a new version (a
    due date moved later)."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key, for_update=True)
        if tx.at < row.due_at:
            return ()
        missing = _record_no_response(tx, row)
        if missing:
            tx.audit("questionnaire.no-response", key, no_response=missing)
    return tuple(missing)


def do_close(services: Services, key: str) -> Closed:
    """After the due date: record "no response" (dated by the due date) for every campaign
    that neither submitted nor declined, and end any open correction."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key, for_update=True)
        if row.closed_at is not None:
            raise QuestionnaireError(
                "questionnaire.closed",
                f"questionnaire {key!r} was closed on {_row_when(row, row.closed_at)}",
            )
        if tx.at < row.due_at:
            raise QuestionnaireError(
                "questionnaire.not-due",
                f"questionnaire {key!r} is due on {_row_when(row, row.due_at)}: close it after "
                "that",
            )
        for campaign in _campaigns(tx.session, row):
            campaign.correction_open = False
        _record_no_response(tx, row)
        # Every campaign without an answer by the due date, whether recorded now or already.
        missing = [
            c.key
            for c in _campaigns(tx.session, row)
            if c.state == "open" and not _submitted(_responses(tx.session, c))
        ]
        row.closed_at = tx.at
        tx.audit("questionnaire.close", key, no_response=missing)
    return Closed(tuple(missing))


def do_open_correction(services: Services, key: str, candidate: str, reason: str) -> None:
    """Let a campaign that submitted (or declined) send a new version before the due date;
    the earlier versions stay on the record."""
    reason = reason.strip()
    if not reason:
        raise QuestionnaireError("questionnaire.reason", "say why the correction is opened")
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key, for_update=True)
        _open_for_campaigns(row, tx.at)
        campaign = _campaign(tx.session, row, candidate)
        if campaign.state == "open" and not campaign.correction_open:
            raise QuestionnaireError(
                "questionnaire.open",
                f"campaign {candidate!r} has not submitted or declined: it can answer already",
            )
        if campaign.correction_open:
            raise QuestionnaireError(
                "questionnaire.open", f"a correction is open for {candidate!r} already"
            )
        # A declined campaign keeps its "declined" (and its reason) until it submits or
        # declines again: if it stays silent, members still read that it declined.
        campaign.correction_open = True
        _event(tx, campaign, "correction-opened", reason)
        tx.audit("questionnaire.correction", f"{key}/{candidate}", reason=reason)


# -- reading ------------------------------------------------------------------------------------


def _first(events: Sequence[QuestionnaireEvent], kind: str) -> datetime.datetime | None:
    return next((e.at for e in events if e.kind == kind), None)


def _last(events: Sequence[QuestionnaireEvent], kind: str) -> datetime.datetime | None:
    return next((e.at for e in reversed(events) if e.kind == kind), None)


def _status(
    session: Session,
    row: QuestionnaireRow,
    campaign: QuestionnaireCampaign,
    now: datetime.datetime,
) -> CampaignStatus:
    events = _events(session, campaign)
    responses = _responses(session, campaign)
    submitted = _submitted(responses)
    draft = next((r for r in responses if r.status == "draft"), None)
    no_response_at = _no_response_at(events, row)
    answered_or_declined = campaign.state != "open" or bool(submitted)
    if no_response_at is None and not answered_or_declined and now >= row.due_at:
        no_response_at = row.due_at
    sent_at = _first(events, "sent")
    bounced_at = _first(events, "bounced")
    opened_at = _first(events, "opened")
    if campaign.state == "submitted" or (submitted and campaign.correction_open):
        status = "submitted"
    elif campaign.state == "declined":
        status = "declined"
    elif no_response_at is not None:
        status = "no-response"
    elif draft is not None:
        status = "draft"
    elif opened_at is not None:
        status = "opened"
    elif bounced_at is not None and not _mailable(session, campaign):
        status = "bounced"  # every address bounced, even after a mail was accepted
    elif sent_at is not None:
        status = "sent"
    else:
        status = "not-sent"
    return CampaignStatus(
        candidate_key=campaign.key,
        name=campaign.name,
        party=campaign.party,
        office=campaign.office,
        contacts=tuple(c.email for c in _contacts(session, campaign)),
        status=status,
        sent_at=sent_at,
        bounced_at=bounced_at,
        opened_at=opened_at,
        draft_saved_at=_last(events, "draft-saved"),
        submitted_at=submitted[-1].submitted_at if submitted else None,
        declined_at=campaign.declined_at if campaign.state == "declined" else None,
        no_response_at=no_response_at,
        reminders=sum(1 for e in events if e.kind == "reminded"),
        response_version=submitted[-1].version if submitted else 0,
        events=tuple(Event(e.at, e.kind, e.detail) for e in events),
        contact_details=tuple(
            ContactStatus(c.name, c.email, c.language, _bounced_at(events, c.email))
            for c in _contacts(session, campaign)
        ),
        correction_open=campaign.correction_open,
    )


def overview(services: Services, key: str) -> Overview:
    """Every campaign's status with the time of each step (the committee's view)."""
    with services.transaction() as tx:
        row, q = _questionnaire(tx.session, key)
        campaigns = tuple(_status(tx.session, row, c, tx.at) for c in _campaigns(tx.session, row))
        return Overview(
            row.key,
            row.title,
            row.version,
            row.due_at,
            row.policy,
            q.answer_required_for_forum,
            campaigns,
            zone=q.zone,
        )


def _latest_publication(session: Session, row: QuestionnaireRow) -> PublishedQuestionnaire | None:
    pub = session.scalar(
        select(QuestionnairePublication)
        .where(QuestionnairePublication.questionnaire_id == row.id)
        .order_by(QuestionnairePublication.id.desc())
        .limit(1)
    )
    if pub is None:
        return None
    q = _parsed(row)
    return PublishedQuestionnaire(
        row.key,
        row.title,
        pub.name,
        pub.content,
        pub.digest,
        pub.at,
        q.zone,
        title_es=q.translations.get("es", {}).get(row.title, ""),
    )


def _publication_by_digest(
    session: Session, row: QuestionnaireRow, sha256: str
) -> PublishedQuestionnaire:
    """The publication of ``row`` whose file has this SHA-256 (the one an endorsement record
    names), latest or not."""
    pub = session.scalar(
        select(QuestionnairePublication)
        .where(
            QuestionnairePublication.questionnaire_id == row.id,
            QuestionnairePublication.digest == sha256.strip().lower(),
        )
        .order_by(QuestionnairePublication.id.desc())
        .limit(1)
    )
    if pub is None:
        raise QuestionnaireError(
            "questionnaire.not-published",
            f"questionnaire {row.key!r} was never published with SHA-256 {sha256!r}",
        )
    q = _parsed(row)
    return PublishedQuestionnaire(
        row.key,
        row.title,
        pub.name,
        pub.content,
        pub.digest,
        pub.at,
        q.zone,
        title_es=q.translations.get("es", {}).get(row.title, ""),
    )


def questionnaires(services: Services) -> tuple[QuestionnaireSummary, ...]:
    with services.transaction() as tx:
        out = []
        for row in tx.session.scalars(select(QuestionnaireRow).order_by(QuestionnaireRow.id)):
            campaigns = _campaigns(tx.session, row)
            published = _latest_publication(tx.session, row)
            out.append(
                QuestionnaireSummary(
                    row.key,
                    row.title,
                    row.version,
                    row.due_at,
                    row.policy,
                    len(campaigns),
                    sum(1 for c in campaigns if _submitted(_responses(tx.session, c))),
                    sum(1 for c in campaigns if c.state == "declined"),
                    published.published_at if published else None,
                    zone=_parsed(row).zone,
                    closed_at=row.closed_at,
                    reminder_times=tuple(sorted(_parsed(row).reminder_times())),
                )
            )
        return tuple(out)


def _candidates(
    session: Session,
    row: QuestionnaireRow,
    q: Questionnaire,
    now: datetime.datetime,
    language: str,
    *,
    with_answers: bool,
) -> tuple[PublishedCandidate, ...]:
    out = []
    for campaign in _campaigns(session, row):
        submitted = _submitted(_responses(session, campaign))
        if submitted:
            status = "answered"
        elif campaign.state == "declined":
            status = "declined"
        elif now >= row.due_at or row.closed_at is not None:
            status = "did-not-respond"
        else:
            status = "awaiting"
        answers: tuple[PublishedAnswer, ...] | None = None
        if submitted and with_answers:
            answers = _displayed(q, submitted[-1].answers, language)
        out.append(
            PublishedCandidate(
                key=campaign.key,
                name=campaign.name,
                party=q.translated(campaign.party, language),
                office=q.translated(campaign.office, language),
                status=status,
                submitted_at=submitted[-1].submitted_at if submitted else None,
                declined_at=campaign.declined_at if status == "declined" else None,
                decline_reason=campaign.decline_reason if status == "declined" else "",
                version=submitted[-1].version if submitted else 0,
                earlier_versions=tuple(submitted[:-1]) if with_answers else (),
                answers=answers,
                earlier_answers=tuple(_displayed(q, v.answers, language) for v in submitted[:-1])
                if with_answers
                else (),
            )
        )
    return tuple(out)


def _displayed(
    q: Questionnaire, given: Mapping[str, str], language: str
) -> tuple[PublishedAnswer, ...]:
    """One version's answers, question by question, as a reader sees them."""
    return tuple(
        PublishedAnswer(
            question.id,
            str(given.get(question.id, "")),
            q.display(question, str(given.get(question.id, "")), language),
        )
        for question in q.questions
    )


def publication_view(
    services: Services, key: str, *, language: str = "en", committee: bool = False
) -> Publication:
    """The side-by-side comparison as members see it (under the publication policy), or,
    with ``committee``, everything."""
    with services.transaction() as tx:
        row, q = _questionnaire(tx.session, key)
        if row.policy == PRIVATE and not committee:
            raise QuestionnaireError(
                "questionnaire.private", f"the answers to {row.title!r} are not published"
            )
        with_answers = committee or row.policy == PUBLISH_ALL
        return Publication(
            key=row.key,
            title=q.translated(q.title, language),
            introduction=q.translated(q.introduction, language),
            version=row.version,
            due_at=row.due_at,
            policy=row.policy,
            language=language,
            questions=_question_views(q, language),
            candidates=_candidates(tx.session, row, q, tx.at, language, with_answers=with_answers),
            published=_latest_publication(tx.session, row),
            zone=q.zone,
        )


def _question_json(question: Question) -> dict[str, object]:
    out: dict[str, object] = {
        "id": question.id,
        "kind": question.kind,
        "text": question.text,
        "required": question.required,
    }
    if question.kind == CHOICE:
        out["choices"] = list(question.choices)
    if question.kind == TEXT:
        out["max_words"] = question.max_words
    return out


def _iso(at: datetime.datetime | None) -> str | None:
    return at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if at else None


def do_publish(services: Services, key: str, *, early: bool = False) -> PublishedQuestionnaire:
    """Publish the comparison under the policy as ``questionnaire-<key>.json`` (canonical
    JSON); the endorsement record links to it by its SHA-256. Publishing again (after a
    correction, or after the due date) adds a new version; the latest is current, and it is
    what members read (:func:`published_view`) until the next publication.

    Before the due date publishing is refused (``questionnaire.early``): a campaign must not
    be able to watch its rivals' answers arrive. The committee may still publish early by
    saying so (``early=True``); the audit log records that it did."""
    with services.transaction() as tx:
        row, q = _questionnaire(tx.session, key, for_update=True)
        if row.policy == PRIVATE:
            raise QuestionnaireError(
                "questionnaire.private",
                f'questionnaire {key!r} is private (publication = "private"): nothing is published',
            )
        before_due = tx.at < row.due_at and row.closed_at is None
        if before_due and not early:
            raise QuestionnaireError(
                "questionnaire.early",
                f"questionnaire {key!r} is due on {_row_when(row, row.due_at)}: publishing "
                "before then would let campaigns read their rivals' answers while they still "
                "answer; publish after the due date, or say that you publish early on purpose",
            )
        with_answers = row.policy == PUBLISH_ALL
        candidates = _candidates(tx.session, row, q, tx.at, "en", with_answers=with_answers)
        entries = []
        for c in candidates:
            entry: dict[str, object] = {
                "key": c.key,
                "name": c.name,
                "party": c.party,
                "office": c.office,
                "status": c.status,
                "submitted_at": _iso(c.submitted_at),
                "declined_at": _iso(c.declined_at),
                "version": c.version,
            }
            if c.status == "declined":
                entry["decline_reason"] = c.decline_reason
            if c.answers is not None:
                entry["answers"] = {a.question_id: a.value for a in c.answers}
                entry["earlier_versions"] = [
                    {
                        "version": v.version,
                        "submitted_at": _iso(v.submitted_at),
                        "answers": dict(v.answers),
                        "answers_sha256": v.digest,
                    }
                    for v in c.earlier_versions
                ]
            entries.append(entry)
        document = {
            "format": PUBLICATION_FORMAT,
            "questionnaire": {
                "key": row.key,
                "version": row.version,
                "title": q.title,
                "office": q.office,
                "due": _iso(row.due_at),
                "publication": row.policy,
                "file_sha256": row.digest,
                "questions": [_question_json(question) for question in q.questions],
            },
            "published_at": _iso(tx.at),
            "candidates": entries,
        }
        content = canonical_json(document)
        digest = hashlib.sha256(content).hexdigest()
        name = f"questionnaire-{row.key}.json"
        tx.session.add(
            QuestionnairePublication(
                questionnaire_id=row.id, name=name, content=content, digest=digest, at=tx.at
            )
        )
        tx.audit(
            "questionnaire.publish",
            key,
            name=name,
            sha256=digest,
            policy=row.policy,
            early=before_due,
        )
    return PublishedQuestionnaire(
        row.key,
        row.title,
        name,
        content,
        digest,
        tx.at,
        q.zone,
        title_es=q.translations.get("es", {}).get(row.title, ""),
    )


def _at(value: object) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _published_definition(session: Session, row: QuestionnaireRow, digest: object) -> Questionnaire:
    """The definition the published file was made from (its ``file_sha256``): its questions
    and translations, even if a later version changed the translations."""
    text = session.scalar(
        select(QuestionnaireVersion.text).where(
            QuestionnaireVersion.questionnaire_id == row.id, QuestionnaireVersion.digest == digest
        )
    )
    if text is None:
        return _parsed(row)
    return parse_questionnaire(text, source=f"{row.key} as published")


def published_view(
    services: Services, key: str, *, language: str = "en", sha256: str | None = None
) -> Publication:
    """The comparison as members read it: the latest *published* file (the one the
    endorsement record links by its SHA-256), in ``language`` — never the live answers, so a
    correction submitted since is shown only once the committee publishes again. Raises
    ``questionnaire.not-published`` before the first publication, ``questionnaire.private``
    if the policy is now private. With ``sha256``: that publication exactly (the one an
    endorsement record names), with ``newer`` set when a later publication replaced it."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key)
        if row.policy == PRIVATE:
            raise QuestionnaireError(
                "questionnaire.private", f"the answers to {row.title!r} are not published"
            )
        latest = _latest_publication(tx.session, row)
        if latest is None:
            raise QuestionnaireError(
                "questionnaire.not-published", f"questionnaire {key!r} is not published yet"
            )
        published = latest if sha256 is None else _publication_by_digest(tx.session, row, sha256)
        newer = latest if latest.sha256 != published.sha256 else None
        document = json.loads(published.content)
        meta = document["questionnaire"]
        q = _published_definition(tx.session, row, meta.get("file_sha256"))
    questions = {question.id: question for question in q.questions}
    candidates = []
    for entry in document["candidates"]:
        answers: tuple[PublishedAnswer, ...] | None = None
        given = entry.get("answers")
        if isinstance(given, dict):
            answers = tuple(
                PublishedAnswer(
                    question["id"],
                    str(given.get(question["id"], "")),
                    q.display(
                        questions[question["id"]], str(given.get(question["id"], "")), language
                    )
                    if question["id"] in questions
                    else str(given.get(question["id"], "")),
                )
                for question in meta["questions"]
            )
        earlier = tuple(
            SubmittedVersion(
                int(v["version"]),
                _at(v["submitted_at"]) or published.published_at,
                dict(v["answers"]),
                str(v["answers_sha256"]),
            )
            for v in entry.get("earlier_versions", ())
        )
        candidates.append(
            PublishedCandidate(
                key=entry["key"],
                name=entry["name"],
                party=q.translated(entry["party"], language),
                office=q.translated(entry["office"], language),
                status=entry["status"],
                submitted_at=_at(entry.get("submitted_at")),
                declined_at=_at(entry.get("declined_at")),
                decline_reason=entry.get("decline_reason", ""),
                version=int(entry["version"]),
                earlier_versions=earlier,
                answers=answers,
                earlier_answers=tuple(_displayed(q, v.answers, language) for v in earlier),
            )
        )
    return Publication(
        key=row.key,
        title=q.translated(q.title, language),
        introduction=q.translated(q.introduction, language),
        version=int(meta["version"]),
        due_at=_at(meta["due"]) or row.due_at,
        policy=meta["publication"],
        language=language,
        questions=_question_views(q, language),
        candidates=tuple(candidates),
        published=published,
        newer=newer,
        zone=q.zone,
    )


def published_questionnaire(
    services: Services, key: str, *, sha256: str | None = None
) -> PublishedQuestionnaire:
    """The latest published file, or the one with this SHA-256."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key)
        if sha256 is not None:
            return _publication_by_digest(tx.session, row, sha256)
        published = _latest_publication(tx.session, row)
    if published is None:
        raise QuestionnaireError(
            "questionnaire.not-published", f"questionnaire {key!r} is not published yet"
        )
    return published


def endorsement_links(services: Services) -> tuple[PublishedQuestionnaire, ...]:
    """The latest publication of every published questionnaire, for the endorsement record."""
    with services.transaction() as tx:
        rows = list(tx.session.scalars(select(QuestionnaireRow).order_by(QuestionnaireRow.id)))
        found = (_latest_publication(tx.session, row) for row in rows)
        return tuple(p for p in found if p is not None)


def forum_eligible(services: Services, key: str) -> tuple[str, ...]:
    """The campaigns that may be in a forum or on a ballot: every one, or, under the rule
    ``answer_required_for_forum``, those that submitted answers."""
    with services.transaction() as tx:
        row, q = _questionnaire(tx.session, key)
        campaigns = _campaigns(tx.session, row)
        if not q.answer_required_for_forum:
            return tuple(c.key for c in campaigns)
        return tuple(c.key for c in campaigns if _submitted(_responses(tx.session, c)))


def submitted_versions(services: Services, key: str) -> dict[str, tuple[SubmittedVersion, ...]]:
    """Every version each campaign submitted, oldest first, by candidate key (a campaign that
    never submitted has none): the committee's record of who answered, for a forum."""
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key)
        return {
            c.key: tuple(_submitted(_responses(tx.session, c))) for c in _campaigns(tx.session, row)
        }


def require_answered(services: Services, key: str, candidate: str) -> None:
    """Refuse (``questionnaire.forum``) a candidate the forum rule keeps out."""
    if candidate in forum_eligible(services, key):
        return
    with services.transaction() as tx:
        row, _ = _questionnaire(tx.session, key)
        campaign = _campaign(tx.session, row, candidate)
        name = campaign.name
    raise QuestionnaireError(
        "questionnaire.forum",
        f"{name} did not return the questionnaire {row.title!r}: only candidates who "
        "answered may be in the forum or on the ballot",
    )
