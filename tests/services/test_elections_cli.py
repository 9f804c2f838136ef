"""``unionvote election``: the committee's commands, on a SQLite file through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_elections import JOBS, NONE, STAGE, A, B, make_vote
from typer.testing import CliRunner

from unionvote.cli.election import app
from unionvote.storage.database import Database
from unionvote.verify import verify_record

runner = CliRunner()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'unionvote.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def run(*args: str, code: int = 0) -> str:
    outcome = runner.invoke(app, list(args))
    assert outcome.exit_code == code, outcome.output
    return outcome.output


def test_every_command_has_help() -> None:
    for command in (
        "setup",
        "close",
        "tally",
        "decryption-request",
        "add-decryption",
        "result",
        "export",
        "status",
    ):
        assert "Usage" in run(command, "--help")


def test_the_committee_runs_an_election_from_the_command_line(
    cli_database: Database, tmp_path: Path
) -> None:
    vote = make_vote(cli_database, roll=[("MI", "751")] * 4)
    for voter, choices in [(0, (A, JOBS)), (1, (B, NONE)), (2, (A, NONE)), (0, (B, JOBS))]:
        vote.cast(voter, choices)
    output = run("status", STAGE)
    assert "voting" in output and "Ballots received: 4; counted (last of each voter): 3" in output
    assert "closed" in run("close", STAGE)
    assert "voting has already ended" in run("close", STAGE, code=1)
    assert "not both" in run("tally", STAGE, "--workers", "2", "--scheduler", "tcp://x:1", code=2)
    unreachable = run("tally", STAGE, "--scheduler", "tcp://127.0.0.1:9", code=1)
    assert unreachable.startswith("error:") and "127.0.0.1:9" in unreachable, unreachable
    assert "closed" in run("status", STAGE)  # nothing was tallied
    assert "Tallied 3 ballots" in run("tally", STAGE, "--workers", "2")
    request = tmp_path / "request.json"
    run("decryption-request", STAGE, "--out", str(request))
    assert set(json.loads(request.read_bytes())) == {
        "uuid",
        "election",
        "election_hash",
        "encrypted_tally",
        "groups",
    }
    for owner in (1, 2, 3):
        answer = tmp_path / f"trustee-{owner}.json"
        answer.write_bytes(vote.trustee_file(request.read_bytes(), owner))
        assert f"trustee {owner} is checked" in run("add-decryption", STAGE, str(answer))
    again = run("add-decryption", STAGE, str(tmp_path / "trustee-1.json"), code=1)
    assert "trustee 1 has already decrypted" in again
    output = run("result", STAGE)
    assert "Ann Able" in output and "Bob Baker" in output
    record = tmp_path / "record.bel"
    assert "Wrote" in run("export", STAGE, "--out", str(record))
    report = verify_record(record)
    assert report.ok and report.result == [[1, 2, 0], [1, 0, 0]], report.verdict()


def test_setup_needs_the_key_ceremony(cli_database: Database) -> None:
    make_vote(cli_database, set_up=False)
    output = run(
        "setup", STAGE, "--opens", "2024-06-01T09:00:00Z", "--closes", "2024-06-08", code=1
    )
    assert output.startswith("error:") and "ceremony" in output, output
    assert "unknown-stage" in run("status", "unknown-stage", code=1)
