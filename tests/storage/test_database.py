"""The schema: migrations reach the models' shape on both backends; times stay UTC."""

from __future__ import annotations

import datetime

import pytest
from alembic import command
from sqlalchemy import select

from unionvote.services.context import FixedClock, Services
from unionvote.storage.database import Database
from unionvote.storage.errors import StorageError
from unionvote.storage.models import AuditEntry


def test_migrations_match_the_models(database: Database) -> None:
    assert database.is_current()
    command.check(database.alembic_config())  # raises if the models and migrations differ


def test_downgrade_then_upgrade(database: Database) -> None:
    command.downgrade(database.alembic_config(), "base")
    assert not database.is_current()
    with pytest.raises(StorageError, match="unionvote init"):
        database.require_schema()
    database.upgrade()
    database.require_schema()


def test_audit_entries_commit_with_the_change_and_keep_utc(database: Database) -> None:
    at = datetime.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
    )
    services = Services(database, FixedClock(at), actor="tester")
    with services.transaction() as tx:
        tx.audit("test.action", "subject", count=3)
    with pytest.raises(RuntimeError), services.transaction() as tx:
        tx.audit("test.rolled-back")
        raise RuntimeError("roll back")
    with database.transaction() as session:
        entries = session.scalars(select(AuditEntry)).all()
    assert [e.action for e in entries] == ["test.action"]
    assert entries[0].at == at and entries[0].at.tzinfo is not None
    assert entries[0].at.utcoffset() == datetime.timedelta(0)
