"""Tampering with a valid record is caught: by our verifier, under the check that names what
was changed, and by Belenios's own verifier (``belenios-verify``, marked ``belenios``).

Each tampering changes one thing and recomputes everything else (the ballot's signature with
the voter's private credential, the hashes of the entries that refer to a changed one, the
event chain), so that only the intended check can fail.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from elections import (
    Built,
    Item,
    Spec,
    blank,
    build_election,
    compact,
    data_index,
    event_index,
    expected_result,
    payload_of,
    pick,
    raw_entries,
    read_items,
    read_tar,
    replace_data,
    resign_ballot,
    sha256_hex,
    write_items,
    write_raw,
)

from unionvote.crypto import fast
from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.elgamal import ZERO_CIPHERTEXT
from unionvote.crypto.group import GroupElement, Q, g
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Ballot, Question
from unionvote.verify import Report, verify_record

SPEC = Spec(
    questions=(
        Question("Which one?", ("Alpha", "Beta", "Gamma"), 1, 1),
        Question("Which others?", ("X", "Y"), 0, 2, blank=True),
    ),
    voters=4,
    votes=(
        (0, (pick(3, 0), pick(2, 0, 1))),
        (1, (pick(3, 1), blank(2))),
        (2, (pick(3, 1), pick(2, 1))),
        (0, (pick(3, 2), pick(2, 0))),  # a revote
    ),
    trustees="2of3",
    decrypt_with=(1, 3),
    seed=20240611,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Built:
    built = build_election(tmp_path_factory.mktemp("base") / "base.bel", SPEC)
    report = verify_record(built.path)
    assert report.ok, report.verdict()
    assert report.result == built.expected == [[0, 2, 1], [1, 1, 1]]
    return built


# -- the tamperings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tampered:
    path: Path
    check: str  # the check our verifier must fail
    entry: str | None  # the entry it must name
    belenios: str = ""  # a regular expression belenios-verify's output must match
    # suites whose belenios-tool does not check what was changed, with the reason
    unchecked: tuple[tuple[str | None, str], ...] = ()


_REJECTED_BALLOT = r'ballot 0+\d+: REJECTED.*"InvalidBallot"'


def _rewrite(items: list[Item], path: Path) -> None:
    write_items(path, items)


def ballot_proof(base: Built, path: Path) -> Tampered:
    """A response of an individual proof changed; the ballot re-signed: only the proof fails."""
    items = read_items(base.path)
    index, raw = payload_of(items, "Ballot", 1)  # voter 1's ballot
    ballot = json.loads(raw)
    proof = ballot["answers"][0]["individual_proofs"][1][0]
    proof["response"] = str((int(proof["response"]) + 1) % Q)
    content = resign_ballot(base, ballot, voter=1)
    _rewrite(replace_data(items, index, content), path)
    return Tampered(path, "ballot.individual_proof", sha256_hex(content), _REJECTED_BALLOT)


def ballot_signature(base: Built, path: Path) -> Tampered:
    """The signature's response changed."""
    items = read_items(base.path)
    index, raw = payload_of(items, "Ballot", 2)
    ballot = json.loads(raw)
    proof = ballot["signature"]["proof"]
    proof["response"] = str((int(proof["response"]) + 1) % Q)
    content = compact(ballot)
    _rewrite(replace_data(items, index, content), path)
    return Tampered(path, "ballot.signature", sha256_hex(content), _REJECTED_BALLOT)


def ballot_unknown_credential(base: Built, path: Path) -> Tampered:
    """A properly made ballot whose credential is not on the list, added before EndBallots."""
    items = read_items(base.path)
    stranger = PrivateCredential.generate(random.Random(99).randrange)
    ballot = make_ballot(
        base.election,
        base.election_hash,
        stranger,
        [pick(3, 2), pick(2, 1)],
        rng=random.Random(98).randrange,
    )
    content = ballot.to_bytes()
    at = event_index(items, "EndBallots")
    items[at:at] = [("data", content), ("Ballot", sha256_hex(content))]
    _rewrite(items, path)
    return Tampered(
        path,
        "ballot.credential",
        sha256_hex(content),
        r'ballot 000005: REJECTED.*"InvalidCredential"',
    )


def partial_decryption(base: Built, path: Path) -> Tampered:
    """One decryption factor of the second trustee replaced by another point."""
    items = read_items(base.path)
    _, owned_raw = payload_of(items, "PartialDecryption", 1)
    index = data_index(items, json.loads(owned_raw)["payload"])
    raw = items[index][1]
    assert isinstance(raw, bytes)
    partial = json.loads(raw)
    factor = GroupElement.from_string(partial["decryption_factors"][0][1])
    partial["decryption_factors"][0][1] = str(factor * g)
    items = replace_data(items, index, compact(partial))
    owned = items[event_index(items, "PartialDecryption", 1)][1]
    _rewrite(items, path)
    return Tampered(
        path,
        "decryption.proof",
        owned if isinstance(owned, str) else None,
        "check_result failed",
    )


def result_counts(base: Built, path: Path) -> Tampered:
    """Two counts of the first question swapped."""
    items = read_items(base.path)
    index, raw = payload_of(items, "Result")
    result = json.loads(raw)
    row = result["result"][0]
    row[1], row[2] = row[2], row[1]
    content = compact(result)
    _rewrite(replace_data(items, index, content), path)
    return Tampered(path, "result.counts", sha256_hex(content), "check_result failed")


def tally_counts_a_replaced_ballot(base: Built, path: Path) -> Tampered:
    """The encrypted tally multiplies in voter 0's replaced first ballot too; the partial
    decryptions (made with the trustees' keys) and the result are consistent with that tally,
    so that only the tally itself is wrong."""
    items = read_items(base.path)
    ballots = [
        Ballot.from_json(json.loads(payload_of(items, "Ballot", n)[1]))
        for n in range(len(base.spec.votes))
    ]
    tally = [[ZERO_CIPHERTEXT] * len(a.choices) for a in ballots[0].answers]
    for ballot in ballots:
        for row, answer in zip(tally, ballot.answers, strict=True):
            for j, c in enumerate(answer.choices):
                row[j] = row[j] * c
    _, sized = payload_of(items, "EncryptedTally")
    tally_index = data_index(items, json.loads(sized)["encrypted_tally"])
    new_tally = compact([[c.to_json() for c in row] for row in tally])
    items = replace_data(items, tally_index, new_tally)
    for n, owner in enumerate(base.decrypting_owners()):
        _, owned = payload_of(items, "PartialDecryption", n)
        assert json.loads(owned)["owner"] == owner
        partial = PartialDecryption.compute(
            base.election_hash, base.key_of(owner), tally, rng=random.Random(n).randrange
        )
        index = data_index(items, json.loads(owned)["payload"])
        items = replace_data(items, index, compact(partial.to_json()))
    every_ballot = dataclasses.replace(
        base.spec, votes=tuple((i, c) for i, (_, c) in enumerate(base.spec.votes))
    )
    counts = expected_result(every_ballot)
    assert counts == [[1, 2, 1], [1, 2, 2]]
    index, _ = payload_of(items, "Result")
    _rewrite(replace_data(items, index, compact({"result": counts})), path)
    return Tampered(
        path,
        "tally.encrypted",
        sha256_hex(new_tally),
        "encrypted tally failed verification",
        unchecked=((None, "belenios-tool 3.0 does not check the encrypted tally"),),
    )


def broken_chain(base: Built, path: Path) -> Tampered:
    """The third event's parent replaced by the first event's hash; the entry renamed to its
    new content hash, so that only the chain is wrong."""
    entries = read_tar(base.path)
    events = [i for i, (name, _) in enumerate(entries) if name.endswith(".event.json")]
    first_name = entries[events[0]][0]
    at = events[2]
    event = json.loads(entries[at][1])
    event["parent"] = first_name.removesuffix(".event.json")
    content = compact(event)
    name = f"{sha256_hex(content)}.event.json"
    entries[at] = (name, content)
    write_raw(path, entries)
    return Tampered(path, "archive.chain", name, r"hash\s+[0-9a-f]{64}\s+not found")


def truncated(base: Built, path: Path) -> Tampered:
    """The archive cut in the middle of the result's data entry."""
    entries = read_tar(base.path)
    raw = base.path.read_bytes()
    at = next(i for i, (_, content) in enumerate(entries) if content.startswith(b'{"result"'))
    offset = sum(512 + len(c) + (-len(c) % 512) for _, c in entries[:at])
    name = entries[at][0]
    path.write_bytes(raw[: offset + 512 + 7])
    return Tampered(path, "archive.truncated", name, "shorter than original")


def untouched(base: Built, path: Path) -> Tampered:
    """Control: the record taken apart and rewritten as it was passes both verifiers."""
    _rewrite(read_items(base.path), path)
    assert path.read_bytes() == base.path.read_bytes()
    raw = path.with_name("raw.bel")
    write_raw(raw, raw_entries(read_items(base.path)))
    assert raw.read_bytes() == base.path.read_bytes()
    return Tampered(path, "", None)


TAMPERINGS: dict[str, Callable[[Built, Path], Tampered]] = {
    "untouched": untouched,
    "ballot_proof": ballot_proof,
    "ballot_signature": ballot_signature,
    "ballot_unknown_credential": ballot_unknown_credential,
    "partial_decryption": partial_decryption,
    "result_counts": result_counts,
    "tally_counts_a_replaced_ballot": tally_counts_a_replaced_ballot,
    "broken_chain": broken_chain,
    "truncated": truncated,
}


@pytest.fixture(scope="module", params=list(TAMPERINGS))
def tampered(
    request: pytest.FixtureRequest, base: Built, tmp_path_factory: pytest.TempPathFactory
) -> Tampered:
    name = request.param
    return TAMPERINGS[name](base, tmp_path_factory.mktemp(name) / f"{name}.bel")


def _failed(report: Report) -> dict[str, list[str | None]]:
    return {c.name: [f.entry for f in c.failures] for c in report.checks.values() if c.failures}


def test_unionvote_names_the_check(tampered: Tampered) -> None:
    report = verify_record(tampered.path)
    if not tampered.check:
        assert report.ok, report.verdict()
        return
    assert not report.ok
    failed = _failed(report)
    assert tampered.check in failed, f"{tampered.check} not in {failed}: {report.verdict()}"
    assert tampered.entry is not None
    assert any(tampered.entry in (entry or "") for entry in failed[tampered.check]), failed
    assert f"{tampered.check} (" in report.verdict()
    assert report.verdict().startswith("unionvote verify: FAIL")


def test_both_group_arithmetics_give_the_same_report(tampered: Tampered) -> None:
    """libdecaf's fast path and libsodium's plain path (``crypto/fast.py``) reach the same
    verdict on every check, for the valid record and every tampering."""
    if fast.arithmetic() != "libdecaf":
        pytest.skip("libdecaf0 is not installed (CI installs it)")
    reports = {}
    try:
        for enabled in (True, False):
            fast.set_enabled(enabled)
            reports[fast.arithmetic()] = verify_record(tampered.path).to_json()
    finally:
        fast.set_enabled(None)
    fast_report, plain_report = reports["libdecaf"], reports["libsodium"]
    assert fast_report.pop("arithmetic") == "libdecaf"
    assert plain_report.pop("arithmetic") == "libsodium"
    assert fast_report.pop("verdict").endswith("; proofs checked with libdecaf")
    assert plain_report.pop("verdict").endswith("; proofs checked with libsodium")
    assert fast_report == plain_report


def test_ballot_tampering_fails_only_ballot_checks_and_tally(base: Built, tmp_path: Path) -> None:
    """The tampered ballot is left out, so the published tally (which counted it) is flagged
    too; nothing else is."""
    report = verify_record(ballot_proof(base, tmp_path / "t.bel").path)
    assert set(_failed(report)) <= {"ballot.individual_proof", "tally.encrypted", "tally.count"}
    assert "ballot.individual_proof" in _failed(report)


def test_broken_chain_stops_at_the_altered_event(base: Built, tmp_path: Path) -> None:
    t = broken_chain(base, tmp_path / "t.bel")
    report = verify_record(t.path)
    assert report.stopped is not None
    assert report.stopped.check == "archive.chain"
    assert report.stopped.entry == t.entry
    assert "stopped early" in report.verdict()


@pytest.mark.belenios
@pytest.mark.parametrize("suite", [None, "sid"], ids=["default", "sid"])
def test_belenios_rejects(
    tampered: Tampered, suite: str | None, belenios_verify: Callable[..., tuple[int, str]]
) -> None:
    for unchecked, reason in tampered.unchecked:
        if unchecked == suite:
            pytest.skip(f"{reason}; this tampering is checked with 3.3.0 (sid)")
    code, output = belenios_verify(tampered.path, suite)
    if not tampered.check:
        assert code == 0, output
        assert "PASS" in output.splitlines()[-1]
    else:
        assert code != 0, (
            f"belenios-verify accepted a record with a bad {tampered.check}:\n{output}"
        )
        assert "FAIL" in output.splitlines()[-1], output
        assert re.search(tampered.belenios, output, re.DOTALL), output


def test_tally_tampering_fails_only_the_tally(base: Built, tmp_path: Path) -> None:
    t = tally_counts_a_replaced_ballot(base, tmp_path / "t.bel")
    report = verify_record(t.path)
    assert set(_failed(report)) == {"tally.encrypted"}, report.verdict()
    assert report.checks["decryption.proof"].checked == 3
    assert report.checks["result.counts"].passed


def _replayed(base: Built, path: Path) -> str:
    """Voter 1's ballot a second time at the end of the voting (chain recomputed); the
    published tally counts it once, as a Belenios server would. Returns its payload hash."""
    items = read_items(base.path)
    at = event_index(items, "Ballot", 1)
    replay = [items[at - 1], items[at]]
    assert replay[0][0] == "data"
    end = event_index(items, "EndBallots")
    items[end:end] = replay
    _rewrite(items, path)
    payload = replay[1][1]
    assert isinstance(payload, str)
    return payload


def test_replayed_ballot(base: Built, tmp_path: Path) -> None:
    """Belenios 3.3 rejects a record with a ballot twice ("DuplicateBallot"). Our verifier must
    reject it too, naming the replayed ballot, and must not claim that the (correct) published
    tally is wrong."""
    path = tmp_path / "replay.bel"
    replayed = _replayed(base, path)
    report = verify_record(path)
    assert not report.ok
    failed = _failed(report)
    assert "tally.encrypted" not in failed, (
        "the verifier divides the replayed ballot out twice and blames the tally: "
        + report.verdict()
    )
    assert any(replayed in (e or "") for entries in failed.values() for e in entries), failed


@pytest.mark.belenios
def test_belenios_sid_rejects_a_replayed_ballot(
    base: Built, tmp_path: Path, belenios_verify: Callable[..., tuple[int, str]]
) -> None:
    """(belenios-tool 3.0 on trixie accepts it.)"""
    path = tmp_path / "replay.bel"
    _replayed(base, path)
    code, output = belenios_verify(path, "sid")
    assert code != 0 and "DuplicateBallot" in output, output


# -- the process pool (verify/engine.py) gives the in-process report ---------------------------


@pytest.mark.parametrize("batch_size", [1, 4])
def test_workers_give_the_same_report(tampered: Tampered, batch_size: int) -> None:
    """Two workers and small batches (one ballot: more batches than the in-flight limit; four:
    a voter's ballot and its revote in one batch): the same checks, counts, failures in the
    same order, and verdict as checking in this process, for the valid record and every
    tampering."""
    alone = verify_record(tampered.path, workers=1).to_json()
    pooled = verify_record(tampered.path, workers=2, batch_size=batch_size).to_json()
    assert pooled == alone


def test_workers_give_the_same_report_on_a_replay(base: Built, tmp_path: Path) -> None:
    path = tmp_path / "replay.bel"
    _replayed(base, path)
    alone = verify_record(path, workers=1)
    assert "ballot.duplicate" in _failed(alone)
    for batch_size in (1, 2, 4, 256):  # 256: fewer ballots than a batch, checked in-process
        assert verify_record(path, workers=3, batch_size=batch_size).to_json() == alone.to_json()


def test_workers_use_the_parents_group_arithmetic(base: Built) -> None:
    """``set_enabled(False)`` reaches the spawned workers (the pool refuses outcomes checked
    with another arithmetic than the report names)."""
    if fast.arithmetic() != "libdecaf":
        pytest.skip("libdecaf0 is not installed (CI installs it)")
    try:
        fast.set_enabled(False)
        report = verify_record(base.path, workers=2, batch_size=1)
    finally:
        fast.set_enabled(None)
    assert report.ok, report.verdict()
    assert report.arithmetic == "libsodium"


def test_progress_reports_every_ballot(base: Built) -> None:
    for workers in (1, 2):
        seen: list[tuple[int, int]] = []
        report = verify_record(
            base.path,
            workers=workers,
            batch_size=1,
            progress=lambda n, b, seen=seen: seen.append((n, b)),
        )
        assert seen == sorted(seen)
        assert seen[-1][0] == report.ballots_checked == len(SPEC.votes)
        assert 0 < seen[-1][1] <= base.path.stat().st_size
