"""Audited ballots (the booth's "Check the encryption"): ``verify_audited_ballot`` opens an
honest file to its answers and refuses a file with any field altered, naming the check; the
same vectors drive the browser's ``auditBallot`` (tests/js/audit.test.mjs)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from unionvote.cli.main import app
from unionvote.crypto.encoding import compact_json
from unionvote.verify.audited import AuditedBallotError, verify_audited_ballot

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "audits.json").read_text(encoding="utf-8")
)
VALID: list[dict[str, Any]] = VECTORS["valid"]
INVALID: list[dict[str, Any]] = VECTORS["invalid"]


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_an_honest_audited_ballot_opens_to_its_answers(case: dict[str, Any]) -> None:
    audited = verify_audited_ballot(compact_json(case["file"]))
    assert [list(row) for row in audited.answers] == case["file"]["answers"]
    assert audited.election_hash == case["file"]["election_hash"]
    # Indented JSON is as good as compact: the file is read, not hashed.
    assert verify_audited_ballot(json.dumps(case["file"], indent=2).encode()) == audited


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_an_altered_audited_ballot_is_refused_naming_the_check(case: dict[str, Any]) -> None:
    with pytest.raises(AuditedBallotError) as caught:
        verify_audited_ballot(compact_json(case["file"]))
    assert caught.value.check == case["check"]


def _flip_last_answer(file: dict[str, Any]) -> None:
    file["answers"][-1][-1] = 1 - file["answers"][-1][-1]


def _other_nonce(file: dict[str, Any]) -> None:
    file["randomness"][-1][-1] = "1"


def _ballot_uuid(file: dict[str, Any]) -> None:
    file["ballot"]["election_uuid"] = "x" * 14


ALTERATIONS = {
    "format": (lambda f: f.update(format="x"), "audit.format"),
    "election_hash": (
        lambda f: f.update(election_hash="A" + f["election_hash"][1:]),
        "audit.election",
    ),
    "election": (lambda f: f.update(election=f["election"] + " "), "audit.election"),
    "ballot": (_ballot_uuid, "ballot.election"),
    "randomness": (_other_nonce, "audit.randomness"),
    "answers": (_flip_last_answer, "audit.answers"),
}


def test_every_field_of_the_file_is_checked() -> None:
    """Each top-level field, altered on its own in every honest file, makes the check fail."""
    assert set(ALTERATIONS) == set(VALID[0]["file"])
    for case in VALID:
        for field, (alter, check) in ALTERATIONS.items():
            changed = copy.deepcopy(case["file"])
            alter(changed)
            with pytest.raises(AuditedBallotError) as caught:
                verify_audited_ballot(compact_json(changed))
            assert caught.value.check == check, (case["name"], field)


@pytest.mark.parametrize(
    ("content", "check"),
    [(b"not json", "audit.file"), (b"[]", "audit.file"), (b"{}", "audit.file")],
)
def test_a_file_that_is_not_an_audited_ballot_is_refused(content: bytes, check: str) -> None:
    with pytest.raises(AuditedBallotError) as caught:
        verify_audited_ballot(content)
    assert caught.value.check == check


def test_the_command_says_what_the_ballot_encrypts_or_which_check_failed(tmp_path: Path) -> None:
    runner = CliRunner()
    honest = next(c for c in VALID if len(c["file"]["answers"]) > 1)
    path = tmp_path / "audited.json"
    path.write_text(json.dumps(honest["file"]), encoding="utf-8")
    done = runner.invoke(app, ["check-audited-ballot", str(path)])
    assert done.exit_code == 0, done.output
    assert "OK: the ballot is valid and encrypts exactly these answers" in done.output
    assert honest["file"]["election_hash"] in done.output
    bad = next(c for c in INVALID if c["check"] == "audit.answers")
    path.write_text(json.dumps(bad["file"]), encoding="utf-8")
    refused = runner.invoke(app, ["check-audited-ballot", str(path)])
    assert refused.exit_code == 1
    assert "audit.answers" in refused.output
    missing = runner.invoke(app, ["check-audited-ballot", str(tmp_path / "none.json")])
    assert missing.exit_code == 2
