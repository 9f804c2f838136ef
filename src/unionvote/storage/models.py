"""The server's tables (SQLAlchemy 2). What the server knows, and nothing secret.

Every row that a member, the committee or an observer relies on is here: the process, the roll
and its imports, the frozen eligibility snapshots, registrations and their attempts, the public
side of the credentials and their delivery status, trustees and the key ceremony's public
messages, each election's record (as the archive's own bytes, appended chunk by chunk) and its
ballot index, decisions, endorsements and the audit log.

No private credential and no trustee private key has a column: they never reach the server.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditEntry",
    "Ballot",
    "Base",
    "CeremonyMessage",
    "CredentialDelivery",
    "Decision",
    "ElectionRow",
    "EligibilitySnapshot",
    "Endorsement",
    "Member",
    "OneTimeCode",
    "PartialDecryptionRow",
    "ProcessRow",
    "PublicCredentialRow",
    "PublishedFile",
    "RecordChunk",
    "Registration",
    "RegistrationAttempt",
    "RollImport",
    "SnapshotEntry",
    "StageRow",
    "Trustee",
    "UTCDateTime",
]

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime.datetime]):
    """A timezone-aware UTC time on every backend (SQLite keeps no zone: we store UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime.datetime | None, dialect: Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("times stored by unionvote must be timezone-aware")
        value = value.astimezone(datetime.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime.datetime | None, dialect: Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime.datetime: UTCDateTime()}


# --- the process -------------------------------------------------------------------------------


class ProcessRow(Base):
    """A union's process file as loaded: its text is kept so that everything derives from it."""

    __tablename__ = "processes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(40))
    source_name: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime.datetime]


class StageRow(Base):
    """One stage of the process (a membership vote, a council vote) and its windows."""

    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("process_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # The election's identifier, fixed before credentials are made (they derive from it).
    uuid: Mapped[str | None] = mapped_column(String(30), unique=True)
    registration_opens_at: Mapped[datetime.datetime | None]
    registration_closes_at: Mapped[datetime.datetime | None]
    voting_opens_at: Mapped[datetime.datetime | None]
    voting_closes_at: Mapped[datetime.datetime | None]
    derived_from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    derived_from: Mapped[str | None] = mapped_column(Text)  # JSON: what it rests on, with hashes


# --- the roll ----------------------------------------------------------------------------------


class Member(Base):
    """A member as the union's membership system last exported them."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    card_number: Mapped[str] = mapped_column(String(40), unique=True)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="")
    street: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    state: Mapped[str] = mapped_column(String(40), default="")
    local: Mapped[str] = mapped_column(String(40), default="")
    dues_status: Mapped[str] = mapped_column(String(40))
    country: Mapped[str] = mapped_column(String(2))
    council_role: Mapped[str] = mapped_column(String(100), default="")
    council_state: Mapped[str] = mapped_column(String(40), default="")
    joined_on: Mapped[datetime.date | None]
    # The member's vote in a stage whose decision counts weights (e.g. the per-capita members
    # a council member represents); None where the roll gives none.
    weight: Mapped[int | None] = mapped_column(BigInteger)
    in_roll: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime.datetime]


class RollImport(Base):
    __tablename__ = "roll_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime.datetime]
    source_name: Mapped[str] = mapped_column(String(300))
    digest: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    removed: Mapped[int] = mapped_column(Integer)


class EligibilitySnapshot(Base):
    """The electorate of a stage, frozen: who may register, with a published digest."""

    __tablename__ = "eligibility_snapshots"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), unique=True)
    rule: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime.datetime]


class SnapshotEntry(Base):
    __tablename__ = "snapshot_entries"
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("eligibility_snapshots.id"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    weight: Mapped[int | None] = mapped_column(BigInteger)


# --- registration ------------------------------------------------------------------------------


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("stage_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime.datetime]
    method: Mapped[str] = mapped_column(String(40))


class RegistrationAttempt(Base):
    """Every attempt's outcome is counted; nothing a stranger typed is kept."""

    __tablename__ = "registration_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    at: Mapped[datetime.datetime]
    outcome: Mapped[str] = mapped_column(String(40), index=True)


class OneTimeCode(Base):
    """An emailed registration code, kept only as a hash."""

    __tablename__ = "one_time_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    code_hash: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime.datetime]
    used_at: Mapped[datetime.datetime | None]


# --- credentials (public side only) ------------------------------------------------------------


class PublicCredentialRow(Base):
    """A member's public credential for one stage, as the credential authority handed it over."""

    __tablename__ = "public_credentials"
    __table_args__ = (
        UniqueConstraint("stage_id", "member_id"),
        UniqueConstraint("stage_id", "credential"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    credential: Mapped[str] = mapped_column(String(100))
    weight: Mapped[int | None] = mapped_column(BigInteger)


class CredentialDelivery(Base):
    """A delivery step reported by the credential authority: sent, bounced, re-sent, printed."""

    __tablename__ = "credential_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime.datetime]
    detail: Mapped[str] = mapped_column(Text, default="")


# --- trustees and the key ceremony -------------------------------------------------------------


class Trustee(Base):
    __tablename__ = "trustees"
    __table_args__ = (UniqueConstraint("stage_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="")
    kind: Mapped[str] = mapped_column(String(20))  # "server", "single" or "pedersen"
    public: Mapped[str | None] = mapped_column(Text)  # the public key or certificate, JSON


class CeremonyMessage(Base):
    """A public message of the Pedersen ceremony (certificate, polynomial, verification key)."""

    __tablename__ = "ceremony_messages"
    __table_args__ = (UniqueConstraint("stage_id", "step", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    step: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime.datetime]


# --- elections and their records ---------------------------------------------------------------


class ElectionRow(Base):
    """One verifiable election (one stage), and the head of its record's event chain."""

    __tablename__ = "elections"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), unique=True)
    uuid: Mapped[str] = mapped_column(String(30), unique=True)
    phase: Mapped[str] = mapped_column(String(20))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    election_hash: Mapped[str] = mapped_column(String(64))
    head: Mapped[str] = mapped_column(String(64))
    height: Mapped[int] = mapped_column(BigInteger)
    chunks: Mapped[int] = mapped_column(BigInteger, default=0)
    ballots_received: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime.datetime]


class RecordChunk(Base):
    """Consecutive bytes of the election's ``.bel`` archive, exactly as Belenios writes it.

    The archive is the concatenation of an election's chunks in order; each transaction that
    changes the record appends one chunk, so the record and the tables commit together.
    """

    __tablename__ = "record_chunks"
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Ballot(Base):
    """The ballot index: every accepted ballot, its tracker, and whether it is the one counted."""

    __tablename__ = "ballots"
    __table_args__ = (
        UniqueConstraint("election_id", "tracker"),
        Index("ix_ballots_counted", "election_id", "credential", "counted"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"))
    tracker: Mapped[str] = mapped_column(String(64))
    credential: Mapped[str] = mapped_column(String(100))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime.datetime]
    counted: Mapped[bool] = mapped_column(Boolean)


class PartialDecryptionRow(Base):
    __tablename__ = "partial_decryptions"
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    owner: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime.datetime]


class PublishedFile(Base):
    """A file published beside a stage's record (report, chart, sub-tallies, endorsement…).

    Kept in the database so it commits with the change it describes; exported beside the
    ``.bel`` archive with a manifest of hashes.
    """

    __tablename__ = "published_files"
    __table_args__ = (UniqueConstraint("stage_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime.datetime]


# --- decisions ---------------------------------------------------------------------------------


class Decision(Base):
    """A deciding body's decision on a stage, under the process's rule."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), unique=True)
    rule: Mapped[str] = mapped_column(String(40))
    endorsed: Mapped[str | None] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)  # JSON: counts, reason, votes cast
    at: Mapped[datetime.datetime]


class Endorsement(Base):
    """The endorsement record as published: decision, body, statement, links with hashes."""

    __tablename__ = "endorsements"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), unique=True)
    endorsed: Mapped[str | None] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)  # the published JSON
    digest: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime.datetime]


# --- the audit log -----------------------------------------------------------------------------


class AuditEntry(Base):
    """One action, written in the same transaction as the change it records."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime.datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")

    # Sign-in failures and staff sign-outs are looked up by action and subject, newest first.
    __table_args__ = (Index("ix_audit_log_lookup", "action", "subject", "at"),)


# --- staff accounts and the who-has-voted policy (the committee's, observers' and trustees' pages)


class StaffAccount(Base):
    """Someone who signs in to the staff pages: the election committee, an observer, a trustee.

    Only an Argon2 hash of the password is kept. ``failed_attempts`` counts wrong passwords
    since the last success; past a limit the account waits until ``locked_until``.
    ``trustee_position`` is the trustee's position in each stage's list (the same in every
    stage), for a trustee; it only tells the trustee which they are.
    """

    __tablename__ = "staff_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # "committee", "observer" or "trustee"
    trustee_position: Mapped[int | None] = mapped_column(Integer)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime.datetime]
    password_set_at: Mapped[datetime.datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime.datetime | None]
    last_login_at: Mapped[datetime.datetime | None]


class VoterListPolicy(Base):
    """Who may see which members have voted in a stage: nobody (``withheld``, the default when
    no row exists) or every staff role alike (``equal-access``), each access in the audit log."""

    __tablename__ = "voter_list_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), unique=True)
    policy: Mapped[str] = mapped_column(String(20))
    set_at: Mapped[datetime.datetime]
    set_by: Mapped[str] = mapped_column(String(200))


__all__ += ["StaffAccount", "VoterListPolicy"]


# --- the candidate questionnaire (issue 6) -----------------------------------------------------


class QuestionnaireRow(Base):
    """A questionnaire as currently defined (its file's text, kept whole); earlier definitions
    are in ``questionnaire_versions``. ``first_sent_at``: when the first link went out (the
    questions are fixed from then on); ``closed_at``: when non-responses were recorded."""

    __tablename__ = "questionnaires"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime.datetime]
    policy: Mapped[str] = mapped_column(String(20))
    defined_at: Mapped[datetime.datetime]
    first_sent_at: Mapped[datetime.datetime | None]
    closed_at: Mapped[datetime.datetime | None]


class QuestionnaireVersion(Base):
    """Every definition of a questionnaire, the current one included."""

    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("questionnaire_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    defined_at: Mapped[datetime.datetime]


class QuestionnaireCampaign(Base):
    """A candidate's campaign asked to answer. ``state``: ``open`` (may answer), ``submitted``
    (answers frozen), ``declined``; ``correction_open``: the committee let a submitted or
    declined campaign send a new version."""

    __tablename__ = "questionnaire_campaigns"
    __table_args__ = (UniqueConstraint("questionnaire_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    key: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    party: Mapped[str] = mapped_column(String(100))
    office: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="open")
    correction_open: Mapped[bool] = mapped_column(Boolean, default=False)
    declined_at: Mapped[datetime.datetime | None]
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime.datetime]


class QuestionnaireContact(Base):
    """Someone at a campaign who receives the link (in their language)."""

    __tablename__ = "questionnaire_contacts"
    __table_args__ = (UniqueConstraint("campaign_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_campaigns.id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="en")


class QuestionnaireLink(Base):
    """A personal link sent to a campaign: only the SHA-256 of its 256-bit random token is
    kept (the token itself is in the email only). A newer link revokes the older ones."""

    __tablename__ = "questionnaire_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_campaigns.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime.datetime]
    revoked_at: Mapped[datetime.datetime | None]


class QuestionnaireResponse(Base):
    """A campaign's answers: version 1, 2… (a correction is a new version). ``status``
    ``draft`` until submitted; a submitted row never changes again."""

    __tablename__ = "questionnaire_responses"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_campaigns.id"))
    version: Mapped[int] = mapped_column(Integer)
    questionnaire_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    answers: Mapped[str] = mapped_column(Text)  # JSON: question id -> answer
    saved_at: Mapped[datetime.datetime]
    submitted_at: Mapped[datetime.datetime | None]
    digest: Mapped[str | None] = mapped_column(String(64))


class QuestionnaireEvent(Base):
    """Every step of a campaign with its time: sent, bounced, reminded, opened, draft saved,
    submitted, declined, no response by the due date…"""

    __tablename__ = "questionnaire_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_campaigns.id"), index=True)
    at: Mapped[datetime.datetime]
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")


class QuestionnairePublication(Base):
    """A published comparison (the policy applied), linked from the endorsement record by its
    SHA-256. A later publication (after a correction) is a new row; the latest is current."""

    __tablename__ = "questionnaire_publications"
    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime.datetime]


__all__ += [
    "QuestionnaireCampaign",
    "QuestionnaireContact",
    "QuestionnaireEvent",
    "QuestionnaireLink",
    "QuestionnairePublication",
    "QuestionnaireResponse",
    "QuestionnaireRow",
    "QuestionnaireVersion",
]
