"""Shared test set-up: makes ``tests/support`` importable and runs Belenios's own verifier."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from databases import drop_template, postgres_database, postgres_unavailable, sqlite_database
from elections import belenios_skip_reason, run_belenios_verify

from unionvote.storage.database import Database


@pytest.fixture
def belenios_verify() -> Callable[..., tuple[int, str]]:
    """``belenios_verify(path, suite=None) -> (exit code, output)``; skips the test, loudly, when
    Belenios's verifier cannot run here (not root, or the tool is missing)."""
    reason = belenios_skip_reason()
    if reason is not None:
        pytest.skip(reason)

    def run(path: Path, suite: str | None = None) -> tuple[int, str]:
        done = run_belenios_verify(path, suite)
        # the verdict is the last line of stdout; notes such as a first chroot set-up go to stderr
        return done.returncode, done.stderr + done.stdout

    return run


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield from sqlite_database(tmp_path)
        return
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(f"POSTGRESQL NOT TESTED: {reason}")
    yield from postgres_database()


def pytest_sessionfinish(session: pytest.Session) -> None:
    drop_template()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reason = postgres_unavailable()
    if reason is not None:
        line = "!" * 78
        for text in (
            line,
            "PostgreSQL WAS NOT TESTED: storage and service tests ran on SQLite only.",
            reason,
            line,
        ):
            terminalreporter.write_line(text, red=True, bold=True)
