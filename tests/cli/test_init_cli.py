"""`unionvote init`: creates the database and loads the process once."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from unionvote.cli.main import app

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_init_loads_the_process_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'u.db'}")
    runner = CliRunner()
    first = runner.invoke(app, ["init", str(EXAMPLES / "iam-2024.toml")])
    assert first.exit_code == 0, first.output
    assert "membership-vote, council-vote" in first.output
    assert "sha256:" in first.output
    again = runner.invoke(app, ["init", str(EXAMPLES / "iam-2024.toml")])
    assert again.exit_code == 1
    assert "already holds a process" in again.output


def test_init_reports_a_bad_process_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'u.db'}")
    bad = tmp_path / "bad.toml"
    bad.write_text('[union]\nname = "X"\nshort_name = "X"\nbogus = 1\n')
    result = CliRunner().invoke(app, ["init", str(bad)])
    assert result.exit_code == 1
    assert "bad.toml:" in result.output
    assert not (tmp_path / "u.db").exists()  # nothing is created for a bad file


def test_commands_need_an_initialised_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from unionvote.cli.context import open_services
    from unionvote.storage.errors import StorageError

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(StorageError, match="unionvote init"):
        open_services()
