"""The record's public credentials as the report reads them (domain.publication
``_credential_weights``): the same answers as the dictionary they replace, in a few dozen bytes
a voter, with the same refusals."""

from __future__ import annotations

import json
import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.domain.errors import DomainError
from unionvote.domain.publication import CredentialWeights, _credential_weights

hex_keys = st.lists(st.binary(min_size=32, max_size=32).map(bytes.hex), unique=True, max_size=30)


def written(items: list[str], compact: bool) -> bytes:
    return json.dumps(items, separators=(",", ":") if compact else (", ", ": ")).encode()


@settings(max_examples=200, deadline=None)
@given(
    keys=hex_keys,
    weighted=st.booleans(),
    weights=st.lists(st.integers(1, 10**6), min_size=30, max_size=30),
    compact=st.booleans(),
    shuffled=st.randoms(),
)
def test_the_same_weights_as_a_dictionary(
    keys: list[str], weighted: bool, weights: list[int], compact: bool, shuffled
) -> None:
    expected = {k: (w if weighted else 1) for k, w in zip(keys, weights, strict=False)}
    items = [f"{k},{expected[k]}" if weighted else k for k in keys]
    shuffled.shuffle(items)
    found, is_weighted = _credential_weights(written(items, compact))
    assert isinstance(found, CredentialWeights)
    assert dict(found) == expected and len(found) == len(expected)
    assert is_weighted == (weighted and bool(keys))
    assert sorted(found) == list(found)  # iteration in key order
    for key in expected:
        assert found[key] == expected[key]
    with pytest.raises(KeyError):
        found["00" * 32 if "00" * 32 not in expected else "ff" * 32]
    with pytest.raises(KeyError):
        found["not a credential"]


@pytest.mark.parametrize("compact", [True, False])
def test_the_refusals_are_the_same(compact: bool) -> None:
    a, b = "ab" * 32, "cd" * 32
    cases = [
        ([a, a], "two voters share a public credential"),
        ([a, f"{b},3"], "either every public credential has a weight or none has"),
        ([a, "xyz"], "not a public credential"),
        ([a, f"{b},0"], "not a public credential"),
        ([a.upper()], "not a public credential"),
        ([a, 7], "not a public credential"),
    ]
    for items, message in cases:
        with pytest.raises(DomainError, match=message):
            _credential_weights(written(items, compact))  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="not a list"):
        _credential_weights(b'{"a":1}')
    with pytest.raises(DomainError, match="the public credentials"):
        _credential_weights(b'["' + a.encode() + b'",')
    assert dict(_credential_weights(b"[]")[0]) == {}


def test_a_few_dozen_bytes_a_voter() -> None:
    """A size measure (tracemalloc), not a timing: the kept mapping of 20,000 credentials."""
    n = 20_000
    raw = json.dumps(sorted(os.urandom(32).hex() for _ in range(n)), separators=(",", ":"))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept, _ = _credential_weights(raw.encode())
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) == n
    assert (after - before - 4 * (1 << 16)) / n < 40  # the buckets' table is fixed: 256 KiB
