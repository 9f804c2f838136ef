"""Checking the record's ballots, in this process or on a local process pool.

What one ballot needs is only the election and its fingerprint φ: parsing it (canonical JSON)
and ``check_ballot`` (election, shape, signature, proofs) depend on nothing else, so they run
anywhere (``examine``). What depends on the ballots before it — a replay, whether the
credential is on the list, which ballot is a credential's last, the running tally — stays with
the caller, which applies the outcomes in record order (``verify.record``).

``BallotPool`` sends batches of raw ballots to worker processes, at most ``2 × workers``
batches in flight, and hands back the outcomes batch by batch in the order they were sent, so
the report is the one the in-process path makes. The processes start with the first full
batch: a record of fewer ballots is checked in this process, where starting workers would
cost more than it saves. Workers are started with ``spawn`` and told
the election and the group arithmetic explicitly (``crypto.fast.set_enabled``), never by
inheriting the parent's memory.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Final

from unionvote.crypto import fast
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.group import GroupElement
from unionvote.record.ballot import check_ballot
from unionvote.record.errors import RecordError
from unionvote.record.messages import Ballot, Election, parse_entry

__all__ = ["BATCH_SIZE", "BallotOutcome", "BallotPool", "examine", "parse_election"]

#: Ballots per batch sent to a worker: large enough that the transfer is a small part of the
#: work (a pick-1-of-8 ballot is about 7 kB and 4 ms to check), small enough to bound memory.
BATCH_SIZE: Final = 256

#: One ballot as the archive holds it: its name (the payload hash) and its raw bytes.
RawBallot = tuple[str | None, bytes]


@dataclass(frozen=True, slots=True)
class BallotOutcome:
    """What checking one ballot on its own found.

    ``credential`` is None only when the ballot could not be parsed (``failure`` is then
    ``ballot.canonical``); ``choices`` (the encrypted choices per question, for the tally) are
    given only when every check passed."""

    credential: GroupElement | None
    failure: tuple[str, str] | None = None
    choices: tuple[tuple[Ciphertext, ...], ...] = ()


def parse_election(raw: bytes) -> Election:
    return parse_entry("election", raw, Election.from_json, Election.to_json)


def examine(election: Election, election_hash: str, raw: bytes) -> BallotOutcome:
    """Parse one ballot and check it against the election (``check_ballot``)."""
    try:
        ballot = parse_entry("ballot", raw, Ballot.from_json, Ballot.to_json)
    except RecordError as error:
        return BallotOutcome(None, ("ballot.canonical", error.detail))
    try:
        check_ballot(election, election_hash, ballot)
    except CryptoError as error:
        return BallotOutcome(ballot.credential, (error.check, error.detail))
    return BallotOutcome(ballot.credential, None, tuple(a.choices for a in ballot.answers))


# -- the worker side ------------------------------------------------------------------------

_election: Election | None = None
_election_hash = ""


def _start_worker(election_raw: bytes, election_hash: str, fast_arithmetic: bool) -> None:
    global _election, _election_hash
    fast.set_enabled(fast_arithmetic)
    _election, _election_hash = parse_election(election_raw), election_hash


def _check_batch(batch: list[RawBallot]) -> tuple[str, list[BallotOutcome]]:
    """The outcomes of one batch, with the arithmetic that checked them."""
    assert _election is not None, "the worker was not started with an election"
    return fast.arithmetic(), [examine(_election, _election_hash, raw) for _, raw in batch]


# -- the parent side ------------------------------------------------------------------------


class BallotPool:
    """A pool of ``workers`` processes checking batches of ballots for one election.

    ``add`` queues a ballot and returns the outcomes of the oldest batch when the in-flight
    limit makes it wait for one (each ``(name, outcome)``); ``drain`` yields all that remain.
    The caller applies them in that order, which is the record's order."""

    def __init__(
        self,
        workers: int,
        election_raw: bytes,
        election_hash: str,
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if workers < 2:
            raise ValueError("a pool needs at least 2 workers; check in-process instead")
        self.arithmetic = fast.arithmetic()
        self._workers = workers
        self._election_raw, self._election_hash = election_raw, election_hash
        self._executor: ProcessPoolExecutor | None = None
        self._batch_size = batch_size
        self._limit = 2 * workers
        self._batch: list[RawBallot] = []
        self._in_flight: deque[tuple[list[str | None], Future[tuple[str, list[BallotOutcome]]]]] = (
            deque()
        )

    def add(self, name: str | None, raw: bytes) -> list[tuple[str | None, BallotOutcome]]:
        self._batch.append((name, raw))
        if len(self._batch) < self._batch_size:
            return []
        done = list(self._collect()) if len(self._in_flight) >= self._limit else []
        self._submit()
        return done

    def drain(self) -> Iterator[tuple[str | None, BallotOutcome]]:
        """Every outstanding outcome, the partial batch included."""
        if self._executor is None:  # never a full batch: no worker was worth starting
            batch, self._batch = self._batch, []
            if batch:
                election = parse_election(self._election_raw)
                for name, raw in batch:
                    yield name, examine(election, self._election_hash, raw)
            return
        if self._batch:
            self._submit()
        while self._in_flight:
            yield from self._collect()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _submit(self) -> None:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._election_raw, self._election_hash, self.arithmetic == "libdecaf"),
            )
        names = [name for name, _ in self._batch]
        self._in_flight.append((names, self._executor.submit(_check_batch, self._batch)))
        self._batch = []

    def _collect(self) -> Iterator[tuple[str | None, BallotOutcome]]:
        names, future = self._in_flight.popleft()
        arithmetic, outcomes = future.result()
        if arithmetic != self.arithmetic:  # the report names one arithmetic: keep it true
            raise RuntimeError(
                f"a verifier worker checked proofs with {arithmetic}, not {self.arithmetic}"
            )
        yield from zip(names, outcomes, strict=True)
