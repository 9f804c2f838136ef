"""The verifier's work is bounded by what it computed itself, never by a number the record
claims: a hostile record must not make it run for hours or exhaust memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elections import (
    Built,
    Spec,
    build_election,
    compact,
    payload_of,
    pick,
    read_items,
    replace_data,
    write_items,
)

import unionvote.verify.record as verify_module
from unionvote.crypto.decryption import DiscreteLog
from unionvote.record.errors import CHECKS as RECORD_CHECKS
from unionvote.record.messages import Question
from unionvote.verify import CHECKS, verify_record

SPEC = Spec(
    questions=(Question("Yes or no?", ("Yes", "No"), 1, 1),),
    voters=3,
    votes=((0, (pick(2, 0),)), (1, (pick(2, 1),)), (2, (pick(2, 0),))),
    seed=77,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_election(tmp_path_factory.mktemp("bounds") / "record.bel", SPEC)


def test_claimed_total_weight_does_not_bound_the_discrete_log(
    base: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sized tally claims a total weight of 10^18 (chain recomputed). The verifier must
    flag tally.count and bound the discrete logarithm by the weight it counted itself (3):
    a baby-step table for 10^18 would need 10^9 entries."""
    items = read_items(base.path)
    index, raw = payload_of(items, "EncryptedTally")
    sized = json.loads(raw)
    sized["total_weight"] = str(10**18)  # canonical: Belenios writes counts from 2^30 as strings
    path = tmp_path / "heavy.bel"
    write_items(path, replace_data(items, index, compact(sized)))

    bounds: list[int] = []

    def spy(bound: int) -> DiscreteLog:
        bounds.append(bound)
        return DiscreteLog(min(bound, 1000))  # never build the huge table, even if asked

    monkeypatch.setattr(verify_module, "DiscreteLog", spy)
    report = verify_record(path)
    assert not report.ok
    assert "tally.count" in {c.name for c in report.checks.values() if c.failures}
    assert bounds, "the result was not checked at all"
    assert max(bounds) <= 3, f"the discrete log was bounded by the record's claim {max(bounds)}"


def test_check_names_are_documented(base: Built, tmp_path: Path) -> None:
    """Every check name a report can carry is documented (verifier's or archive's CHECKS)."""
    cut = tmp_path / "cut.bel"
    cut.write_bytes(base.path.read_bytes()[:2000])
    for path in (base.path, cut):
        report = verify_record(path)
        for name in report.checks:
            assert name in CHECKS or name in RECORD_CHECKS, name
