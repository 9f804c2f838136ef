"""Finding a ballot by its tracker, as a member does with their receipt."""

from __future__ import annotations

from pathlib import Path

from elections import Spec, build_election, payload_of, read_items
from typer.testing import CliRunner

from unionvote.cli.main import app
from unionvote.crypto.encoding import sha256_b64
from unionvote.record.messages import Question
from unionvote.verify.lookup import find_ballot

QUESTION = Question("Endorse?", ("Yes", "No"), 1, 1)


def test_trackers_are_found_and_a_revote_replaces_the_earlier_ballot(tmp_path: Path) -> None:
    spec = Spec((QUESTION,), voters=2, votes=((0, ((1, 0),)), (1, ((0, 1),)), (0, ((0, 1),))))
    record = tmp_path / "r.bel"
    build_election(record, spec)
    items = read_items(record)
    trackers = [sha256_b64(payload_of(items, "Ballot", n)[1]) for n in range(3)]
    first, second, third = (find_ballot(record, t) for t in trackers)
    assert first is not None and (first.position, first.ballots) == (1, 3)
    assert not first.counted  # voter 0 voted again
    assert second is not None and second.counted and second.voting_ended
    assert third is not None and third.counted
    spaced = " ".join(trackers[1][i : i + 4] for i in range(0, len(trackers[1]), 4)) + "="
    assert find_ballot(record, spaced) == second
    assert find_ballot(record, "not-a-tracker") is None

    runner = CliRunner()
    found = runner.invoke(app, ["find-ballot", str(record), trackers[0]])
    assert found.exit_code == 0
    assert "ballot 1 of 3" in found.output and "later ballot is the one counted" in found.output
    missing = runner.invoke(app, ["find-ballot", str(record), "nope"])
    assert missing.exit_code == 1 and "No ballot with this tracker" in missing.output
