"""`unionvote report`, `unionvote council` and `unionvote endorse` on a SQLite file: the
report printed, shown in each format, exported and verified; the council's candidates, its
decision and the endorsement; refusals as one readable line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from publications import (
    COUNCIL,
    MEMBERSHIP,
    council_election,
    electorate_json,
    process_text,
    publish_membership,
    seed_election,
)
from typer.testing import CliRunner

from unionvote.cli.report import app, council_app, endorse
from unionvote.domain.publication import ELECTORATE_FILE, SUBTALLIES_FILE, parse_council_basis
from unionvote.services.context import Services
from unionvote.services.process import do_init_process
from unionvote.services.publication import read_published
from unionvote.storage.database import Database
from unionvote.verify import verify_record

runner = CliRunner()
endorse_app = typer.Typer()
endorse_app.command()(endorse)


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Services:
    url = f"sqlite:///{tmp_path / 'u.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    database = Database(url)
    database.upgrade()
    services = Services(database)
    do_init_process(services, process_text(), source_name="test.toml")
    membership = publish_membership(tmp_path / "built")
    files = {n: membership.files[n] for n in (ELECTORATE_FILE, SUBTALLIES_FILE)}
    seed_election(services, MEMBERSHIP, membership.built, files)
    return services


def invoke(application: typer.Typer, *args: str) -> tuple[int, str]:
    result = runner.invoke(application, list(args))
    return result.exit_code, result.output


def test_every_command_has_help() -> None:
    for application, command in [
        (app, "build"),
        (app, "show"),
        (app, "export"),
        (council_app, "derive"),
        (council_app, "decide"),
    ]:
        code, output = invoke(application, command, "--help")
        assert code == 0 and "Usage" in output, output
    code, output = invoke(endorse_app, "--help")
    assert code == 0 and "--decided-by" in output


def test_build_show_export_and_verify(services: Services, tmp_path: Path) -> None:
    code, output = invoke(app, "build", MEMBERSHIP, "--simulation")
    assert code == 0, output
    assert output.startswith("SIMULATION – not a real vote")
    assert "Ada Lovelace – 50%" in output and "report.json" in output
    code, shown = invoke(app, "show", MEMBERSHIP)
    assert code == 0 and shown == read_published(services, MEMBERSHIP, "report.txt").decode()
    code, shown = invoke(app, "show", MEMBERSHIP, "--format", "json")
    assert json.loads(shown)["stage"] == MEMBERSHIP
    code, shown = invoke(app, "show", MEMBERSHIP, "--format", "html")
    assert shown.startswith("<!DOCTYPE html>")
    code, output = invoke(app, "export", MEMBERSHIP, "--out", str(tmp_path / "out"))
    assert code == 0, output
    record = tmp_path / "out" / MEMBERSHIP / f"{MEMBERSHIP}.bel"
    assert f"unionvote verify {record}" in output.replace("\n", "")
    assert verify_record(record).ok


def test_council_decision_and_endorsement(services: Services, tmp_path: Path) -> None:
    assert invoke(app, "build", MEMBERSHIP)[0] == 0
    code, output = invoke(council_app, "derive", MEMBERSHIP, COUNCIL)
    assert code == 0, output
    assert "Ada Lovelace (Democratic)" in output and "Alan Turing (Republican)" in output
    basis = parse_council_basis(read_published(services, COUNCIL, "council.json"))
    built = council_election(tmp_path / "council.bel", process_text(), basis, [1, 1, 1, 0])
    seed_election(services, COUNCIL, built, {ELECTORATE_FILE: electorate_json(COUNCIL, 4, 4)})
    assert invoke(app, "build", COUNCIL)[0] == 0
    code, output = invoke(council_app, "decide", COUNCIL)
    assert code == 0, output
    assert "Alan Turing is endorsed by 3 of 4 votes (simple majority)." in output
    code, output = invoke(
        endorse_app, "--statement", "We endorse Alan Turing.", "--decided-by", "The council"
    )
    assert code == 0, output
    assert output.startswith("Test Union of Machinists endorses Alan Turing.")
    assert "../membership-vote/membership-vote.bel" in output


def test_refusals_are_one_line(services: Services) -> None:
    code, output = invoke(app, "show", MEMBERSHIP)
    assert code == 1 and "has not published report.txt" in output
    code, output = invoke(council_app, "decide", MEMBERSHIP)
    assert code == 1 and "no decision rule" in output and "Traceback" not in output
    code, output = invoke(endorse_app, "--statement", " ", "--decided-by", "x")
    assert code == 1 and "statement is empty" in output
    invoke(app, "build", MEMBERSHIP)
    code, output = invoke(app, "build", MEMBERSHIP)
    assert code == 1 and "already published" in output
