"""verify.voters.Voters against the dictionaries and sets it replaces, and its size."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.verify.voters import Voters

keys = st.binary(min_size=32, max_size=32)


def _digest(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(8, "big")).digest()


@settings(max_examples=150, deadline=None)
@given(
    listed=st.lists(keys, unique=True, max_size=40),
    weighted=st.booleans(),
    weights=st.lists(st.integers(1, 9), min_size=40, max_size=40),
    strangers=st.lists(keys, max_size=5),
    ballots=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 6), st.booleans()), max_size=80),
)
def test_the_same_answers_as_a_dictionary_and_a_set(
    listed: list[bytes],
    weighted: bool,
    weights: list[int],
    strangers: list[bytes],
    ballots: list[tuple[int, int, bool]],
) -> None:
    pairs = [(k, w if weighted else None) for k, w in zip(listed, weights, strict=False)]
    voters = Voters(pairs)
    model_weights = {k: (w or 1) for k, w in pairs}
    seen: set[bytes] = set()
    last: dict[bytes, bytes] = {}
    everyone = listed + [s for s in strangers if s not in model_weights]
    for who, which, counts in ballots:
        if not everyone:
            break
        key = everyone[who % len(everyone)]
        # A ballot's digest names its credential: the same digest, the same key.
        digest = hashlib.sha256(key + bytes([which])).digest()
        index = voters.index(key)
        assert (index is None) == (key not in model_weights)
        assert voters.first_sight(index, digest) == (digest not in seen)
        seen.add(digest)
        if index is not None:
            assert voters.weight(index) == model_weights[key]
            assert voters.weight_of(key) == model_weights[key]
            if counts:
                voters.set_last(index, digest)
                last[key] = digest
    for key in everyone:
        assert voters.last_of(key) == last.get(key)
    assert voters.counted == len(last)
    assert voters.counted_weight == sum(model_weights[k] for k in last)
    assert list(voters.counted_keys()) == sorted(last)
    assert voters.size == len(listed)


def test_a_key_found_across_two_listed_keys_is_not_listed() -> None:
    # Two keys of one bucket side by side in the sorted string: the tail of one and the head
    # of the next, in the same bucket, must not be mistaken for a listed key.
    a = b"\x07" * 31 + b"\x01"
    b = b"\x07" * 32
    straddling = b"\x07" * 30 + b"\x01" + b"\x07"
    assert straddling in a + b and straddling not in (a, b)
    voters = Voters([(b, None), (a, None)])
    assert voters.index(a) == 0 and voters.index(b) == 1
    assert voters.index(straddling) is None


def test_keys_of_the_wrong_size_and_duplicates() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Voters([(b"short", None)])
    with pytest.raises(ValueError, match="share"):
        Voters([(bytes(32), None), (bytes(32), None)])
    assert Voters([(bytes(32), None)]).index(b"x") is None


def test_a_repr_shows_no_key() -> None:
    key = os.urandom(32)
    voters = Voters([(key, None)])
    assert key.hex() not in repr(voters) and "1 credentials" in repr(voters)


def test_about_a_hundred_bytes_per_voter_where_dictionaries_took_over_three_hundred() -> None:
    """The record pass's state per voter: every credential listed, each with one ballot that
    counts (the bulk of an election), measured by tracemalloc against the dict-and-set form
    it replaced. A size measure, not a timing: it does not depend on the machine."""
    n = 20_000
    pairs = [(os.urandom(32), None) for _ in range(n)]
    digests = [_digest(i) for i in range(n)]

    def measured(build: object) -> int:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            kept = build()  # type: ignore[operator]
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert kept is not None
        return (after - before) // n

    def compact() -> Voters:
        voters = Voters(pairs)
        for (key, _), digest in zip(pairs, digests, strict=True):
            index = voters.index(key)
            assert voters.first_sight(index, digest)
            assert index is not None
            voters.set_last(index, digest)
        return voters

    def fresh(value: bytes) -> bytes:  # a new bytes object, as the record pass decodes each
        return value[:16] + value[16:]

    def dictionaries() -> tuple[object, ...]:
        weights = {fresh(k): 1 for k, _ in pairs}
        seen: set[bytes] = set()
        last: dict[bytes, bytes] = {}
        for (key, _), digest in zip(pairs, digests, strict=True):
            name = fresh(digest)
            seen.add(name)
            last[fresh(key)] = name
        return weights, seen, last

    per_voter = measured(compact)
    before = measured(dictionaries)
    assert per_voter <= 110, per_voter
    assert before >= 3 * per_voter, (before, per_voter)
