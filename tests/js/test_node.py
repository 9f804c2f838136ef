"""Runs the JavaScript protocol's tests (``node --test tests/js/``, Node's own test runner
against the shared vectors) as part of the Python suite, so the README's test command covers
both implementations."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
LIBSODIUM = ROOT / "node_modules" / "libsodium-wrappers-sumo"


def test_node_runs_the_javascript_protocol_tests() -> None:
    if NODE is None:
        pytest.skip(
            "NODE IS MISSING: the JavaScript protocol's tests (tests/js/*.test.mjs) did not run"
        )
    if not LIBSODIUM.is_dir():
        pytest.skip("node_modules is missing (run `npm ci`): the JavaScript tests did not run")
    done = subprocess.run(
        [NODE, "--test", "tests/js/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = "\n".join(line for line in done.stdout.splitlines() if line.startswith("# "))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "# fail 0" in summary and "# pass 0" not in summary, summary
