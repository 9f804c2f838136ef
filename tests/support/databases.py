"""Real databases for storage and service tests: a SQLite file, and PostgreSQL when it answers.

PostgreSQL tests get a fresh database each, copied from a migrated template (fast, isolated).
When no server answers at ``UNIONVOTE_TEST_POSTGRES`` (default 127.0.0.1:5432, user postgres),
those tests are skipped and the run says so in a banner at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from unionvote.storage.database import Database

POSTGRES_SERVER = os.environ.get(
    "UNIONVOTE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
TEMPLATE = f"unionvote_template_{os.getpid()}"
_state: dict[str, object] = {}


def postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run, or None when they can (checked once per run)."""
    if "reason" not in _state:
        try:
            engine = sa.create_engine(
                f"{POSTGRES_SERVER}/postgres", connect_args={"connect_timeout": 3}
            )
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            engine.dispose()
            _state["reason"] = None
        except sa.exc.OperationalError as error:
            _state["reason"] = f"no PostgreSQL server answers at {POSTGRES_SERVER}: {error.orig}"
    reason = _state["reason"]
    return reason if isinstance(reason, str) else None


def _admin() -> sa.Engine:
    return sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")


def _ensure_template() -> None:
    if _state.get("template"):
        return
    admin = _admin()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEMPLATE}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{TEMPLATE}"'))
    admin.dispose()
    template = Database(f"{POSTGRES_SERVER}/{TEMPLATE}")
    template.upgrade()
    template.dispose()
    _state["template"] = True


def drop_template() -> None:
    if _state.get("template"):
        admin = _admin()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEMPLATE}"'))
        admin.dispose()


def postgres_database() -> Iterator[Database]:
    _ensure_template()
    name = f"unionvote_test_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
    database = Database(f"{POSTGRES_SERVER}/{name}")
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_database(directory: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{directory / 'unionvote.db'}")
    database.upgrade()
    try:
        yield database
    finally:
        database.dispose()
