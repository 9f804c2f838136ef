"""The verifier's tally: every batch comes back from the engine with the product of its ballots
that passed their own checks (weight 1 each), and the verifier corrects it afterwards for what
must not count as it was added — a revote's earlier ballot, a replay, an unlisted credential —
and for weights other than 1 (``verify.record``). Whatever the batches and workers, the tally
it recomputes must be the published one, and a wrong published tally must still be caught."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from elections import (
    Built,
    Spec,
    build_election,
    event_index,
    pick,
    read_items,
    sha256_hex,
    write_items,
)

from unionvote.crypto.credentials import PrivateCredential
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Question
from unionvote.verify import Report, verify_record

QUESTIONS = (
    Question("Which one?", ("Alpha", "Beta", "Gamma"), 1, 1),
    Question("Which others?", ("X", "Y"), 0, 2, blank=True),
)

WEIGHTED = Spec(
    questions=QUESTIONS,
    voters=5,
    weights=(3, 1, 2, 1, 7),
    votes=(
        (0, (pick(3, 0), pick(2, 0, 1))),
        (4, (pick(3, 2), pick(2, 1))),
        (1, (pick(3, 1), (0, 0))),
        (0, (pick(3, 1), pick(2, 0))),  # weight 3 revotes
        (2, (pick(3, 2), (0, 0))),
        (4, (pick(3, 0), (0, 0))),  # weight 7 revotes
        (0, (pick(3, 2), pick(2, 1))),  # and again
        (3, (pick(3, 0), pick(2, 1))),
    ),
    trustees="2of3",
    decrypt_with=(1, 2),
    seed=5150,
)


def _failed(report: Report) -> set[str]:
    return {c.name for c in report.checks.values() if c.failures}


@pytest.fixture(scope="module")
def weighted(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_election(tmp_path_factory.mktemp("weighted") / "weighted.bel", WEIGHTED)


@pytest.mark.parametrize(("workers", "batch_size"), [(1, 256), (1, 1), (2, 1), (2, 3)])
def test_weights_and_revotes_are_counted_as_published(
    weighted: Built, workers: int, batch_size: int
) -> None:
    report = verify_record(weighted.path, workers=workers, batch_size=batch_size)
    assert report.ok, report.verdict()
    assert report.result == weighted.expected
    assert report.ballots_counted == 5


def test_a_stranger_s_valid_ballot_is_not_counted(weighted: Built, tmp_path: Path) -> None:
    """A properly made ballot of a credential not on the list passes its own checks (the
    engine adds it to its batch's product) but must not count: the published tally, which
    does not count it, is found right; only the credential check fails."""
    items = read_items(weighted.path)
    stranger = PrivateCredential.generate(random.Random(7).randrange)
    ballot = make_ballot(
        weighted.election,
        weighted.election_hash,
        stranger,
        [pick(3, 1), pick(2, 0)],
        rng=random.Random(8).randrange,
    ).to_bytes()
    at = event_index(items, "EndBallots")
    items[at:at] = [("data", ballot), ("Ballot", sha256_hex(ballot))]
    path = tmp_path / "stranger.bel"
    write_items(path, items)
    for workers, batch_size in ((1, 256), (2, 1)):
        report = verify_record(path, workers=workers, batch_size=batch_size)
        assert _failed(report) == {"ballot.credential"}, report.verdict()
        assert report.result == weighted.expected


def test_a_published_tally_that_counts_a_replaced_ballot_is_caught(
    weighted: Built, tmp_path: Path
) -> None:
    """The corrections must not hide a wrong tally: a record whose voter of weight 7 casts a
    third ballot after the tally was computed (so the published tally counts the second one)
    fails the tally."""
    items = read_items(weighted.path)
    again = make_ballot(
        weighted.election,
        weighted.election_hash,
        weighted.credentials[4],
        [pick(3, 1), pick(2, 0)],
        rng=random.Random(9).randrange,
    ).to_bytes()
    at = event_index(items, "EndBallots")
    items[at:at] = [("data", again), ("Ballot", sha256_hex(again))]
    path = tmp_path / "late-revote.bel"
    write_items(path, items)
    for workers, batch_size in ((1, 256), (2, 2)):
        report = verify_record(path, workers=workers, batch_size=batch_size)
        assert "tally.encrypted" in _failed(report), report.verdict()
