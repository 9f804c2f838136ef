"""``ElectionBox``: what it accepts, what it refuses (writing nothing), and that a crash loses
nothing it acknowledged."""

from __future__ import annotations

import dataclasses
import gc
import json
import random
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from elections import (
    Built,
    Spec,
    advance,
    ballot_bytes,
    blank,
    create_election,
    decrypt_all,
    pick,
    resign_ballot,
)

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.encoding import sha256_b64
from unionvote.domain.election import ElectionBox, Phase
from unionvote.domain.errors import ElectionError
from unionvote.errors import UnionVoteError
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Question
from unionvote.verify import verify_record

SPEC = Spec(
    questions=(
        Question("Endorse?", ("Yes", "No"), 1, 1),
        Question("Also?", ("A", "B", "C"), 0, 2, blank=True),
    ),
    voters=4,
    votes=(
        (0, (pick(2, 0), pick(3, 0))),
        (1, (pick(2, 1), blank(3))),
        (2, (pick(2, 0), pick(3, 1, 2))),
    ),
    trustees="2of3",
    decrypt_with=(1, 2),
    seed=31337,
)


@pytest.fixture
def election(tmp_path: Path) -> Iterator[tuple[ElectionBox, Built]]:
    box, built = create_election(tmp_path / "record.bel", SPEC)
    try:
        yield box, built
    finally:
        box.close_file()


def refused(box: ElectionBox, check: str, action, *args) -> ElectionError:
    """Run ``action``; it must raise ElectionError(check) and leave the archive unchanged."""
    before = box.path.read_bytes()
    with pytest.raises(ElectionError) as caught:
        action(*args)
    assert caught.value.check == check, str(caught.value)
    assert box.path.read_bytes() == before, "a refused action changed the record"
    return caught.value


# -- voting -----------------------------------------------------------------------------------


def test_revote_replaces_the_earlier_ballot(election: tuple[ElectionBox, Built]) -> None:
    box, built = election
    first = box.cast(ballot_bytes(built, 0, (pick(2, 0), pick(3, 0))))
    assert not first.replaced_earlier_ballot and not first.already_recorded
    second = box.cast(ballot_bytes(built, 0, (pick(2, 1), blank(3))))
    assert second.replaced_earlier_ballot and not second.already_recorded
    assert second.tracker != first.tracker
    assert box.has_tracker(first.tracker) and box.has_tracker(second.tracker)
    assert box.ballots_received == 2 and box.voters_counted == 1
    box.close()
    tally = box.compute_tally()
    assert (tally.num_tallied, tally.total_weight) == (1, 1)
    decrypt_all(box, built)
    assert box.compute_result().result == ((0, 1), (1, 0, 0, 0))


def test_the_same_ballot_twice_is_recorded_once(election: tuple[ElectionBox, Built]) -> None:
    box, built = election
    raw = ballot_bytes(built, 1, (pick(2, 0), pick(3, 2)))
    first = box.cast(raw)
    before = box.path.read_bytes()
    again = box.cast(raw)
    assert again.already_recorded and not again.replaced_earlier_ballot
    assert again.tracker == first.tracker
    assert box.path.read_bytes() == before
    assert box.ballots_received == 1 and box.voters_counted == 1


def test_unregistered_credential_is_refused(election: tuple[ElectionBox, Built]) -> None:
    box, built = election
    stranger = PrivateCredential.generate(random.Random(5).randrange)
    ballot = make_ballot(
        box.election, box.election_hash, stranger, [pick(2, 0), blank(3)], rng=built.rng
    )
    refused(box, "ballot.credential", box.cast, ballot.to_bytes())
    assert box.ballots_received == 0


def test_ballot_with_a_bad_proof_is_refused(election: tuple[ElectionBox, Built]) -> None:
    box, built = election
    ballot = json.loads(ballot_bytes(built, 2, (pick(2, 1), pick(3, 0))))
    proof = ballot["answers"][1]["individual_proofs"][2][1]
    proof["challenge"] = str(int(proof["challenge"]) + 1)
    refused(box, "ballot.individual_proof", box.cast, resign_ballot(built, ballot, voter=2))


def test_ballot_for_another_election_is_refused(
    election: tuple[ElectionBox, Built], tmp_path: Path
) -> None:
    """A registered voter's ballot naming another election's fingerprint, validly signed."""
    box, built = election
    other_box, other = create_election(tmp_path / "other.bel", dataclasses.replace(SPEC, seed=1))
    other_box.close_file()
    ballot = json.loads(ballot_bytes(built, 0, (pick(2, 0), blank(3))))
    ballot["election_hash"] = other.election_hash
    refused(box, "ballot.election", box.cast, resign_ballot(built, ballot, voter=0))
    ballot["election_hash"] = built.election_hash
    ballot["election_uuid"] = other.uuid
    refused(box, "ballot.election", box.cast, resign_ballot(built, ballot, voter=0))


def test_malformed_ballot_is_refused_as_an_election_error(
    election: tuple[ElectionBox, Built],
) -> None:
    """Bytes that are not a ballot are refused with the domain's ElectionError, like every
    other refusal of ``cast`` (its docstring: a business rule refused an action)."""
    box, built = election
    before = box.path.read_bytes()
    spaced = ballot_bytes(built, 0, (pick(2, 0), blank(3))).replace(b',"', b', "', 1)
    for raw in (b"not json", b"{}", b'{"election_uuid":1}', spaced):
        with pytest.raises(UnionVoteError):
            box.cast(raw)
        with pytest.raises(ElectionError):
            box.cast(raw)
    assert box.path.read_bytes() == before


def test_ballot_after_close_is_refused(election: tuple[ElectionBox, Built]) -> None:
    box, built = election
    raw = ballot_bytes(built, 3, (pick(2, 0), blank(3)))
    box.close()
    refused(box, "ballot.closed", box.cast, raw)
    assert not box.has_tracker(sha256_b64(raw))
    assert box.ballots_received == 0


def test_closing_twice_is_refused(election: tuple[ElectionBox, Built]) -> None:
    box, _ = election
    box.close()
    refused(box, "election.closed", box.close)
    assert box.phase is Phase.CLOSED


# -- tally and decryption ---------------------------------------------------------------------


def test_steps_out_of_order_are_refused(election: tuple[ElectionBox, Built]) -> None:
    box, built = election
    advance(box, built, "voting")
    partial = PartialDecryption((), ())
    refused(box, "tally.phase", box.compute_tally)
    refused(box, "decryption.phase", box.add_partial_decryption, 1, partial)
    refused(box, "result.phase", box.compute_result)
    with pytest.raises(ElectionError) as caught:
        _ = box.encrypted_tally
    assert caught.value.check == "tally.phase"
    box.close()
    refused(box, "decryption.phase", box.add_partial_decryption, 1, partial)
    refused(box, "result.phase", box.compute_result)
    box.compute_tally()
    refused(box, "tally.phase", box.compute_tally)


def test_invalid_partial_decryption_is_refused_and_not_written(
    election: tuple[ElectionBox, Built],
) -> None:
    box, built = election
    advance(box, built, "tallied")
    tally = box.encrypted_tally
    # trustee 2's factors computed with trustee 3's key: every proof fails against key 2
    wrong_key = PartialDecryption.compute(box.election_hash, built.key_of(3), tally, rng=built.rng)
    refused(box, "decryption.proof", box.add_partial_decryption, 2, wrong_key)
    # a correct partial decryption with one factor swapped for another's
    good = PartialDecryption.compute(box.election_hash, built.key_of(2), tally, rng=built.rng)
    factors = [list(q) for q in good.decryption_factors]
    factors[0][0], factors[0][1] = factors[0][1], factors[0][0]
    swapped = PartialDecryption(tuple(map(tuple, factors)), good.decryption_proofs)
    refused(box, "decryption.proof", box.add_partial_decryption, 2, swapped)
    # a partial decryption of the wrong shape
    short = PartialDecryption(good.decryption_factors[:1], good.decryption_proofs[:1])
    with pytest.raises(ElectionError):
        box.add_partial_decryption(2, short)
    # an unknown trustee
    refused(box, "decryption.owner", box.add_partial_decryption, 9, good)
    # the right one is accepted, once
    box.add_partial_decryption(2, good)
    refused(box, "decryption.owner", box.add_partial_decryption, 2, good)
    # not enough trustees yet: the result is refused and nothing is written
    refused(box, "decryption.missing", box.compute_result)
    decrypt_all(box, built, owners=[1, 3])
    result = box.compute_result()
    assert [list(q) for q in result.result] == built.expected
    report = verify_record(box.path)
    assert report.ok, report.verdict()


# -- crash and reopen -------------------------------------------------------------------------


def test_reopen_after_a_crash_keeps_every_acknowledged_ballot(tmp_path: Path) -> None:
    box, built = create_election(tmp_path / "record.bel", SPEC)
    advance(box, built, "voting")
    revote = box.cast(ballot_bytes(built, 1, (pick(2, 0), pick(3, 1))))
    receipts = [*built.receipts, revote]
    on_disk = box.path.read_bytes()
    with warnings.catch_warnings():  # a crash: the box dropped, its file never closed
        warnings.simplefilter("ignore", ResourceWarning)
        del box
        gc.collect()
    assert built.path.read_bytes() == on_disk

    box = ElectionBox.open(built.path)
    try:
        assert built.path.read_bytes() == on_disk, "opening changed the record"
        assert box.phase is Phase.VOTING
        assert all(box.has_tracker(r.tracker) for r in receipts)
        assert box.ballots_received == 4 and box.voters_counted == 3
        assert box.election == built.election and box.election_hash == built.election_hash
        # the reopened box knows who voted: a revote replaces, a resend is recorded once
        again = box.cast(ballot_bytes(built, 2, (pick(2, 1), blank(3))))
        assert again.replaced_earlier_ballot
        assert (
            box.cast(ballot_bytes(built, 3, (pick(2, 1), pick(3, 0)))).replaced_earlier_ballot
            is False
        )
        box.close()
        box.compute_tally()
        assert box.tally is not None and box.tally.num_tallied == 4
        decrypt_all(box, built)
        result = box.compute_result()
    finally:
        box.close_file()
    # voter 0 yes/A, voter 1 (revoted) yes/B, voter 2 (revoted) no/blank, voter 3 no/A
    assert result.result == ((2, 2), (1, 2, 1, 0))
    report = verify_record(built.path)
    assert report.ok and report.result == [[2, 2], [1, 2, 1, 0]], report.verdict()


@pytest.mark.parametrize("phase", ["closed", "tallied", "decrypted", "result"])
def test_reopen_at_each_phase(tmp_path: Path, phase: str) -> None:
    box, built = create_election(tmp_path / "record.bel", SPEC)
    advance(box, built, phase)
    tally = box.tally
    box.close_file()

    box = ElectionBox.open(built.path)
    try:
        expected = {
            "closed": Phase.CLOSED,
            "tallied": Phase.TALLIED,
            "decrypted": Phase.TALLIED,
            "result": Phase.DECRYPTED,
        }[phase]
        assert box.phase is expected
        assert box.tally == tally
        assert all(box.has_tracker(r.tracker) for r in built.receipts)
        if phase == "closed":
            box.compute_tally()
        if phase in ("closed", "tallied"):
            decrypt_all(box, built)
        if phase == "decrypted":
            refused(
                box,
                "decryption.owner",
                box.add_partial_decryption,
                1,
                PartialDecryption.compute(
                    box.election_hash, built.key_of(1), box.encrypted_tally, rng=built.rng
                ),
            )
        if phase != "result":
            box.compute_result()
        else:
            assert box.result == built.result
            refused(box, "result.phase", box.compute_result)
        assert box.result is not None
        assert [list(q) for q in box.result.result] == built.expected
    finally:
        box.close_file()
    assert verify_record(built.path).ok


def test_reopen_after_a_killed_process(tmp_path: Path) -> None:
    """A real crash: a process casts ballots, prints each tracker once ``cast`` returns, and is
    killed (SIGKILL) without closing anything. Every printed tracker is in the reopened box."""
    path = tmp_path / "record.bel"
    support = Path(__file__).resolve().parents[1] / "support"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(support)!r})
        from pathlib import Path
        from elections import Spec, create_election, ballot_bytes, pick, blank
        from unionvote.record.messages import Question
        spec = Spec(questions=(Question("Q", ("a", "b"), 1, 1),), voters=3, seed=5)
        box, built = create_election(Path({str(path)!r}), spec)
        for voter, choice in [(0, 0), (1, 1), (0, 1), (2, 0)]:
            receipt = box.cast(ballot_bytes(built, voter, (pick(2, choice),)))
            print(receipt.tracker, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == -9, done.stderr
    trackers = done.stdout.split()
    assert len(trackers) == 4
    box = ElectionBox.open(path)
    try:
        assert all(box.has_tracker(t) for t in trackers)
        assert box.ballots_received == 4 and box.voters_counted == 3
    finally:
        box.close_file()
