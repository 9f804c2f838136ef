"""The shared tally: decrypting the weighted product gives the weighted counts, however the
ballots are split and ordered; the files exchanged with the trustees parse strictly."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import DiscreteLog, PartialDecryption
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.crypto.trustees import election_public_key
from unionvote.domain.ceremony import run_threshold_ceremony, single_trustee
from unionvote.domain.election import new_uuid
from unionvote.domain.errors import ElectionError
from unionvote.domain.tally import (
    AggregateTally,
    DecryptionRequest,
    DimensionTally,
    Subtallies,
    TallyAccumulator,
    TrusteeDecryption,
    decrypt_counts,
)
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Election, Question

QUESTIONS = (
    Question("Endorse?", ("Yes", "No"), 1, 1),
    Question("Issues?", ("Jobs", "Health", "Trade"), 0, 2, blank=True),
)
CHOICES = [
    ((1, 0), (0, 0, 0)),
    ((0, 1), (1, 0, 0)),
    ((1, 0), (1, 1, 0)),
    ((0, 1), (0, 1, 1)),
]

_rng = random.Random(99)
SERVER, SERVER_KEY = single_trustee(_rng.randrange)
GROUP, SHARES = run_threshold_ceremony(3, 2, _rng.randrange)
TRUSTEES = [SERVER, GROUP]
ELECTION = Election(new_uuid(_rng.randrange), "Test", "", election_public_key(TRUSTEES), QUESTIONS)
ELECTION_HASH = sha256_b64(compact_json(ELECTION.to_json()))
VOTERS = [PrivateCredential.generate(_rng.randrange) for _ in range(len(CHOICES))]
BALLOTS = [
    make_ballot(ELECTION, ELECTION_HASH, voter, choice, rng=_rng.randrange)
    for voter, choice in zip(VOTERS, CHOICES, strict=True)
]


def expected(picked: list[int], weights: list[int]) -> list[list[int]]:
    """Counts from the plaintexts: per question, blank first where allowed."""
    rows = [[0, 0], [0, 0, 0, 0]]
    for i, weight in zip(picked, weights, strict=True):
        first, second = CHOICES[i]
        for j, bit in enumerate(first):
            rows[0][j] += bit * weight
        rows[1][0] += weight if sum(second) == 0 else 0
        for j, bit in enumerate(second):
            rows[1][1 + j] += bit * weight
    return rows


def decrypt(tally, total_weight: int, owners=(1, 2, 4)) -> list[list[int]]:
    keys = {1: SERVER_KEY, 2: SHARES[0], 3: SHARES[1], 4: SHARES[2]}
    partials = {
        owner: PartialDecryption.compute(ELECTION_HASH, keys[owner], tally, rng=_rng.randrange)
        for owner in owners
    }
    counts = decrypt_counts(TRUSTEES, partials, tally, DiscreteLog(total_weight))
    return [list(row) for row in counts]


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(CHOICES) - 1), st.integers(1, 6)), min_size=0, max_size=6
    ),
    st.integers(0, 6),
    st.booleans(),
)
def test_the_decrypted_tally_is_the_weighted_sum_of_any_split(
    votes: list[tuple[int, int]], cut: int, weighted: bool
) -> None:
    picked = [i for i, _ in votes]
    weights = [w if weighted else 1 for _, w in votes]
    whole = TallyAccumulator(QUESTIONS)
    first, second = TallyAccumulator(QUESTIONS), TallyAccumulator(QUESTIONS)
    for n, (i, weight) in enumerate(zip(picked, weights, strict=True)):
        whole.add(BALLOTS[i], weight if weighted else None)
        (first if n < cut else second).add(BALLOTS[i], weight if weighted else None)
    second.merge(first)  # another order, another grouping: the same product
    assert second.tally == whole.tally
    assert (second.count, second.total_weight) == (whole.count, whole.total_weight)
    assert (whole.count, whole.total_weight) == (len(votes), sum(weights))
    assert decrypt(whole.tally, whole.total_weight) == expected(picked, weights)


def _plain_tally(picked: list[int], weights: list[int | None]):
    """The definition: each ciphertext raised to its weight and multiplied with libsodium."""
    from unionvote.crypto.elgamal import ZERO_CIPHERTEXT

    rows = [[ZERO_CIPHERTEXT] * q.shape.ciphertexts for q in QUESTIONS]
    for i, weight in zip(picked, weights, strict=True):
        for row, answer in zip(rows, BALLOTS[i].answers, strict=True):
            for j, c in enumerate(answer.choices):
                row[j] = row[j] * (c if weight is None else c**weight)
    return rows


@pytest.fixture(params=["libdecaf", "libsodium"])
def arithmetic(request: pytest.FixtureRequest):
    from unionvote.crypto import fast

    if request.param == "libdecaf" and fast.arithmetic() != "libdecaf":
        pytest.skip("libdecaf0 is not installed (CI installs it)")
    fast.set_enabled(request.param == "libdecaf")
    yield request.param
    fast.set_enabled(None)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, len(CHOICES) - 1), st.integers(1, 6)), min_size=0, max_size=6
    ),
    st.integers(0, 6),
    st.booleans(),
)
def test_stored_ballots_tally_as_parsed_ones_on_both_paths(
    arithmetic: str, votes: list[tuple[int, int]], cut: int, weighted: bool
) -> None:
    """The tally from stored bytes (the service's) equals the parsed ballots' and the plain
    definition, however split, merged and carried between processes (pickled)."""
    import pickle

    picked = [i for i, _ in votes]
    weights: list[int | None] = [w if weighted else None for _, w in votes]
    parsed = TallyAccumulator(QUESTIONS)
    first, second = TallyAccumulator(QUESTIONS), TallyAccumulator(QUESTIONS)
    for n, (i, weight) in enumerate(zip(picked, weights, strict=True)):
        parsed.add(BALLOTS[i], weight)
        (first if n < cut else second).add_stored(BALLOTS[i].to_bytes(), weight)
    carried = pickle.loads(pickle.dumps(first))
    second.merge(carried)
    assert second.tally == parsed.tally == _plain_tally(picked, weights)
    assert (second.count, second.total_weight) == (parsed.count, parsed.total_weight)


def test_a_stored_ballot_of_the_wrong_shape_is_refused_and_adds_nothing() -> None:
    accumulator = TallyAccumulator(QUESTIONS)
    accumulator.add_stored(BALLOTS[0].to_bytes(), None)
    before = (accumulator.tally, accumulator.count, accumulator.total_weight)
    short = json.loads(BALLOTS[1].to_bytes())
    short["answers"] = short["answers"][:1]
    with pytest.raises(ElectionError, match="does not fit the questions"):
        accumulator.add_stored(json.dumps(short).encode(), None)
    broken = json.loads(BALLOTS[1].to_bytes())
    broken["answers"][0]["choices"][0]["alpha"] = "zz"
    with pytest.raises(ElectionError, match="unreadable"):
        accumulator.add_stored(json.dumps(broken).encode(), None)
    with pytest.raises(ElectionError, match="unreadable"):
        accumulator.add_stored(b"not json", None)
    assert (accumulator.tally, accumulator.count, accumulator.total_weight) == before


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(0, len(CHOICES) - 1), max_size=5), st.booleans())
def test_partials_carry_a_tally_in_either_form(
    arithmetic: str, picked: list[int], internal: bool
) -> None:
    """A worker's partial tally, in libdecaf's internal form (when the receiver's format is
    the worker's) or encoded, merges into the same tally."""
    import pickle

    from unionvote.crypto import fast

    worker = TallyAccumulator(QUESTIONS)
    for i in picked:
        worker.add_stored(BALLOTS[i].to_bytes(), None)
    receiver_format = fast.internal_format() if internal else None
    partial = pickle.loads(pickle.dumps(worker.to_partial(receiver_format)))
    assert (partial.internal_format is not None) == (internal and arithmetic == "libdecaf")
    merged = TallyAccumulator(QUESTIONS)
    merged.add_stored(BALLOTS[0].to_bytes(), None)
    merged.merge_partial(partial)
    assert merged.tally == _plain_tally([0, *picked], [None] * (len(picked) + 1))
    assert merged.count == len(picked) + 1


def test_a_partial_from_another_libdecaf_build_is_refused() -> None:
    from dataclasses import replace

    from unionvote.crypto import fast

    if fast.internal_format() is None:
        pytest.skip("libdecaf0 is not installed (CI installs it)")
    worker = TallyAccumulator(QUESTIONS)
    worker.add_stored(BALLOTS[0].to_bytes(), None)
    partial = replace(worker.to_partial(fast.internal_format()), internal_format="another")
    receiver = TallyAccumulator(QUESTIONS)
    with pytest.raises(ElectionError, match="libdecaf"):
        receiver.merge_partial(partial)
    assert receiver.count == 0


def test_a_stored_ballot_with_a_point_off_the_curve_adds_nothing(arithmetic: str) -> None:
    accumulator = TallyAccumulator(QUESTIONS)
    accumulator.add_stored(BALLOTS[0].to_bytes(), None)
    before = (accumulator.tally, accumulator.count)
    broken = json.loads(BALLOTS[1].to_bytes())
    broken["answers"][1]["choices"][2]["beta"] = "ff" * 32  # the last point read: not a point
    with pytest.raises(ElectionError, match=r"tally\.ballot"):
        accumulator.add_stored(json.dumps(broken).encode(), None)
    assert (accumulator.tally, accumulator.count) == before


def test_accumulators_of_other_questions_do_not_merge() -> None:
    with pytest.raises(ElectionError, match="different questions"):
        TallyAccumulator(QUESTIONS).merge(TallyAccumulator(QUESTIONS[:1]))


def test_any_two_threshold_trustees_give_the_same_counts() -> None:
    accumulator = TallyAccumulator(QUESTIONS)
    for ballot in BALLOTS:
        accumulator.add(ballot, None)
    counts = [decrypt(accumulator.tally, 4, owners) for owners in ((1, 2, 3), (1, 3, 4))]
    assert counts[0] == counts[1] == expected([0, 1, 2, 3], [1, 1, 1, 1])


def test_too_few_partial_decryptions_are_refused() -> None:
    tally = TallyAccumulator(QUESTIONS).tally
    with pytest.raises(ElectionError) as caught:
        decrypt(tally, 0, owners=(1, 2))
    assert caught.value.check == "decryption.missing"


def test_the_request_and_the_trustee_file_round_trip_and_parse_strictly() -> None:
    tally = TallyAccumulator(QUESTIONS)
    tally.add(BALLOTS[0], None)
    request = DecryptionRequest(
        ELECTION.uuid, ELECTION_HASH, tally.tally, (("state:MI", tally.tally),)
    )
    raw = request.to_bytes()
    assert DecryptionRequest.from_bytes(raw) == request
    obj = json.loads(raw)
    for bad in (
        {**obj, "extra": 1},
        {**obj, "groups": obj["groups"] * 2},
        {**obj, "encrypted_tally": [[{"alpha": "00", "beta": "00"}]]},
    ):
        with pytest.raises(ElectionError) as caught:
            DecryptionRequest.from_bytes(json.dumps(bad).encode())
        assert caught.value.check == "decryption.request"
    partial = PartialDecryption.compute(ELECTION_HASH, SERVER_KEY, tally.tally, rng=_rng.randrange)
    answer = TrusteeDecryption(1, partial, {"state:MI": partial})
    assert TrusteeDecryption.from_bytes(answer.to_bytes()) == answer
    good = json.loads(answer.to_bytes())
    for bad in (b"[]", b"not json", json.dumps({**good, "owner": -1}).encode()):
        with pytest.raises(ElectionError) as caught:
            TrusteeDecryption.from_bytes(bad)
        assert caught.value.check == "decryption.malformed"


def test_subtallies_round_trip_canonically() -> None:
    tally = TallyAccumulator(QUESTIONS)
    tally.add(BALLOTS[1], None)
    partial = PartialDecryption.compute(ELECTION_HASH, SERVER_KEY, tally.tally, rng=_rng.randrange)
    aggregate = AggregateTally(
        "state:MI", "MI", ("MI",), 1, tally.tally, {1: partial}, ((0, 1), (0, 1, 0, 0))
    )
    subtallies = Subtallies(
        ELECTION.uuid,
        ELECTION_HASH,
        50,
        (DimensionTally("state", (aggregate,)),),
        {"ab": ("state:MI",)},
    )
    raw = subtallies.to_bytes()
    assert list(json.loads(raw)) == [
        "version",
        "uuid",
        "election_hash",
        "min_group_size",
        "dimensions",
        "counted_groups",
    ]
    assert Subtallies.from_bytes(raw) == subtallies
    assert Subtallies.from_bytes(raw).to_bytes() == raw
    with pytest.raises(ElectionError) as caught:
        Subtallies.from_bytes(raw.replace(b'"version":1', b'"version":2'))
    assert caught.value.check == "subtallies"
