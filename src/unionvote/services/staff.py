"""Staff accounts: the election committee, observers and trustees who sign in to the staff
pages. Passwords are kept only as Argon2 hashes (argon2-cffi) and never logged.

Signing in behaves the same for an unknown username as for a wrong password (the same message,
and a hash is checked either way, so the time says little). Wrong passwords are counted per
account: after :data:`MAX_FAILED_ATTEMPTS` the account waits :data:`LOCKOUT` before it takes
another try, whatever the password. Every change and every sign-in is in the audit log; what a
stranger typed as a username is never kept.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from unionvote.domain.errors import DomainError
from unionvote.services.context import Services
from unionvote.storage.models import AuditEntry, StaffAccount

__all__ = [
    "LOCKOUT",
    "MAX_FAILED_ATTEMPTS",
    "MIN_PASSWORD_LENGTH",
    "Role",
    "StaffError",
    "StaffIdentity",
    "authenticate",
    "do_add_staff",
    "do_disable_staff",
    "do_set_password",
    "do_sign_out",
    "list_staff",
    "staff_identity",
]

MAX_FAILED_ATTEMPTS: Final = 5
LOCKOUT: Final = datetime.timedelta(minutes=15)
MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 1024
SIGN_OUT: Final = "staff.sign-out"
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]")
SIGN_IN_REFUSED: Final = (
    "The username or password is not right, or there were too many attempts "
    f"(then wait {LOCKOUT.seconds // 60} minutes)."
)


class Role(StrEnum):
    COMMITTEE = "committee"
    OBSERVER = "observer"
    TRUSTEE = "trustee"


class StaffError(DomainError):
    """A staff account action was refused; nothing was changed (but a failed sign-in counts)."""


@dataclass(frozen=True, slots=True)
class StaffIdentity:
    """Who is signed in (no password, no hash)."""

    username: str
    display_name: str
    role: Role
    trustee_position: int | None
    disabled: bool = False

    @property
    def actor(self) -> str:
        """How the audit log names them."""
        return f"staff:{self.username}"


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Checked when the username is unknown, so that both cases cost one Argon2 verification.
    return _hasher().hash("unionvote: no such account")


def _identity(row: StaffAccount) -> StaffIdentity:
    return StaffIdentity(
        row.username, row.display_name, Role(row.role), row.trustee_position, row.disabled
    )


def _check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise StaffError(
            "staff.username",
            "a username is 3 to 64 characters: lowercase letters, digits, '.', '_' or '-' "
            "(starting and ending with a letter or digit)",
        )
    return username


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(
            "staff.password", f"a password has at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise StaffError(
            "staff.password", f"a password has at most {MAX_PASSWORD_LENGTH} characters"
        )


def _account(session: Session, username: str, *, for_update: bool = False) -> StaffAccount:
    query = select(StaffAccount).where(StaffAccount.username == username)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise StaffError("staff.unknown", f"there is no staff account {username!r}")
    return row


def do_add_staff(
    services: Services,
    username: str,
    *,
    display_name: str,
    role: str,
    password: str,
    trustee_position: int | None = None,
) -> StaffIdentity:
    """Create a staff account. ``trustee_position`` only for a trustee (their position in the
    stages' trustee lists, as ``unionvote trustees status`` shows it)."""
    _check_username(username)
    if role not in {r.value for r in Role}:
        raise StaffError(
            "staff.role", f"the role must be one of {', '.join(r.value for r in Role)}"
        )
    if trustee_position is not None and (role != Role.TRUSTEE or trustee_position < 1):
        raise StaffError("staff.position", "only a trustee has a position, a number from 1")
    display_name = display_name.strip()
    if not display_name or len(display_name) > 200:
        raise StaffError("staff.name", "the display name is 1 to 200 characters")
    _check_password(password)
    hashed = _hasher().hash(password)
    with services.transaction() as tx:
        if tx.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)):
            raise StaffError("staff.exists", f"there is already a staff account {username!r}")
        row = StaffAccount(
            username=username,
            display_name=display_name,
            role=role,
            trustee_position=trustee_position,
            password_hash=hashed,
            created_at=tx.at,
            password_set_at=tx.at,
            disabled=False,
            failed_attempts=0,
        )
        tx.session.add(row)
        tx.audit("staff.add", username, role=role, trustee_position=trustee_position)
        return _identity(row)


def do_set_password(services: Services, username: str, password: str) -> None:
    """Set a new password (and clear the count of failed attempts and any wait)."""
    _check_password(password)
    hashed = _hasher().hash(password)
    with services.transaction() as tx:
        row = _account(tx.session, username, for_update=True)
        row.password_hash = hashed
        row.password_set_at = tx.at
        row.failed_attempts = 0
        row.locked_until = None
        tx.audit("staff.set-password", username)


def do_disable_staff(services: Services, username: str) -> None:
    """Disable an account: it can no longer sign in, and a signed-in session stops working."""
    with services.transaction() as tx:
        row = _account(tx.session, username, for_update=True)
        if row.disabled:
            raise StaffError("staff.disabled", f"the account {username!r} is already disabled")
        row.disabled = True
        tx.audit("staff.disable", username)


def list_staff(services: Services) -> list[StaffIdentity]:
    with services.db.sessions() as session:
        rows = session.scalars(select(StaffAccount).order_by(StaffAccount.username))
        return [_identity(row) for row in rows]


def staff_identity(
    services: Services, username: str, *, session_started: datetime.datetime | None = None
) -> StaffIdentity | None:
    """The account of a signed-in session, or None if it is gone or disabled — or, given
    when the session started, if its password was set or the account signed out since
    (a session ends for every device at either)."""
    with services.db.sessions() as session:
        row = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        if row is None or row.disabled:
            return None
        if session_started is not None:
            signed_out = session.scalar(
                select(AuditEntry.at)
                .where(AuditEntry.action == SIGN_OUT, AuditEntry.subject == row.username)
                .order_by(AuditEntry.id.desc())
                .limit(1)
            )
            ends = [_aware(row.password_set_at)]
            if signed_out is not None:
                ends.append(_aware(signed_out))
            if max(ends) > session_started:
                return None
        return _identity(row)


def do_sign_out(services: Services, username: str) -> None:
    """Sign the account out: every session of it started before now stops working (the
    sessions live in cookies; the time of the last sign-out is the audit log's)."""
    with services.transaction() as tx:
        row = tx.session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        if row is not None:
            tx.audit(SIGN_OUT, row.username)


def _aware(at: datetime.datetime) -> datetime.datetime:
    # SQLite hands back naive datetimes: they are UTC.
    return at.replace(tzinfo=datetime.UTC) if at.tzinfo is None else at


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(services: Services, username: str, password: str) -> StaffIdentity:
    """The account whose password this is; :class:`StaffError` ``staff.sign-in`` (one message
    for every reason) otherwise. A wrong password counts towards the account's limit."""
    password = password[:MAX_PASSWORD_LENGTH]
    with services.db.sessions() as session:
        row = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        stored = row.password_hash if row is not None else _dummy_hash()
    matches = _verify(stored, password)  # outside the transaction: Argon2 takes a while
    with services.transaction() as tx:
        row = tx.session.scalar(
            select(StaffAccount).where(StaffAccount.username == username).with_for_update()
        )
        if row is None:
            tx.audit("staff.sign-in-refused", "", reason="unknown username")
            outcome = None
        elif row.disabled:
            tx.audit("staff.sign-in-refused", row.username, reason="disabled")
            outcome = None
        elif row.locked_until is not None and row.locked_until > tx.at:
            tx.audit("staff.sign-in-refused", row.username, reason="waiting after failed attempts")
            outcome = None
        elif not matches or row.password_hash != stored:
            row.failed_attempts += 1
            if row.failed_attempts >= MAX_FAILED_ATTEMPTS:
                row.locked_until = tx.at + LOCKOUT
                row.failed_attempts = 0
            tx.audit("staff.sign-in-refused", row.username, reason="wrong password")
            outcome = None
        else:
            row.failed_attempts = 0
            row.locked_until = None
            row.last_login_at = tx.at
            if _hasher().check_needs_rehash(row.password_hash):
                row.password_hash = _hasher().hash(password)
            tx.audit("staff.sign-in", row.username, role=row.role)
            outcome = _identity(row)
    if outcome is None:
        raise StaffError("staff.sign-in", SIGN_IN_REFUSED)
    return outcome
