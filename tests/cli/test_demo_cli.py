"""`unionvote demo`: the IAM's whole process on synthetic members, as `make demo` runs it
(smaller: 400 members instead of 20,000; the shares come out the same by exact quotas)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from unionvote.cli.main import app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(app, ["demo", "--members", "400", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_demo_prints_the_iam_report_and_the_endorsement(demo: tuple[Path, str]) -> None:
    _, output = demo
    lines = output.splitlines()
    start = lines.index("IAM: General membership vote")
    footnote = next(i for i in range(start, len(lines)) if lines[i].startswith("* "))
    listed = [line for line in lines[start:footnote] if " – " in line]
    assert listed == [
        "Joe Biden – 61%",
        "Donald Trump – 17%",
        "Robert F. Kennedy Jr. – 7%",
        "Ron DeSantis – 7%",
    ]
    assert "* Candidates who received more than 2% of the vote are listed" in output
    assert "Totals by party" in output and "Democratic – 63%" in output
    assert "SIMULATION" in output
    # 400 members are too few for any local to reach 50 ballots: the report says so
    assert "Results by local: not shown, since no group reached 50 ballots." in output
    assert "endorses Joe Biden" in output
    assert output.count("unionvote verify: PASS") == 2


def test_the_demo_leaves_both_records_and_refuses_to_overwrite(demo: tuple[Path, str]) -> None:
    out, _ = demo
    for stage in ("membership-vote", "council-vote"):
        assert (out / "published" / stage / f"{stage}.bel").is_file()
        assert (out / "published" / stage / "manifest.json").is_file()
    again = CliRunner().invoke(app, ["demo", "--members", "400", "--out", str(out)])
    assert again.exit_code == 2
    assert "already exists" in again.output


def test_replace_never_deletes_a_directory_the_demo_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["demo", "--out", str(precious), "--replace"])
    assert result.exit_code == 2
    assert (precious / "keep.txt").read_text() == "mine"


@pytest.mark.belenios
def test_belenios_accepts_both_demo_records(demo: tuple[Path, str], belenios_verify) -> None:  # type: ignore[no-untyped-def]
    out, _ = demo
    for stage in ("membership-vote", "council-vote"):
        code, output = belenios_verify(out / "published" / stage / f"{stage}.bel")
        assert code == 0, output
