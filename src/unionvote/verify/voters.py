"""The voters as the record pass keeps them: about a hundred bytes each, whatever the size of
the election (issue 5: a million-member union's record is verified on one small machine).

Every public credential is kept as its 32 RFC 8032 bytes in one sorted string, found again by
its first two bytes and a search of the few keys that share them (``domain.keyindex``); per
credential, its weight (only when the election is weighted), the SHA-256 of the first ballot
seen for it and of its last ballot that counts, each 32 bytes in a flat array. A dictionary
keyed by bytes objects costs more than three times as much per voter. The rare exceptions — a
credential with several ballots, a ballot of a credential that is not on the list — are kept
aside.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from operator import itemgetter

from unionvote.domain.keyindex import KEY_SIZE, KeyIndex

__all__ = ["Voters"]

_SIZE = KEY_SIZE  # a credential's bytes, and a SHA-256 digest's
_NONE = bytes(_SIZE)  # no ballot (a SHA-256 digest is never 32 zero bytes in practice)


class Voters:
    """The listed credentials, with what the record pass has seen of each one's ballots.

    ``Voters(pairs)`` takes each credential's 32 bytes and weight (None: unweighted); the
    credentials must be distinct (the credentials entry's parser refuses two alike)."""

    __slots__ = ("_first", "_keys", "_last", "_more", "_strangers", "_weights", "counted",
                 "counted_weight", "size")  # fmt: skip

    def __init__(self, pairs: Iterable[tuple[bytes, int | None]]) -> None:
        entries = sorted(pairs, key=itemgetter(0))
        self.size = len(entries)
        for key, _ in entries:
            if len(key) != _SIZE:
                raise ValueError("a credential is 32 bytes")
        try:  # sorted: only a repeated key is refused
            self._keys = KeyIndex(b"".join(key for key, _ in entries))
        except ValueError:
            raise ValueError("two voters share a public credential") from None
        weighted = [1 if w is None else w for _, w in entries]
        self._weights = None if all(w == 1 for w in weighted) else array("q", weighted)
        del entries, weighted
        self._first = bytearray(_SIZE * self.size)  # the first ballot seen, per credential
        self._last = bytearray(_SIZE * self.size)  # its last ballot that counts
        self._more: dict[int, set[bytes]] = {}  # other ballots seen, for the few with several
        self._strangers: set[bytes] = set()  # ballots of credentials not on the list
        self.counted = 0  # credentials with a ballot that counts
        self.counted_weight = 0

    def __repr__(self) -> str:
        return f"Voters({self.size} credentials, {self.counted} counted)"

    # -- the list ---------------------------------------------------------------------------

    def index(self, key: bytes) -> int | None:
        """The credential's place in the list, or None when it is not listed."""
        return self._keys.index(key)

    def weight(self, index: int) -> int:
        return 1 if self._weights is None else self._weights[index]

    def weight_of(self, key: bytes) -> int | None:
        """The listed credential's weight (1 in an unweighted election), or None."""
        index = self.index(key)
        return None if index is None else self.weight(index)

    # -- the ballots ------------------------------------------------------------------------

    def first_sight(self, index: int | None, digest: bytes) -> bool:
        """Note the ballot ``digest`` of credential ``index`` (None: not listed); False when it
        was seen before (a ballot's bytes name its credential: the same ballot twice has the
        same credential)."""
        if index is None:
            if digest in self._strangers:
                return False
            self._strangers.add(digest)
            return True
        at = index * _SIZE
        first = self._first[at : at + _SIZE]
        if first == _NONE:
            self._first[at : at + _SIZE] = digest
            return True
        if first == digest:
            return False
        more = self._more.setdefault(index, set())
        if digest in more:
            return False
        more.add(digest)
        return True

    def last(self, index: int) -> bytes | None:
        """The digest of the credential's last ballot that counts, or None."""
        at = index * _SIZE
        digest = bytes(self._last[at : at + _SIZE])
        return None if digest == _NONE else digest

    def set_last(self, index: int, digest: bytes) -> None:
        at = index * _SIZE
        if self._last[at : at + _SIZE] == _NONE:
            self.counted += 1
            self.counted_weight += self.weight(index)
        self._last[at : at + _SIZE] = digest

    def last_of(self, key: bytes) -> bytes | None:
        """The digest of the last counted ballot of the credential ``key``, or None."""
        index = self.index(key)
        return None if index is None else self.last(index)

    def counted_keys(self) -> Iterator[bytes]:
        """Each credential with a ballot that counts (its 32 bytes), in key order."""
        last, keys = self._last, self._keys
        for index in range(self.size):
            at = index * _SIZE
            if last[at : at + _SIZE] != _NONE:
                yield keys.key(index)
