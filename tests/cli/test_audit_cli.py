"""`unionvote audit`: the log of actions, filtered, as text or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unionvote.cli.main import app

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_the_audit_log_lists_actions_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'u.db'}")
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(EXAMPLES / "iam-2024.toml")]).exit_code == 0
    roll = runner.invoke(app, ["roll", "import", str(EXAMPLES / "roll-sample.csv"), "--yes"])
    assert roll.exit_code == 0, roll.output
    text = runner.invoke(app, ["audit"])
    assert text.exit_code == 0, text.output
    assert text.output.index("process.load") < text.output.index("roll.import")
    lines = runner.invoke(app, ["audit", "--json", "--action", "roll."]).output.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["action"] for e in entries] == ["roll.import"]
    assert entries[0]["detail"]["rows"] == 30
    later = runner.invoke(app, ["audit", "--json", "--since", str(entries[0]["number"])])
    assert later.output.strip() == ""
