"""The command line's composition root: settings from the environment, services, and errors
turned into one readable line and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.markup import escape

from unionvote.errors import UnionVoteError
from unionvote.services.context import Services
from unionvote.storage.database import DEFAULT_URL, Database

__all__ = ["Settings", "console", "errors", "fail", "open_services"]

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


class Settings(BaseSettings):
    """Read from the environment: ``DATABASE_URL`` (a SQLite file in the current directory by
    default; ``postgresql+psycopg://user@host/db`` for PostgreSQL)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")
    database_url: str = DEFAULT_URL


def open_services(*, actor: str = "committee", create: bool = False) -> Services:
    """Services on the configured database; it must be set up unless ``create``.

    Its connections are closed when the command ends (whatever the command), so no command
    leaves a connection open behind it."""
    database = Database(Settings().database_url)
    context = _current_context()
    if context is not None:
        context.call_on_close(database.dispose)
    if create:
        database.upgrade()
    else:
        database.require_schema()
    return Services(database, actor=actor)


def _current_context() -> Any:
    """The running command's context (Typer ≥ 0.22 carries its own copy of click's)."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # a Typer that runs on click itself
        from click import get_current_context  # type: ignore[no-redef]
    return get_current_context(silent=True)


def fail(message: str, code: int = 1) -> NoReturn:
    error_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """Turn any refusal into one plain line on stderr and exit code 1 (never a traceback)."""
    try:
        yield
    except UnionVoteError as error:
        fail(str(error))
