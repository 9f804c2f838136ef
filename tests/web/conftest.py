"""Fixtures shared by the tests in tests/web: the browser (Debian's Chromium under Playwright)
and a voting site served by ``unionvote serve``; see browser_support.py."""

from __future__ import annotations

import pytest
from browser_support import chromium, chromium_skip_reason, page, voting_site

__all__ = ["chromium", "page", "voting_site"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reason = chromium_skip_reason()
    if reason is not None:
        line = "!" * 78
        for text in (
            line,
            "THE BROWSER TESTS DID NOT RUN (booth, accessibility, secrecy).",
            reason,
            line,
        ):
            terminalreporter.write_line(text, red=True, bold=True)
