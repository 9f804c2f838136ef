"""Keys of 32 bytes (public credentials) kept as one sorted string, each found again by its
first two bytes and a search of the few keys that share them (issue 5: a million-member
union's voters on one small machine).

About 32 bytes a key, and 256 KiB for the buckets whatever the number of keys, where a set or
a dictionary keyed by bytes objects costs over a hundred bytes a key. A key's place in the
string is its number, which callers use to keep what they know of it in flat arrays.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

__all__ = ["KEY_SIZE", "KeyIndex"]

KEY_SIZE = 32
_BUCKETS = 1 << 16  # keys are bucketed by their first two bytes


class KeyIndex:
    """Distinct keys of :data:`KEY_SIZE` bytes, numbered in sorted order.

    ``KeyIndex(joined)`` takes the keys sorted, one after the other in one bytes string; it
    refuses keys out of order or repeated (``ValueError``), since a key's bucket is found by
    the order and its number must be one."""

    __slots__ = ("_keys", "_starts")

    def __init__(self, joined: bytes) -> None:
        if len(joined) % KEY_SIZE:
            raise ValueError(f"a key is {KEY_SIZE} bytes")
        starts = array("I", bytes(4 * (_BUCKETS + 1)))
        previous = b""
        for at in range(0, len(joined), KEY_SIZE):
            key = joined[at : at + KEY_SIZE]
            if key <= previous:
                raise ValueError("the keys are not in order, or one is repeated")
            previous = key
            starts[_bucket(key) + 1] += 1  # counted per bucket, then summed: bucket b
        for b in range(_BUCKETS):  # is keys[starts[b]:starts[b + 1]]
            starts[b + 1] += starts[b]
        self._keys = joined
        self._starts = starts

    def __len__(self) -> int:
        return len(self._keys) // KEY_SIZE

    def __iter__(self) -> Iterator[bytes]:
        """The keys in order (each a new bytes object)."""
        keys = self._keys
        return (keys[at : at + KEY_SIZE] for at in range(0, len(keys), KEY_SIZE))

    def __repr__(self) -> str:
        return f"KeyIndex({len(self)} keys)"

    def index(self, key: bytes) -> int | None:
        """The key's number (its place in sorted order), or None when it is not one of them."""
        if len(key) != KEY_SIZE:
            return None
        b = _bucket(key)
        keys, end = self._keys, self._starts[b + 1] * KEY_SIZE
        at = keys.find(key, self._starts[b] * KEY_SIZE, end)
        while at >= 0 and at % KEY_SIZE:  # a match across two keys is no match
            at = keys.find(key, at + 1, end)
        return None if at < 0 else at // KEY_SIZE

    def key(self, index: int) -> bytes:
        """The key numbered ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"no key numbered {index}")
        at = index * KEY_SIZE
        return self._keys[at : at + KEY_SIZE]


def _bucket(key: bytes) -> int:
    return key[0] << 8 | key[1]
