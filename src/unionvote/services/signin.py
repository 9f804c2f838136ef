"""Signing in to the booth: a member's card number and a second fact (last name and postal
code as the roll has them, or an emailed one-time code), for one stage.

The booth needs no password: the secret that matters is the voting credential, which the
member types into the booth and which never leaves their browser. Signing in only tells the
server which member's credential a ballot must carry (``do_cast(member_card=...)``), so that a
ballot made with someone else's credential is refused.

As in registration, an unknown card number gets word for word the answer for wrong details,
and the second fact is checked before anything is said about the member's registration.
Failed attempts are counted in the audit log (``signin.failed``) under an opaque
``attempt_key`` that the caller makes for the card number *and* where the attempt came from
(the website: an HMAC of the number and the client's address under its secret): after
:data:`MAX_FAILURES` within :data:`FAILURE_WINDOW` that key is refused, whatever the details,
until the window passes. Counting per source means a stranger who knows a member's number
cannot lock the member out from elsewhere; counting numbers that match no member the same way
means the refusals do not tell real numbers from made-up ones. Nothing a stranger typed is
logged: a failure for a card number that matches no member is audited with the stage and the
opaque key only.

A member who prefers it (or who does not know how the roll spells their postal code) asks for
a one-time sign-in code by email (:func:`do_request_signin_code`): the registration codes'
machinery — six digits, only an scrypt hash stored, 30 minutes, one chance, one code a minute
per member — with the hash bound to the purpose ``signin``, so a registration code does not
sign in and a sign-in code does not register. The code goes, after the transaction commits,
to the roll's address of a member who holds a credential for the stage, in English or
Spanish; the answer is the same whether or not anyone was mailed. A mail server's refusal is
logged (without the address) and not told: telling it would tell that the card exists.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from unionvote.domain.election import Phase
from unionvote.domain.errors import DomainError
from unionvote.mail import Mail, Mailer, MailError
from unionvote.services.context import Services
from unionvote.services.process import load_process, stage_row
from unionvote.services.registration import (
    NO_MATCH,
    check_code,
    find_member,
    issue_code,
    member_details_match,
    spend_time_like_a_code,
)
from unionvote.storage.models import (
    AuditEntry,
    ElectionRow,
    Member,
    PublicCredentialRow,
    StageRow,
)

__all__ = [
    "CODE_SENT",
    "FAILURE_WINDOW",
    "MAX_FAILURES",
    "SIGNIN_PURPOSE",
    "CodeAnswer",
    "SignIn",
    "SignInCodeRequest",
    "SignInOutcome",
    "do_request_signin_code",
    "do_sign_in",
]

MAX_FAILURES: Final = 5
FAILURE_WINDOW: Final = datetime.timedelta(minutes=15)
SIGNIN_PURPOSE: Final = "signin"
"""Binds a sign-in code's hash to signing in (registration codes have no tag)."""

log = logging.getLogger("unionvote.signin")


class SignInOutcome(StrEnum):
    SIGNED_IN = "signed-in"
    UNKNOWN = "unknown"
    WRONG_DETAILS = "wrong-details"
    NOT_A_VOTER = "not-a-voter"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignIn:
    """The answer to an attempt. Show a person ``message`` only: ``outcome`` tells ``unknown``
    from ``wrong-details``. ``card_number`` is the roll's spelling, when signed in."""

    outcome: SignInOutcome
    message: str
    card_number: str | None = None
    stage_title: str = ""

    @property
    def signed_in(self) -> bool:
        return self.outcome is SignInOutcome.SIGNED_IN


def _locked_message() -> str:
    minutes = int(FAILURE_WINDOW.total_seconds() // 60)
    return (
        f"Too many attempts to sign in with this member number. Wait {minutes} minutes and try "
        "again, or contact the election committee."
    )


def _recent_failures(session: Session, attempt_key: str, since: datetime.datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "signin.failed",
                AuditEntry.subject == attempt_key,
                AuditEntry.at > since,
            )
        )
        or 0
    )


def _has_credential(session: Session, row: StageRow, member: Member) -> bool:
    found = session.scalar(
        select(PublicCredentialRow.id).where(
            PublicCredentialRow.stage_id == row.id, PublicCredentialRow.member_id == member.id
        )
    )
    return found is not None


def _stage_row(session: Session, stage_key: str) -> StageRow:
    """The stage's row by its key, in one query (a database holds one process, whose stage
    keys are unique): every sign-in looks it up, and ``stage_row`` also reads and parses the
    process file. An unknown key falls back to ``stage_row``, whose error names the stages.
    The row's title is the process file's (``do_init_process`` copied it)."""
    row = session.scalar(select(StageRow).where(StageRow.key == stage_key))
    return row if row is not None else stage_row(session, stage_key)[0]


def do_sign_in(
    services: Services,
    stage_key: str,
    card_number: str,
    *,
    attempt_key: str,
    last_name: str | None = None,
    postal_code: str | None = None,
    code: str | None = None,
) -> SignIn:
    """One sign-in attempt to vote in ``stage_key``; a refusal is an answer, not an error
    (only a request that gives neither second fact, or both, raises). ``attempt_key`` names
    the card number as typed and the attempt's source, opaquely (at most 64 characters):
    failures are counted under it, for known and unknown numbers alike."""
    by_details = last_name is not None or postal_code is not None
    if by_details == (code is not None) or (by_details and not (last_name and postal_code)):
        raise DomainError(
            "signin.factor",
            "give the last name and the postal code, or the emailed code (one of the two)",
        )
    if not attempt_key or len(attempt_key) > 64:
        raise DomainError("signin.source", "an attempt key is 1 to 64 characters")
    method = "code" if code is not None else "details"
    with services.transaction() as tx:
        row = _stage_row(tx.session, stage_key)
        if _recent_failures(tx.session, attempt_key, tx.at - FAILURE_WINDOW) >= MAX_FAILURES:
            tx.audit("signin.locked", attempt_key, stage=stage_key)
            return SignIn(SignInOutcome.LOCKED, _locked_message())
        member = find_member(tx.session, card_number)
        if member is None:
            if code is not None:
                spend_time_like_a_code(code, row.id)
            tx.audit(
                "signin.failed",
                attempt_key,
                stage=stage_key,
                method=method,
                outcome=SignInOutcome.UNKNOWN.value,
            )
            return SignIn(SignInOutcome.UNKNOWN, NO_MATCH)
        card = member.card_number
        if code is not None:
            matched = check_code(tx, row, member, code, purpose=SIGNIN_PURPOSE)
        else:
            assert last_name is not None and postal_code is not None
            matched = member_details_match(member, last_name, postal_code)
        if not matched:
            tx.audit("signin.failed", attempt_key, stage=stage_key, method=method, card=card)
            return SignIn(SignInOutcome.WRONG_DETAILS, NO_MATCH)
        if not member.in_roll or not _has_credential(tx.session, row, member):
            tx.audit("signin.not-a-voter", card, stage=stage_key)
            return SignIn(
                SignInOutcome.NOT_A_VOTER,
                f"You are not on the list of voters for the {row.title}: no voting credential "
                "was issued to you for it. If you registered, contact the election committee.",
            )
        tx.audit("signin.signed-in", card, stage=stage_key, method=method)
        return SignIn(
            SignInOutcome.SIGNED_IN,
            f"You are signed in to vote in the {row.title}.",
            card_number=card,
            stage_title=row.title,
        )


# -- a sign-in code by email ------------------------------------------------------------------


class CodeAnswer(StrEnum):
    SENT_IF_KNOWN = "sent-if-known"
    VOTING_NOT_OPEN = "voting-not-open"


CODE_SENT: Final = (
    "If this member number belongs to a voter in this vote with an email address on the roll, "
    "a sign-in code is on its way to that address. It works once, for 30 minutes."
)
_NOT_OPEN: Final = "Voting is not open now: there is nothing to sign in to."


@dataclass(frozen=True)
class SignInCodeRequest:
    """The answer to a code request: the same whether or not the card exists or was mailed
    (``answer`` only says whether voting is open)."""

    answer: CodeAnswer
    message: str


_TEXTS: Final = {
    "en": {
        "subject": "Your sign-in code for the {title}",
        "body": (
            "Hello {name},\n\n"
            "Your one-time code to sign in and vote in the {title} ({union}) is:\n\n"
            "    {code}\n\n"
            "It works once, until {until} UTC. Enter it with your member number on the "
            "sign-in page, in place of your last name and postal code.\n\n"
            "This code only signs you in. To vote you also need the voting credential from "
            "your letter or email.\n\n"
            "If you did not ask for this code, you can ignore this message: nobody can sign "
            "in as you without it, and nobody can vote for you without your voting "
            "credential.\n"
        ),
    },
    "es": {
        "subject": "Su código para iniciar sesión: {title}",
        "body": (
            "Hola, {name}:\n\n"
            "Su código de un solo uso para iniciar sesión y votar en {title} ({union}) es:\n\n"
            "    {code}\n\n"
            "Funciona una sola vez, hasta el {until} UTC. Escríbalo con su número de miembro "
            "en la página de inicio de sesión, en lugar de su apellido y su código postal.\n\n"
            "Este código solo sirve para iniciar sesión. Para votar necesita además la "
            "credencial de votación de su carta o correo electrónico.\n\n"
            "Si usted no pidió este código, puede ignorar este mensaje: nadie puede iniciar "
            "sesión en su nombre sin él, y nadie puede votar por usted sin su credencial de "
            "votación.\n"
        ),
    },
}


def _voting_open(session: Session, row: StageRow, now: datetime.datetime) -> bool:
    phase = session.scalar(select(ElectionRow.phase).where(ElectionRow.stage_id == row.id))
    if phase != Phase.VOTING.value:
        return False
    if row.voting_opens_at is not None and now < row.voting_opens_at:
        return False
    return row.voting_closes_at is None or now < row.voting_closes_at


def _send_quietly(mailer: Mailer, mail: Mail, card: str) -> None:
    try:
        mailer.send(mail)
    except MailError as error:  # not told to the person: it would tell that the card exists
        kind = "refused" if error.permanent else "not sent (temporary)"
        log.warning("a sign-in code for member %s was %s (code %s)", card, kind, error.code)


def do_request_signin_code(
    services: Services, stage_key: str, card_number: str, mailer: Mailer, *, language: str = "en"
) -> SignInCodeRequest:
    """Email a one-time sign-in code for ``stage_key`` to the roll's address for this card
    number, in ``language`` (``en`` or ``es``), after the transaction commits — if the card
    is a voter's in this stage, with an address, and no code went out in the last minute.
    The answer does not say which, and every path does one code hash's work (the website's
    mailer sends after the response, so the time does not tell either)."""
    with services.transaction() as tx:
        row, stage = stage_row(tx.session, stage_key)
        if not _voting_open(tx.session, row, tx.at):
            return SignInCodeRequest(CodeAnswer.VOTING_NOT_OPEN, _NOT_OPEN)
        sent = SignInCodeRequest(CodeAnswer.SENT_IF_KNOWN, CODE_SENT)
        member = find_member(tx.session, card_number)
        if member is None:
            spend_time_like_a_code("", row.id)  # as long as issuing one
            tx.audit("signin.code", stage_key, sent=False)
            return sent
        card = member.card_number
        if not (member.in_roll and member.email and _has_credential(tx.session, row, member)):
            spend_time_like_a_code("", row.id)
            tx.audit("signin.code", card, stage=stage_key, sent=False, reason="no voter address")
            return sent
        issued = issue_code(tx, row, member, purpose=SIGNIN_PURPOSE)
        if issued is None:
            spend_time_like_a_code("", row.id)
            tx.audit(
                "signin.code",
                card,
                stage=stage_key,
                sent=False,
                reason="a code was sent less than a minute ago",
            )
            return sent
        code, expires = issued
        texts = _TEXTS.get(language, _TEXTS["en"])
        fields = {
            "name": member.first_name or member.last_name,
            "title": stage.title,
            "union": load_process(tx.session).process.union,
            "code": code,
            "until": f"{expires:%Y-%m-%d %H:%M}",
        }
        mail = Mail(
            to=member.email,
            subject=texts["subject"].format(**fields),
            text=texts["body"].format(**fields),
            language=language if language in _TEXTS else "en",
        )
        tx.after_commit(lambda: _send_quietly(mailer, mail, card))
        tx.audit("signin.code", card, stage=stage_key, sent=True, language=mail.language)
    return sent
