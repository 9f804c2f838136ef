"""Making credentials fast: a buffered system random source and a pool of processes.

Each credential costs one scalar multiplication (its public key, ~25 µs) and 21 random Base58
digits. ``secrets.randbelow`` spends ~2 µs a digit — more than the multiplication — so digits
come from :class:`SystemRandomBelow`: bytes of ``os.urandom`` read 4 KiB at a time, each byte
used by rejection sampling (uniform, no modulo bias). Batches go to worker processes, a bounded
number at a time so a million-member file streams through in constant memory, and come back in
order.
"""

from __future__ import annotations

import os
import secrets
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from unionvote.crypto.credentials import PrivateCredential

__all__ = ["Derived", "SystemRandomBelow", "derive_batch", "derive_stream"]

#: One batch's result: (private credential text, public key as Belenios writes it) per member.
Derived = list[tuple[str, str]]

_BUFFER = 4096
T = TypeVar("T")


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


def derive_batch(uuid: str, count: int) -> Derived:
    """``count`` fresh private credentials for the election ``uuid`` and their public keys."""
    rng = SystemRandomBelow()
    out: Derived = []
    for _ in range(count):
        credential = PrivateCredential.generate(rng)
        out.append((credential.reveal(), str(credential.public(uuid).key)))
    return out


def _derive_job(job: tuple[str, int]) -> Derived:
    return derive_batch(*job)


def derive_stream(
    uuid: str, batches: Iterable[Sequence[T]], *, workers: int = 1
) -> Iterator[tuple[Sequence[T], Derived]]:
    """Each batch with one fresh credential per item, in order, derived on ``workers``
    processes.

    At most ``2 × workers`` batches are in flight, so a large input is read while the output
    is written. With one worker everything runs in this process.
    """
    if workers <= 1:
        for batch in batches:
            yield batch, derive_batch(uuid, len(batch))
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Sequence[T], Future[Derived]]] = deque()
        for batch in batches:
            pending.append((batch, pool.submit(_derive_job, (uuid, len(batch)))))
            if len(pending) >= 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
