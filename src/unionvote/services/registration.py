"""Registration: an eligible member registers for a stage during its window, with their card
number and a second fact — their last name and postal code as the roll has them, or a one-time
code emailed to the address on the roll.

Every attempt gets a clear answer (:class:`RegistrationOutcome`) and its outcome is counted in
``registration_attempts``; nothing the person typed is kept.

Choices, and why:

- **An unknown card number gets the same answer as wrong details** (outcome ``unknown`` is
  counted apart, but the message is word for word the message for ``wrong-details``), so the
  registration page cannot be used to find out which card numbers exist. For the same reason
  the second fact is checked *before* eligibility: why a member is not eligible (their dues
  status, their country) is told only to someone who proved they are that member.
- Names compare without regard to case, accents, spaces, hyphens or apostrophes
  (``O'Brien-Muñoz`` = ``obrien munoz``); U.S. postal codes compare on their first five digits
  (ZIP+4 is tolerated on either side), others without spaces or case.
- A one-time code is six digits, valid 30 minutes, used once. Only its scrypt hash is stored
  (with a per-code salt, bound to the stage and the member). A wrong code spends the member's
  outstanding code, so a code can be guessed at most once (one chance in a million); a new code
  is sent at most once a minute. The code request answers the same whether or not the card
  number exists. The email is in English or Spanish, the language the member asked in.
- The frozen snapshot decides eligibility: a member changed in the roll after the freeze is
  judged by the electorate that was published.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from unionvote.domain.election import new_uuid
from unionvote.domain.errors import DomainError
from unionvote.domain.process import MEMBERS, Stage
from unionvote.mail import Mail, Mailer
from unionvote.services.context import Services, Tx
from unionvote.services.process import load_process, stage_row
from unionvote.services.roll import (
    publish_electorate,
    register_snapshot,
    snapshot_of,
    stage_rule,
)
from unionvote.storage.models import (
    EligibilitySnapshot,
    Member,
    OneTimeCode,
    Registration,
    RegistrationAttempt,
    SnapshotEntry,
    StageRow,
)

__all__ = [
    "CODE_INTERVAL",
    "CODE_LIFETIME",
    "ClosedRegistration",
    "CodeRequest",
    "Outcome",
    "RegisteredMember",
    "RegistrationOutcome",
    "RegistrationStats",
    "RegistrationWindow",
    "check_code",
    "do_close_registration",
    "do_open_registration",
    "do_register",
    "do_register_all",
    "do_request_code",
    "find_member",
    "issue_code",
    "member_details_match",
    "registered_members",
    "registration_stats",
    "spend_time_like_a_code",
]

CODE_LIFETIME = datetime.timedelta(minutes=30)
CODE_INTERVAL = datetime.timedelta(minutes=1)  # at most one code mailed per member per minute
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1  # 16 MiB, ~50 ms: a stolen hash costs a search

NO_MATCH = (
    "We could not match these details to a member on the roll. Check your card number and "
    "give your last name and postal code as they appear on your dues records, or ask for a "
    "one-time code by email (a code works once, for 30 minutes)."
)


class Outcome(StrEnum):
    REGISTERED = "registered"
    ALREADY_REGISTERED = "already-registered"
    NOT_ELIGIBLE = "not-eligible"
    UNKNOWN = "unknown"
    WRONG_DETAILS = "wrong-details"
    OUTSIDE_WINDOW = "outside-window"


@dataclass(frozen=True)
class RegistrationOutcome:
    """The answer to an attempt: ``outcome`` for counting, ``message`` for the person.

    Show a member only ``message``: ``outcome`` tells ``unknown`` from ``wrong-details``.
    """

    outcome: Outcome
    message: str

    @property
    def registered(self) -> bool:
        """True when the member is registered now (just now or before)."""
        return self.outcome in (Outcome.REGISTERED, Outcome.ALREADY_REGISTERED)


@dataclass(frozen=True)
class RegistrationWindow:
    stage: str
    opens_at: datetime.datetime
    closes_at: datetime.datetime


@dataclass(frozen=True)
class CodeRequest:
    """The answer to a code request; the same words whether or not the card number exists."""

    message: str


@dataclass(frozen=True)
class ClosedRegistration:
    stage: str
    uuid: str
    eligible: int
    registered: int
    electorate: bytes  # the published electorate.json
    digest: str


@dataclass(frozen=True)
class RegistrationStats:
    stage: str
    status: str
    opens_at: datetime.datetime | None
    closes_at: datetime.datetime | None
    attempts: dict[str, int]  # every outcome, zeros included
    registered: int
    eligible: int | None  # None until the electorate is frozen
    by_method: dict[str, int]


class RegisteredMember(NamedTuple):
    """A registered member as the credential authority needs them (``weight`` None: 1)."""

    card_number: str
    first_name: str
    last_name: str
    email: str
    street: str
    city: str
    postal_code: str
    state: str
    country: str
    local: str
    weight: int | None


# -- the window -------------------------------------------------------------------------------


def _member_stage(
    session: Session, stage_key: str, *, for_update: bool = False
) -> tuple[StageRow, Stage]:
    row, stage = stage_row(session, stage_key, for_update=for_update)
    if stage.electorate != MEMBERS:
        raise DomainError(
            "registration.council",
            f"stage {stage_key}'s electorate is {stage.electorate!r}: it has no registration, "
            "everyone holding the role is registered when its electorate is frozen",
        )
    return row, stage


def _aware(name: str, value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError("registration.window", f"{name} needs a time zone (e.g. ...T09:00Z)")
    return value.astimezone(datetime.UTC)


def _when(at: datetime.datetime) -> str:
    return f"{at:%B} {at.day}, {at:%Y} at {at:%H:%M} UTC"


def do_open_registration(
    services: Services,
    stage_key: str,
    *,
    opens_at: datetime.datetime,
    closes_at: datetime.datetime,
) -> RegistrationWindow:
    """Set the registration window of a stage whose electorate is frozen; status
    ``registration``. While registration is open, calling it again moves the window."""
    opens_at, closes_at = _aware("opens", opens_at), _aware("closes", closes_at)
    with services.transaction() as tx:
        row, _ = _member_stage(tx.session, stage_key, for_update=True)
        if row.status not in ("draft", "registration"):
            raise DomainError(
                "registration.status",
                f"registration for {stage_key} cannot open: the stage is {row.status}",
            )
        if snapshot_of(tx.session, row) is None:
            raise DomainError(
                "registration.snapshot",
                f"freeze the electorate of {stage_key} first (unionvote roll freeze {stage_key})",
            )
        if closes_at <= opens_at:
            raise DomainError(
                "registration.window",
                f"the window closes ({closes_at.isoformat()}) before it opens "
                f"({opens_at.isoformat()})",
            )
        if closes_at <= tx.at:
            raise DomainError(
                "registration.window",
                f"the window would close in the past ({closes_at.isoformat()})",
            )
        rescheduled = row.status == "registration"
        row.registration_opens_at, row.registration_closes_at = opens_at, closes_at
        row.status = "registration"
        tx.audit(
            "registration.open",
            stage_key,
            opens_at=opens_at.isoformat(),
            closes_at=closes_at.isoformat(),
            rescheduled=rescheduled,
        )
    return RegistrationWindow(stage_key, opens_at, closes_at)


def _window_refusal(row: StageRow, title: str, now: datetime.datetime) -> str | None:
    opens, closes = row.registration_opens_at, row.registration_closes_at
    if row.status != "registration" or opens is None or closes is None:
        if row.status == "draft":
            return f"Registration for the {title} is not open."
        return f"Registration for the {title} is closed."
    if now < opens:
        return f"Registration for the {title} opens on {_when(opens)}."
    if now >= closes:
        return f"Registration for the {title} closed on {_when(closes)}."
    return None


# -- registering ------------------------------------------------------------------------------


def _fold_name(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isalnum()).casefold()


def _fold_postal(text: str, country: str) -> str:
    folded = "".join(ch for ch in text.upper() if ch.isalnum())
    return folded[:5] if country == "US" else folded


def _same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


def _hash_code(code: str, stage_id: int, member_id: int, salt: bytes, purpose: str = "") -> str:
    bound = f"{purpose}:{code}" if purpose else code  # a registration code has no tag
    digest = hashlib.scrypt(
        f"{stage_id}:{member_id}:{bound}".encode(),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        dklen=32,
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def _code_matches(stored: str, code: str, stage_id: int, member_id: int, purpose: str) -> bool:
    salt = bytes.fromhex(stored.split("$")[4])
    return hmac.compare_digest(stored, _hash_code(code, stage_id, member_id, salt, purpose))


def _card(text: str) -> str:
    return "".join(text.split()).upper()


def _find_member(session: Session, card_number: str) -> Member | None:
    card = _card(card_number)
    if not card or len(card) > 40:
        return None
    return session.scalar(select(Member).where(Member.card_number == card))


def find_member(session: Session, card_number: str) -> Member | None:
    """The member with this card number (spaces and case ignored), or None."""
    return _find_member(session, card_number)


def member_details_match(member: Member, last_name: str, postal_code: str) -> bool:
    """Whether the last name and postal code are the roll's, as registration compares them."""
    return _same(_fold_name(member.last_name), _fold_name(last_name)) and _same(
        _fold_postal(member.postal_code, member.country),
        _fold_postal(postal_code, member.country),
    )


def check_code(tx: Tx, row: StageRow, member: Member, code: str, *, purpose: str = "") -> bool:
    """Whether ``code`` is the member's outstanding emailed code for the stage, issued for
    ``purpose`` (see :func:`issue_code`); any outstanding code is spent either way (a code
    gets one chance)."""
    return _check_code(tx, row, member, code, purpose)


def issue_code(
    tx: Tx, row: StageRow, member: Member, *, purpose: str = ""
) -> tuple[str, datetime.datetime] | None:
    """A new six-digit code for the member and the stage, and when it expires; ``None`` if
    one was issued less than :data:`CODE_INTERVAL` ago. Only its hash is stored, bound to
    the stage, the member and ``purpose`` (``""`` for registration; another word makes a
    code that only :func:`check_code` with the same word accepts). The member's unspent
    codes are replaced. The caller mails the code after the transaction commits."""
    last = tx.session.scalar(
        select(func.max(OneTimeCode.expires_at)).where(
            OneTimeCode.stage_id == row.id, OneTimeCode.member_id == member.id
        )
    )
    if last is not None and last - CODE_LIFETIME + CODE_INTERVAL > tx.at:
        return None
    tx.session.execute(
        delete(OneTimeCode).where(
            OneTimeCode.stage_id == row.id,
            OneTimeCode.member_id == member.id,
            OneTimeCode.used_at.is_(None),
        )
    )
    code = f"{secrets.randbelow(10**6):06d}"
    expires = tx.at + CODE_LIFETIME
    tx.session.add(
        OneTimeCode(
            stage_id=row.id,
            member_id=member.id,
            code_hash=_hash_code(code, row.id, member.id, secrets.token_bytes(16), purpose),
            expires_at=expires,
            used_at=None,
        )
    )
    return code, expires


def spend_time_like_a_code(code: str, stage_id: int) -> None:
    """As slow as checking a real code, for a card number that matches no member."""
    _hash_code(code, stage_id, 0, secrets.token_bytes(16))


def _check_code(tx: Tx, row: StageRow, member: Member, code: str, purpose: str = "") -> bool:
    outstanding = tx.session.scalars(
        select(OneTimeCode).where(
            OneTimeCode.stage_id == row.id,
            OneTimeCode.member_id == member.id,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.expires_at > tx.at,
        )
    ).all()
    typed = code.strip()
    if not outstanding:  # as slow as a real check: timing does not tell whether a code exists
        _hash_code(typed, row.id, member.id, secrets.token_bytes(16))
    matched = any(
        _code_matches(c.code_hash, typed, row.id, member.id, purpose) for c in outstanding
    )
    for item in outstanding:  # used, or spent by a wrong guess: a code gets one chance
        item.used_at = tx.at
    return matched


def _ineligible_message(
    tx: Tx, row: StageRow, member: Member, snapshot: EligibilitySnapshot, title: str
) -> str:
    if not member.in_roll:
        reasons: tuple[str, ...] = ("you are no longer on the membership roll",)
    else:
        reasons = stage_rule(tx.session, row.key).reasons(
            country=member.country,
            dues_status=member.dues_status,
            joined_on=member.joined_on,
            council_role=member.council_role,
        )
    if not reasons:  # eligible now, but not in the electorate that was frozen and published
        reasons = (
            "you were not eligible when the list of eligible members was frozen on "
            f"{snapshot.taken_at:%B} {snapshot.taken_at.day}, {snapshot.taken_at:%Y}",
        )
    return (
        f"You cannot register for the {title}: {'; '.join(reasons)}. If you think the roll "
        "is wrong, contact the election committee."
    )


def _attempt(
    tx: Tx,
    row: StageRow,
    stage: Stage,
    card_number: str,
    last_name: str | None,
    postal_code: str | None,
    code: str | None,
) -> tuple[RegistrationOutcome, Member | None]:
    title = stage.title
    refusal = _window_refusal(row, title, tx.at)
    if refusal is not None:
        return RegistrationOutcome(Outcome.OUTSIDE_WINDOW, refusal), None
    member = _find_member(tx.session, card_number)
    if member is None:
        if code is not None:  # as slow as checking a real code: timing tells nothing either
            _hash_code(code, row.id, 0, secrets.token_bytes(16))
        return RegistrationOutcome(Outcome.UNKNOWN, NO_MATCH), None
    if code is not None:
        matched = _check_code(tx, row, member, code)
        method = "code"
    else:
        assert last_name is not None and postal_code is not None
        matched = _same(_fold_name(member.last_name), _fold_name(last_name)) and _same(
            _fold_postal(member.postal_code, member.country),
            _fold_postal(postal_code, member.country),
        )
        method = "details"
    if not matched:
        return RegistrationOutcome(Outcome.WRONG_DETAILS, NO_MATCH), None

    snapshot = snapshot_of(tx.session, row)
    assert snapshot is not None  # registration opens only on a frozen electorate
    in_snapshot = tx.session.scalar(
        select(SnapshotEntry.member_id).where(
            SnapshotEntry.snapshot_id == snapshot.id, SnapshotEntry.member_id == member.id
        )
    )
    if in_snapshot is None:
        message = _ineligible_message(tx, row, member, snapshot, title)
        return RegistrationOutcome(Outcome.NOT_ELIGIBLE, message), member
    already = _existing(tx.session, row, member)
    if already is None:
        try:
            with tx.session.begin_nested():
                tx.session.add(
                    Registration(stage_id=row.id, member_id=member.id, at=tx.at, method=method)
                )
        except IntegrityError:  # registered at the same instant by a concurrent request
            already = _existing(tx.session, row, member)
        else:
            return RegistrationOutcome(
                Outcome.REGISTERED,
                f"You are registered for the {title}. The independent credential authority "
                "will send you your voting credential before voting opens.",
            ), member
    since = f" since {_when(already.at)}" if already is not None else ""
    return RegistrationOutcome(
        Outcome.ALREADY_REGISTERED,
        f"You are already registered for the {title}{since}: there is nothing more to do. "
        "Your voting credential will come from the independent credential authority.",
    ), member


def _existing(session: Session, row: StageRow, member: Member) -> Registration | None:
    return session.scalar(
        select(Registration).where(
            Registration.stage_id == row.id, Registration.member_id == member.id
        )
    )


def do_register(
    services: Services,
    stage_key: str,
    *,
    card_number: str,
    last_name: str | None = None,
    postal_code: str | None = None,
    code: str | None = None,
) -> RegistrationOutcome:
    """One registration attempt, with last name and postal code, or with an emailed code.

    The answer is a :class:`RegistrationOutcome` (a refusal is an answer, not an error); only
    a request that gives neither second fact, or both, raises."""
    by_details = last_name is not None or postal_code is not None
    if by_details == (code is not None) or (by_details and not (last_name and postal_code)):
        raise DomainError(
            "registration.factor",
            "give the last name and the postal code, or the emailed code (one of the two)",
        )
    with services.transaction() as tx:
        row, stage = _member_stage(tx.session, stage_key)
        outcome, member = _attempt(tx, row, stage, card_number, last_name, postal_code, code)
        tx.session.add(RegistrationAttempt(stage_id=row.id, at=tx.at, outcome=outcome.outcome))
        if member is not None:
            tx.audit(
                "registration.register",
                member.card_number,
                stage=stage_key,
                outcome=outcome.outcome.value,
                method="code" if code is not None else "details",
            )
        else:  # nothing the person typed is logged: the card number may be a stranger's guess
            tx.audit("registration.refused", stage_key, outcome=outcome.outcome.value)
    return outcome


CODE_SENT = (
    "If this card number is on the roll with an email address, a one-time code is on its way "
    "to that address. It works once, for 30 minutes."
)


_MONTHS_ES: Final = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
                     "septiembre", "octubre", "noviembre", "diciembre")  # fmt: skip

_CODE_TEXTS: Final = {
    "en": {
        "subject": "Your registration code for the {title}",
        "body": (
            "Hello {name},\n\n"
            "Your one-time code to register for the {title} ({union}) is:\n\n"
            "    {code}\n\n"
            "It works once, until {until}. Enter it with your card number on the registration "
            "page.\n\n"
            "If you did not ask for this code, you can ignore this message: nobody can register "
            "in your name without it.\n"
        ),
    },
    "es": {
        "subject": "Su código para inscribirse: {title}",
        "body": (
            "Hola, {name}:\n\n"
            "Su código de un solo uso para inscribirse en {title} ({union}) es:\n\n"
            "    {code}\n\n"
            "Funciona una sola vez, hasta el {until}. Escríbalo con su número de miembro en la "
            "página de inscripción.\n\n"
            "Si usted no pidió este código, puede ignorar este mensaje: nadie puede inscribirse "
            "en su nombre sin él.\n"
        ),
    },
}


def _until(at: datetime.datetime, language: str) -> str:
    if language == "es":
        return f"{at.day} de {_MONTHS_ES[at.month - 1]} de {at:%Y} a las {at:%H:%M} UTC"
    return _when(at)


def _code_mail(
    member: Member, title: str, union: str, code: str, expires: datetime.datetime, language: str
) -> Mail:
    language = language if language in _CODE_TEXTS else "en"
    texts = _CODE_TEXTS[language]
    fields = {
        "name": member.first_name or member.last_name,
        "title": title,
        "union": union,
        "code": code,
        "until": _until(expires, language),
    }
    return Mail(
        to=member.email,
        subject=texts["subject"].format(**fields),
        text=texts["body"].format(**fields),
        language=language,
    )


def do_request_code(
    services: Services, stage_key: str, card_number: str, mailer: Mailer, *, language: str = "en"
) -> CodeRequest:
    """Email a six-digit registration code to the address the roll has for this card number,
    in ``language`` (``en`` or ``es``; any other: English), after the transaction commits.
    The answer does not say whether the card exists, and every path does one code hash's
    work."""
    with services.transaction() as tx:
        row, stage = _member_stage(tx.session, stage_key)
        refusal = _window_refusal(row, stage.title, tx.at)
        if refusal is not None:
            return CodeRequest(refusal)
        member = _find_member(tx.session, card_number)
        if member is None or not member.in_roll or not member.email:
            spend_time_like_a_code("", row.id)  # as long as issuing one
            tx.audit("registration.code", stage_key, sent=False)
            return CodeRequest(CODE_SENT)
        issued = issue_code(tx, row, member)
        if issued is None:
            spend_time_like_a_code("", row.id)
            tx.audit(
                "registration.code",
                member.card_number,
                stage=stage_key,
                sent=False,
                reason="a code was sent less than a minute ago",
            )
            return CodeRequest(CODE_SENT)
        code, expires = issued
        union = load_process(tx.session).process.union
        mail = _code_mail(member, stage.title, union, code, expires, language)
        tx.after_commit(lambda: _send(mailer, mail))
        tx.audit(
            "registration.code",
            member.card_number,
            stage=stage_key,
            sent=True,
            language=mail.language,
        )
    return CodeRequest(CODE_SENT)


def _send(mailer: Mailer, mail: Mail) -> None:
    mailer.send(mail)


# -- closing, and what it gives -------------------------------------------------------------


def _registered_count(session: Session, row: StageRow) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Registration).where(Registration.stage_id == row.id)
        )
        or 0
    )


def do_close_registration(services: Services, stage_key: str) -> ClosedRegistration:
    """Close registration: the electorate is final. Fixes the election's uuid, publishes
    ``electorate.json`` and moves the stage to ``registration-closed``. Closing before the
    window's end is allowed (the recorded closing time becomes now); closing twice is not."""
    with services.transaction() as tx:
        row, _ = _member_stage(tx.session, stage_key, for_update=True)
        if row.status == "draft":
            raise DomainError("registration.status", f"registration for {stage_key} never opened")
        if row.status != "registration":
            raise DomainError(
                "registration.closed", f"registration for {stage_key} is already closed"
            )
        opens, closes = row.registration_opens_at, row.registration_closes_at
        assert opens is not None and closes is not None
        if tx.at < opens:
            raise DomainError(
                "registration.window",
                f"registration for {stage_key} has not opened yet ({_when(opens)}); "
                "move the window with `unionvote registration open` instead",
            )
        early = tx.at < closes
        if early:
            row.registration_closes_at = tx.at
        snapshot = snapshot_of(tx.session, row)
        assert snapshot is not None
        registered = _registered_count(tx.session, row)
        row.uuid = row.uuid or new_uuid()
        row.status = "registration-closed"
        content = publish_electorate(
            tx, row, snapshot, stage_rule(tx.session, stage_key), registered
        )
        tx.audit(
            "registration.close",
            stage_key,
            uuid=row.uuid,
            eligible=snapshot.count,
            registered=registered,
            early=early,
            electorate_sha256=hashlib.sha256(content).hexdigest(),
        )
    return ClosedRegistration(
        stage_key,
        row.uuid,
        snapshot.count,
        registered,
        content,
        hashlib.sha256(content).hexdigest(),
    )


def do_register_all(services: Services, stage_key: str) -> int:
    """Register every member of the frozen electorate not yet registered (for simulations and
    rehearsals, while registration is open); returns how many were registered by this call."""
    with services.transaction() as tx:
        row, _ = _member_stage(tx.session, stage_key, for_update=True)
        if row.status != "registration":
            raise DomainError(
                "registration.status",
                f"registration for {stage_key} is not open (the stage is {row.status})",
            )
        snapshot = snapshot_of(tx.session, row)
        assert snapshot is not None
        before = _registered_count(tx.session, row)
        added = register_snapshot(tx, row, snapshot, method="bulk") - before
        tx.audit("registration.register-all", stage_key, registered=added)
    return added


def registration_stats(session: Session, stage_key: str) -> RegistrationStats:
    """Counts per outcome, registrations (by method) and the size of the electorate."""
    row, _ = stage_row(session, stage_key)
    attempts = {outcome.value: 0 for outcome in Outcome}
    for outcome, count in session.execute(
        select(RegistrationAttempt.outcome, func.count())
        .where(RegistrationAttempt.stage_id == row.id)
        .group_by(RegistrationAttempt.outcome)
    ):
        attempts[outcome] = int(count)
    by_method = {
        method: int(count)
        for method, count in session.execute(
            select(Registration.method, func.count())
            .where(Registration.stage_id == row.id)
            .group_by(Registration.method)
            .order_by(Registration.method)
        )
    }
    snapshot = snapshot_of(session, row)
    return RegistrationStats(
        stage=stage_key,
        status=row.status,
        opens_at=row.registration_opens_at,
        closes_at=row.registration_closes_at,
        attempts=attempts,
        registered=sum(by_method.values()),
        eligible=snapshot.count if snapshot is not None else None,
        by_method=by_method,
    )


def registered_members(session: Session, stage_key: str) -> Iterator[RegisteredMember]:
    """The registered members of a stage, by card number, streamed: the credential
    authority's input (``registered.csv``)."""
    row, _ = stage_row(session, stage_key)
    snapshot = snapshot_of(session, row)
    if snapshot is None:
        return
    query = (
        select(
            Member.card_number,
            Member.first_name,
            Member.last_name,
            Member.email,
            Member.street,
            Member.city,
            Member.postal_code,
            Member.state,
            Member.country,
            Member.local,
            SnapshotEntry.weight,
        )
        .join(Registration, Registration.member_id == Member.id)
        .join(
            SnapshotEntry,
            (SnapshotEntry.member_id == Member.id) & (SnapshotEntry.snapshot_id == snapshot.id),
        )
        .where(Registration.stage_id == row.id)
        .order_by(Member.card_number)
    )
    for partition in session.execute(query.execution_options(yield_per=10_000)).partitions():
        for found in partition:
            yield RegisteredMember(*found)
