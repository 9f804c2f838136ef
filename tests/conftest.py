"""Shared test set-up: makes ``tests/support`` importable and runs Belenios's own verifier."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from elections import belenios_skip_reason, run_belenios_verify


@pytest.fixture
def belenios_verify() -> Callable[..., tuple[int, str]]:
    """``belenios_verify(path, suite=None) -> (exit code, output)``; skips the test, loudly, when
    Belenios's verifier cannot run here (not root, or the tool is missing)."""
    reason = belenios_skip_reason()
    if reason is not None:
        pytest.skip(reason)

    def run(path: Path, suite: str | None = None) -> tuple[int, str]:
        done = run_belenios_verify(path, suite)
        return done.returncode, done.stdout + done.stderr

    return run
