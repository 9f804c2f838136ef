"""Making credentials fast: random digits drawn in bulk and a pool of processes.

Each credential costs one scalar multiplication (its public key, ~20 µs), two SHA-256 (its
secret exponent) and 21 random Base58 digits. The digits come from :func:`random_digits`: a
block of ``os.urandom`` bytes goes through one ``bytes.translate`` that maps a byte ``b`` below
232 to the digit ``b mod 58`` and drops the bytes from 232 up (rejection sampling: 232 is the
largest multiple of 58 in a byte, so every digit is equally likely). That is the draw
:class:`SystemRandomBelow` makes one byte at a time, at a hundredth of the cost. The checksum
character is computed here with per-position weights (58ⁱ mod 53) rather than through the
big number; the tests check it against ``PrivateCredential.typed``, the definition.

A worker gets a batch of members (card number and weight) and returns the batch's lines,
already written: ``card_number,credential`` rows for ``private-credentials.csv`` and the
entries of ``public-credentials.json``, so that the parent only reads the file and writes
text. Batches go to worker processes a bounded number at a time, so that a million-member
file streams through in constant memory, and come back in order.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from json.encoder import encode_basestring_ascii
from operator import mul
from typing import Final, NamedTuple

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.encoding import BASE58_ALPHABET

__all__ = [
    "Batch",
    "Derived",
    "Lines",
    "SystemRandomBelow",
    "derive_batch",
    "derive_lines",
    "derive_stream",
    "random_digits",
]

#: One batch's result: (private credential text, public key as Belenios writes it) per member.
Derived = list[tuple[str, str]]

_BUFFER = 4096
_ACCEPT: Final = 256 - 256 % 58  # 232: bytes from here up would favour the small digits
_TO_DIGIT: Final = bytes(ord(BASE58_ALPHABET[b % 58]) if b < _ACCEPT else 0 for b in range(256))
_REJECTED: Final = bytes(range(_ACCEPT, 256))
_VALUE: Final = bytes(
    BASE58_ALPHABET.index(chr(b)) if chr(b) in BASE58_ALPHABET else 0 for b in range(256)
)
_RANDOM_DIGITS: Final = 21  # and a checksum character: 22
_WEIGHTS: Final = tuple(pow(58, _RANDOM_DIGITS - 1 - i, 53) for i in range(_RANDOM_DIGITS))


class SystemRandomBelow:
    """``rng(n)``: a uniform integer in [0, n) from the operating system's random source.

    A fresh instance must be made in each process (never inherited across ``fork``), so that
    two workers never share buffered bytes.
    """

    __slots__ = ("_buffer", "_position")

    def __init__(self) -> None:
        self._buffer = b""
        self._position = 0

    def __call__(self, n: int) -> int:
        if not 0 < n <= 256:
            return secrets.randbelow(n)
        limit = 256 - 256 % n  # bytes from limit up would favour the small residues
        while True:
            if self._position >= len(self._buffer):
                self._buffer = os.urandom(_BUFFER)
                self._position = 0
            byte = self._buffer[self._position]
            self._position += 1
            if byte < limit:
                return byte % n

    def __repr__(self) -> str:
        return "SystemRandomBelow(<buffer redacted>)"


def random_digits(count: int) -> bytes:
    """``count`` uniform Base58 characters (ASCII) from the operating system's random source."""
    out = b""
    while len(out) < count:
        need = count - len(out)
        # 232 of 256 bytes are kept: an eighth more than needed is almost always enough.
        out += os.urandom(need + need // 8 + 16).translate(_TO_DIGIT, _REJECTED)
    return out[:count]


def _checksum(digits: bytes) -> str:
    """The checksum character of 21 Base58 characters: 53 − (n mod 53), n their value."""
    n = sum(map(mul, digits.translate(_VALUE), _WEIGHTS))
    return BASE58_ALPHABET[53 - n % 53]


def _fresh(uuid: str, count: int) -> Iterator[tuple[str, str]]:
    pool = random_digits(_RANDOM_DIGITS * count)
    for start in range(0, _RANDOM_DIGITS * count, _RANDOM_DIGITS):
        digits = pool[start : start + _RANDOM_DIGITS]
        credential = PrivateCredential(digits.decode("ascii") + _checksum(digits))
        yield credential.reveal(), str(credential.public(uuid).key)


def derive_batch(uuid: str, count: int) -> Derived:
    """``count`` fresh private credentials for the election ``uuid`` and their public keys."""
    return list(_fresh(uuid, count))


class Batch(NamedTuple):
    """Members to make credentials for: their card numbers and weights (``None``: unweighted)."""

    cards: list[str]
    weights: list[int | None]


class Lines(NamedTuple):
    """A batch's output: ``private-credentials.csv`` rows (each ending in a newline) and the
    ``public-credentials.json`` entries, one a line, joined by ``,\\n``."""

    private: str
    public: str


def derive_lines(uuid: str, batch: Batch) -> Lines:
    """Fresh credentials for ``batch``, written as the workspace's two files hold them."""
    private = io.StringIO()
    writer = csv.writer(private, lineterminator="\n")
    entries = []
    for card, weight, (text, key) in zip(
        batch.cards, batch.weights, _fresh(uuid, len(batch.cards)), strict=True
    ):
        writer.writerow((card, text))
        entries.append(
            f'{{"card_number": {encode_basestring_ascii(card)}, "public_credential": "{key}", '
            f'"weight": {"null" if weight is None else weight}}}'
        )
    return Lines(private.getvalue(), ",\n".join(entries))


def _derive_job(job: tuple[str, Batch]) -> Lines:
    return derive_lines(*job)


def derive_stream(
    uuid: str, batches: Iterable[Batch], *, workers: int = 1
) -> Iterator[tuple[Batch, Lines]]:
    """Each batch with its lines (one fresh credential per member), in order, made on
    ``workers`` processes.

    At most ``2 × workers`` batches are in flight, so a large input is read while the output
    is written. With one worker everything runs in this process.
    """
    if workers <= 1:
        for batch in batches:
            yield batch, derive_lines(uuid, batch)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Batch, Future[Lines]]] = deque()
        for batch in batches:
            pending.append((batch, pool.submit(_derive_job, (uuid, batch))))
            if len(pending) >= 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
