"""Making ballots the way a member's device does, many at once, on every core.

Used by ``unionvote vote`` (one ballot, for assisted voting) and ``unionvote simulate`` (many).
Each worker process receives the election once; a job is a private credential and the
choices, and comes back as the ballot's canonical bytes, ready to cast. Private credentials
cross only into these local worker processes, never into the database or a log.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import Self

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.encoding import compact_json
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Election

__all__ = ["BallotMaker", "Job", "make_one"]

Job = tuple[str, Sequence[Sequence[int]]]  # (private credential text, choices per question)

_worker: tuple[Election, str] | None = None


def _start_worker(election_json: bytes, election_hash: str) -> None:
    import json

    global _worker
    _worker = (Election.from_json(json.loads(election_json)), election_hash)


def _make(job: Job) -> bytes:
    assert _worker is not None, "the worker was started without its election"
    election, election_hash = _worker
    text, choices = job
    return make_one(election, election_hash, PrivateCredential(text), choices)


def make_one(
    election: Election,
    election_hash: str,
    credential: PrivateCredential,
    choices: Sequence[Sequence[int]],
) -> bytes:
    """One encrypted, proved and signed ballot, as the bytes to cast."""
    return make_ballot(election, election_hash, credential, choices).to_bytes()


class BallotMaker:
    """A pool of worker processes that make ballots for one election, in order."""

    def __init__(self, election: Election, election_hash: str, *, workers: int | None = None):
        self._pool = ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 1,
            initializer=_start_worker,
            initargs=(compact_json(election.to_json()), election_hash),
        )

    def make(self, jobs: Iterable[Job], *, ahead: int = 64) -> Iterator[bytes]:
        """The ballots for ``jobs``, in the same order, made in parallel; at most ``ahead``
        jobs are in flight, so memory does not grow with the number of ballots."""
        pending: deque[Future[bytes]] = deque()
        for job in jobs:
            pending.append(self._pool.submit(_make, job))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
