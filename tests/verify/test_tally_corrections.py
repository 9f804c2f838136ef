"""The verifier's tally: every batch comes back from the engine with the product of its ballots
that passed their own checks (weight 1 each), and the verifier corrects it afterwards for what
must not count as it was added — a revote's earlier ballot, a replay, an unlisted credential —
and for weights other than 1 (``verify.record``). Whatever the batches and workers, the tally
it recomputes must be the published one, and a wrong published tally must still be caught."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from elections import (
    Built,
    Item,
    Spec,
    build_election,
    event_index,
    pick,
    raw_entries,
    read_items,
    sha256_hex,
    write_items,
    write_raw,
)

from unionvote.crypto import fast
from unionvote.crypto.credentials import PrivateCredential
from unionvote.domain.tally import TallyAccumulator
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Question
from unionvote.verify import Report, verify_record
from unionvote.verify.ballots import BallotSetup, check_batch, parse_election, prepare

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


def _one_more_ballot(built: Built, credential: PrivateCredential, seed: int, path: Path) -> Path:
    """The record of ``built`` with one more ballot of ``credential`` just before EndBallots
    (after the tally was computed: the published tally does not count it)."""
    items = read_items(built.path)
    ballot = make_ballot(
        built.election,
        built.election_hash,
        credential,
        [pick(3, 1), pick(2, 0)],
        rng=random.Random(seed).randrange,
    ).to_bytes()
    at = event_index(items, "EndBallots")
    items[at:at] = [("data", ballot), ("Ballot", sha256_hex(ballot))]
    write_items(path, items)
    return path


def test_a_stranger_s_valid_ballot_is_not_counted(weighted: Built, tmp_path: Path) -> None:
    """A properly made ballot of a credential not on the list passes its own checks (the
    engine adds it to its batch's product) but must not count: the published tally, which
    does not count it, is found right; only the credential check fails."""
    stranger = PrivateCredential.generate(random.Random(7).randrange)
    path = _one_more_ballot(weighted, stranger, 8, tmp_path / "stranger.bel")
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
    path = _one_more_ballot(weighted, weighted.credentials[4], 9, tmp_path / "late-revote.bel")
    for workers, batch_size in ((1, 256), (2, 2)):
        report = verify_record(path, workers=workers, batch_size=batch_size)
        assert "tally.encrypted" in _failed(report), report.verdict()


# -- a hostile record: replays before and after a revote, strangers, a failing ballot twice ----


def _data(items: list[Item], digest: object) -> bytes:
    for kind, value in items:
        if kind == "data" and isinstance(value, bytes) and sha256_hex(value) == digest:
            return value
    raise KeyError(digest)


def _hostile(built: Built, path: Path) -> Path:
    items = read_items(built.path)
    events = [i for i, (kind, _) in enumerate(items) if kind == "Ballot"]
    ballots = [_data(items, items[i][1]) for i in events]  # the 8 ballots, in order
    stranger = make_ballot(
        built.election,
        built.election_hash,
        PrivateCredential.generate(random.Random(7).randrange),
        [pick(3, 1), pick(2, 0)],
        rng=random.Random(8).randrange,
    ).to_bytes()
    broken = json.loads(ballots[2])
    broken["signature"]["hash"] = "A" * 43  # its signature no longer holds
    bad = json.dumps(broken, separators=(",", ":")).encode()

    def entries(*contents: bytes) -> list[Item]:
        return [item for c in contents for item in (("data", c), ("Ballot", sha256_hex(c)))]

    end = event_index(items, "EndBallots")
    items[end:end] = entries(
        ballots[0], ballots[0], stranger, ballots[6], ballots[3], bad, stranger, ballots[5],
        ballots[1],
    )  # fmt: skip
    items[events[3] + 1 : events[3] + 1] = entries(ballots[0])  # after voter 0's revote
    items[events[0] + 1 : events[0] + 1] = entries(bad, stranger, ballots[0])  # before it
    write_items(path, items)
    return path


@pytest.mark.parametrize(("workers", "batch_size"), [(1, 256), (1, 1), (2, 1), (2, 3)])
def test_replays_strangers_and_failures_leave_the_tally_right(
    weighted: Built, tmp_path: Path, workers: int, batch_size: int
) -> None:
    path = _hostile(weighted, tmp_path / "hostile.bel")
    report = verify_record(path, workers=workers, batch_size=batch_size)
    assert _failed(report) == {"ballot.duplicate", "ballot.credential", "ballot.signature"}
    assert report.result == weighted.expected


def test_the_plain_path_gives_the_same_tally(weighted: Built, tmp_path: Path) -> None:
    """With libsodium alone (partial tallies travel as encoded elements), in worker
    processes that read the choice from the environment."""
    path = _hostile(weighted, tmp_path / "hostile.bel")
    code = (
        "import json, sys; from pathlib import Path; from unionvote.verify import verify_record; "
        f"r = verify_record(Path({str(path)!r}), workers=2, batch_size=2); "
        "print(json.dumps([r.arithmetic, sorted(c.name for c in r.checks.values() "
        "if c.failures), r.result]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, fast.ENVIRONMENT_VARIABLE: "libsodium"},
        check=True,
    )
    arithmetic, failed, result = json.loads(done.stdout.strip().splitlines()[-1])
    assert arithmetic == "libsodium"
    assert failed == ["ballot.credential", "ballot.duplicate", "ballot.signature"]
    assert result == weighted.expected


def test_a_break_after_the_tally_is_reported_the_same_with_corrections(tmp_path: Path) -> None:
    """The corrections pass reads the ballots again, never past them: a record broken after
    its tally reports the tally checked and the break, with weights as without."""
    reports = []
    for weights in (None, (2, 1, 1)):
        spec = Spec(
            questions=(Question("Which one?", ("A", "B"), 1, 1),),
            voters=3,
            weights=weights,
            votes=((0, (pick(2, 0),)), (1, (pick(2, 1),)), (2, (pick(2, 0),))),
            seed=3,
        )
        built = build_election(tmp_path / f"w{weights is not None}.bel", spec)
        entries = raw_entries(read_items(built.path))
        at = next(i for i, (_, c) in enumerate(entries) if b'"PartialDecryption"' in c)
        name, content = entries[at]
        entries[at] = (name, content.replace(b'"height":', b'"height": '))
        path = tmp_path / f"broken{weights is not None}.bel"
        write_raw(path, entries)
        reports.append(verify_record(path))
    for report in reports:
        assert report.phase == "tallied"
        assert report.checks["tally.encrypted"].passed
        assert report.stopped is not None
    assert reports[0].stopped.check == reports[1].stopped.check  # type: ignore[union-attr]


def test_partial_tallies_merge_the_same_in_any_form(weighted: Built) -> None:
    """A batch's partial tally in libdecaf's internal form, or as encoded elements (a worker
    whose libdecaf is another build, or none), merges into the same tally."""
    items = read_items(weighted.path)
    election_raw = next(
        v for k, v in items if k == "data" and isinstance(v, bytes) and b'"public_key"' in v
    )
    parse_election(election_raw)
    ballots = [_data(items, v) for k, v in items if k == "Ballot"]
    tallies = []
    for internal_format in (fast.internal_format(), "another build", None):
        setup = BallotSetup(
            election_raw, weighted.election_hash, fast.arithmetic(), internal_format
        )
        checked = check_batch(prepare(setup), ballots)
        assert all(o.failure is None for o in checked.outcomes)
        assert (checked.tally.internal_format is not None) == (
            internal_format is not None and internal_format == fast.internal_format()
        )
        merged = TallyAccumulator(weighted.election.questions)
        merged.merge_partial(checked.tally)
        tallies.append(merged.tally)
    assert tallies[0] == tallies[1] == tallies[2]
