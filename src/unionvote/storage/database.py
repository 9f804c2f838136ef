"""Engines, sessions and migrations: SQLite by default, PostgreSQL when the URL says so."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from unionvote.storage.errors import StorageError

__all__ = ["DEFAULT_URL", "Database"]

DEFAULT_URL = "sqlite:///unionvote.db"
MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Durability first: a receipt is shown only after the commit reached the disk.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # Let SQLAlchemy, not the driver, open transactions, so that we can open them IMMEDIATE.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # Writers take the lock at BEGIN: two transactions never read the same state and then race.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One database: its engine, its sessions and its schema."""

    def __init__(self, url: str = DEFAULT_URL, *, echo: bool = False, pool_size: int = 20) -> None:
        """``pool_size``: connections kept open to a server database (PostgreSQL), as many
        again opened under a burst. SQLAlchemy's default (5) made a web server with dozens of
        request threads open and close a connection for most requests."""
        self.url = make_url(url)
        sizing: dict[str, Any] = {}
        if self.url.get_backend_name() != "sqlite":
            sizing = {"pool_size": pool_size, "max_overflow": pool_size}
        self.engine: Engine = create_engine(self.url, echo=echo, pool_pre_ping=True, **sizing)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def describe(self) -> str:
        """The URL without its password, for messages."""
        return self.url.render_as_string(hide_password=True)

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def upgrade(self) -> None:
        """Bring the schema up to date (creating it on an empty database)."""
        command.upgrade(self.alembic_config(), "head")

    def is_current(self) -> bool:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current == head

    def require_schema(self) -> None:
        if not inspect(self.engine).has_table("alembic_version") or not self.is_current():
            raise StorageError(
                "storage.schema",
                f"the database {self.describe()} is not set up; run `unionvote init` first",
            )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed if the block ends normally, else rolled back."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
