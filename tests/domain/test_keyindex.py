"""domain.keyindex.KeyIndex: each key found at its place in sorted order, no other found,
keys out of order or repeated refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.domain.keyindex import KEY_SIZE, KeyIndex

keys = st.binary(min_size=KEY_SIZE, max_size=KEY_SIZE)
# Keys sharing their first bytes (one bucket) as well as any.
near = st.binary(min_size=KEY_SIZE - 2, max_size=KEY_SIZE - 2).map(lambda tail: b"\x07\x07" + tail)


@settings(max_examples=200, deadline=None)
@given(st.lists(keys | near, unique=True, max_size=40), st.lists(keys | near, max_size=10))
def test_each_key_at_its_place_and_no_other(listed: list[bytes], others: list[bytes]) -> None:
    ordered = sorted(listed)
    index = KeyIndex(b"".join(ordered))
    assert len(index) == len(ordered) and list(index) == ordered
    for number, key in enumerate(ordered):
        assert index.index(key) == number and index.key(number) == key
    for key in others:
        assert index.index(key) == (ordered.index(key) if key in listed else None)


def test_a_key_found_across_two_keys_is_not_one() -> None:
    a, b = b"\x07" * 31 + b"\x01", b"\x07" * 32
    straddling = b"\x07" * 30 + b"\x01" + b"\x07"
    assert straddling in a + b
    index = KeyIndex(a + b)
    assert (index.index(a), index.index(b), index.index(straddling)) == (0, 1, None)


def test_keys_out_of_order_repeated_or_of_another_size_are_refused() -> None:
    a, b = bytes(32), b"\x01" * 32
    for joined in (b + a, a + a, a + b"\x01"):
        with pytest.raises(ValueError, match=r"in order|32 bytes"):
            KeyIndex(joined)
    index = KeyIndex(a + b)
    assert index.index(b"short") is None and index.index(a + b) is None
    with pytest.raises(IndexError):
        index.key(2)
    assert KeyIndex(b"").index(a) is None and repr(KeyIndex(a)) == "KeyIndex(1 keys)"
