"""Staff accounts: Argon2 hashes, sign-in, the limit on failed attempts, disabling; every
action in the audit log and no password anywhere in the database."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import select

from unionvote.services.audit import audit_log
from unionvote.services.context import FixedClock, Services
from unionvote.services.staff import (
    LOCKOUT,
    MAX_FAILED_ATTEMPTS,
    Role,
    StaffError,
    authenticate,
    do_add_staff,
    do_disable_staff,
    do_set_password,
    list_staff,
    staff_identity,
)
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, StaffAccount

PASSWORD = "correct horse battery staple"
NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.UTC)


def services(database: Database) -> tuple[Services, FixedClock]:
    clock = FixedClock(NOW)
    return Services(database, clock, actor="committee"), clock


def everything_stored(database: Database) -> str:
    with database.transaction() as session:
        accounts = session.scalars(select(StaffAccount)).all()
        audit = session.scalars(select(AuditEntry)).all()
        return repr(
            [(a.username, a.display_name, a.password_hash) for a in accounts]
            + [(e.actor, e.action, e.subject, e.detail) for e in audit]
        )


def test_add_sign_in_and_audit(database: Database) -> None:
    s, _ = services(database)
    added = do_add_staff(
        s, "ana.ruiz", display_name="Ana Ruiz", role="committee", password=PASSWORD
    )
    assert added.role is Role.COMMITTEE and added.actor == "staff:ana.ruiz"
    identity = authenticate(s, "ana.ruiz", PASSWORD)
    assert identity.username == "ana.ruiz" and identity.display_name == "Ana Ruiz"
    stored = everything_stored(database)
    assert PASSWORD not in stored
    with database.transaction() as session:
        assert session.scalar(select(StaffAccount.password_hash)).startswith("$argon2id$")
    actions = [(line.action, line.subject) for line in audit_log(s)]
    assert actions == [("staff.add", "ana.ruiz"), ("staff.sign-in", "ana.ruiz")]
    assert [a.username for a in list_staff(s)] == ["ana.ruiz"]


def test_bad_accounts_are_refused_and_nothing_is_stored(database: Database) -> None:
    s, _ = services(database)
    cases = [
        ({"username": "A"}, "staff.username"),
        ({"username": "ana ruiz"}, "staff.username"),
        ({"role": "admin"}, "staff.role"),
        ({"password": "short"}, "staff.password"),
        ({"display_name": "  "}, "staff.name"),
        ({"trustee_position": 2}, "staff.position"),
        ({"role": "trustee", "trustee_position": 0}, "staff.position"),
    ]
    for change, check in cases:
        args = {
            "username": "bob",
            "display_name": "Bob",
            "role": "observer",
            "password": PASSWORD,
            **change,
        }
        username = args.pop("username")
        with pytest.raises(StaffError) as caught:
            do_add_staff(s, username, **args)
        assert caught.value.check == check
        assert PASSWORD not in str(caught.value)
    assert list_staff(s) == []
    do_add_staff(s, "bob", display_name="Bob", role="observer", password=PASSWORD)
    with pytest.raises(StaffError) as caught:
        do_add_staff(s, "bob", display_name="Bob 2", role="observer", password=PASSWORD)
    assert caught.value.check == "staff.exists"


def test_unknown_user_and_wrong_password_get_the_same_answer(database: Database) -> None:
    s, _ = services(database)
    do_add_staff(s, "carla", display_name="Carla", role="observer", password=PASSWORD)
    with pytest.raises(StaffError) as unknown:
        authenticate(s, "nobody-here", PASSWORD)
    with pytest.raises(StaffError) as wrong:
        authenticate(s, "carla", "not the password at all")
    assert str(unknown.value) == str(wrong.value)
    assert unknown.value.check == "staff.sign-in"
    stored = everything_stored(database)
    assert "nobody-here" not in stored  # what a stranger typed is not kept
    assert "not the password at all" not in stored


def test_failed_attempts_lock_the_account_for_a_while(database: Database) -> None:
    s, clock = services(database)
    do_add_staff(
        s, "dan", display_name="Dan", role="trustee", password=PASSWORD, trustee_position=2
    )
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(StaffError):
            authenticate(s, "dan", "wrong password, again")
    with pytest.raises(StaffError):  # the right password waits too
        authenticate(s, "dan", PASSWORD)
    clock.advance(seconds=LOCKOUT.total_seconds() - 1)
    with pytest.raises(StaffError):
        authenticate(s, "dan", PASSWORD)
    clock.advance(seconds=2)
    assert authenticate(s, "dan", PASSWORD).trustee_position == 2
    reasons = [line.detail for line in audit_log(s, action="staff.sign-in-refused")]
    assert sum("wrong password" in r for r in reasons) == MAX_FAILED_ATTEMPTS
    assert sum("waiting" in r for r in reasons) == 2


def test_a_success_resets_the_count(database: Database) -> None:
    s, _ = services(database)
    do_add_staff(s, "eve", display_name="Eve", role="committee", password=PASSWORD)
    for _ in range(2):
        for _ in range(MAX_FAILED_ATTEMPTS - 1):
            with pytest.raises(StaffError):
                authenticate(s, "eve", "wrong password, again")
        authenticate(s, "eve", PASSWORD)


def test_disable_and_reset(database: Database) -> None:
    s, _ = services(database)
    do_add_staff(s, "fay", display_name="Fay", role="observer", password=PASSWORD)
    assert staff_identity(s, "fay") is not None
    do_disable_staff(s, "fay")
    assert staff_identity(s, "fay") is None
    with pytest.raises(StaffError):
        authenticate(s, "fay", PASSWORD)
    with pytest.raises(StaffError) as caught:
        do_disable_staff(s, "fay")
    assert caught.value.check == "staff.disabled"
    do_add_staff(s, "gus", display_name="Gus", role="observer", password=PASSWORD)
    do_set_password(s, "gus", "a brand new passphrase")
    with pytest.raises(StaffError):
        authenticate(s, "gus", PASSWORD)
    assert authenticate(s, "gus", "a brand new passphrase").username == "gus"
    with pytest.raises(StaffError) as caught:
        do_set_password(s, "nobody", "a brand new passphrase")
    assert caught.value.check == "staff.unknown"
    assert "a brand new passphrase" not in everything_stored(database)
    actions = [line.action for line in audit_log(s)]
    assert "staff.disable" in actions and "staff.set-password" in actions
