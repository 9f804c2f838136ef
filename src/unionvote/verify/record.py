"""Verify a whole election record (specification §"Audit"): every element, proof, signature,
chain link, the encrypted tally, every partial decryption and the result.

One streaming pass over the archive checks the chain (the archive reader does) and every
ballot, and multiplies the ballots into the tally as it goes (on the engine, with the checks:
each batch comes back with the product of its ballots that passed); what must not count as it
was added — a revote's earlier ballot, a replay, an unlisted credential — and a weight other
than 1 are corrected afterwards, in a second pass that reads only those ballots. Nothing that
grows with the number of ballots is kept but, per voter, the few dozen bytes of
``verify.voters.Voters``.

Each ballot's own checks (parsing, signature, proofs) run in batches on an engine
(``verify.engine``): in this process, on a local process pool (``workers`` ≥ 2) or on a Dask
cluster (``engine``), a bounded number of batches in flight; whichever it is, their outcomes
are applied here in record order, with the checks that depend on earlier ballots (a replay,
the credential list, the last ballot per credential, the tally), so the report is the same.
A failure of the engine itself (a worker lost for good) raises ``EngineError``: it is never
turned into a verdict.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from unionvote.crypto.decryption import DiscreteLog, PartialDecryption, combine_factors
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.fast import arithmetic
from unionvote.crypto.trustees import TrusteeItem, election_public_key, key_owners
from unionvote.domain.errors import ElectionError
from unionvote.domain.tally import TallyAccumulator
from unionvote.record.archive import ArchiveReader, EventEntry
from unionvote.record.errors import RecordError
from unionvote.record.messages import (
    Election,
    Owned,
    Result,
    SetupData,
    SizedEncryptedTally,
    encrypted_tally_to_json,
    parse_credentials_entry,
    parse_encrypted_tally,
    parse_entry,
    parse_trustees_entry,
)
from unionvote.verify.ballots import BATCH_SIZE, BallotOutcome, ballot_job, parse_election
from unionvote.verify.engine import Engine, EngineError, open_engine
from unionvote.verify.report import Report
from unionvote.verify.sidecars import check_published
from unionvote.verify.voters import Voters

__all__ = ["verify_record"]

_BALLOT_CHECKS = (
    "ballot.canonical",
    "ballot.election",
    "ballot.credential",
    "ballot.signature",
    "ballot.individual_proof",
    "ballot.overall_proof",
)

T = TypeVar("T")

#: ``progress(ballots_checked, bytes_read)``, called as ballots are checked.
Progress = Callable[[int, int], None]


class _Stop(Exception):
    """Raised inside the verifier when nothing further can be checked."""


def verify_record(
    path: Path,
    *,
    workers: int = 1,
    engine: Engine | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> Report:
    """Check everything in the record at ``path``; the report says what passed and failed.
    The stage's published files beside it, if any, are checked too (``verify.sidecars``).

    The ballots are checked ``batch_size`` at a time on ``engine`` (the caller's, left open),
    or else on ``workers`` local processes (1: in this process); the report is the same
    wherever they are checked. Raises ``EngineError`` when the engine cannot finish."""
    if workers < 1 or batch_size < 1:
        raise ValueError("workers and batch_size must be at least 1")
    if engine is not None and workers != 1:
        raise ValueError("give either an engine or a number of workers, not both")
    report = Report(str(path), arithmetic=arithmetic())
    verifier: _Verifier | None = None
    own = engine is None
    try:
        with ArchiveReader.open(path) as reader:
            verifier = _Verifier(
                report,
                reader,
                path,
                engine if engine is not None else open_engine(workers=workers),
                batch_size,
                progress,
            )
            try:
                verifier.run()
            finally:
                if own:
                    verifier.engine.close()
    except RecordError as error:
        report.stop(_archive_check(error.check), error.detail, error.entry)
    except _Stop:
        pass
    except OSError as error:
        report.stop("archive", f"cannot read the record: {error.strerror or error}")
    if report.stopped is None:
        report.passed("archive")
    if verifier is not None and report.stopped is None:
        check_published(report, path, verifier.voters)
    else:
        check_published(report, path, None)
    return report


def _archive_check(check: str) -> str:
    return "archive.chain" if check in {"archive.chain", "archive.height"} else check


class _Verifier:
    def __init__(
        self,
        report: Report,
        reader: ArchiveReader,
        path: Path,
        engine: Engine,
        batch_size: int,
        progress: Progress | None,
    ) -> None:
        self.report = report
        self.reader = reader
        self.path = path
        self.engine = engine
        self.batch_size = batch_size
        self.progress = progress
        self.broken: RecordError | None = None
        # Per voter, its credential and its ballots' digests as raw bytes (``Voters``): the
        # ballots seen, and the last of each credential, which counts.
        self.voters = Voters(())
        # Ballot digest → the power to multiply it in again: the engine's partial tallies hold
        # every ballot that passed its own checks once; a replay or an unlisted credential
        # must not count (−1), a revote's earlier ballot no more (−weight), a weight w
        # ballot w times (+w − 1).
        self.corrections: dict[bytes, int] = {}
        self.running: TallyAccumulator | None = None

    # -- helpers ----------------------------------------------------------------------------

    def parse(self, check: str, raw: bytes, build: Callable[[bytes], T], entry: str) -> T:
        try:
            return build(raw)
        except (RecordError, CryptoError) as error:
            detail = error.detail if isinstance(error, RecordError) else str(error)
            self.report.stop(check, detail, entry)
            raise _Stop from error

    # -- the pass --------------------------------------------------------------------------

    def run(self) -> None:
        self.events = self.reader.iter_events()
        first = next(self.events, None)
        if first is None:
            self.report.stop("archive", "the record has no events")
            raise _Stop
        self.setup(first)
        self.report.phase = "voting"
        entry = self.next_event()
        while entry is not None:
            self.report.passed("archive.chain")
            if entry.event.type == "Ballot":
                entry = self.ballots(entry)
            else:
                self.event(entry)
                self.tell_progress()
                entry = self.next_event()
        if self.broken is not None:  # a broken archive stops after the ballots before the break
            raise self.broken
        self.report.passed("archive.chain")

    def next_event(self) -> EventEntry | None:
        """The next entry, or None at the end or at a break in the archive (kept, to be raised
        once the ballots before it are applied)."""
        if self.broken is not None:
            return None
        try:
            return next(self.events, None)
        except RecordError as error:
            self.broken = error
            return None

    def tell_progress(self) -> None:
        if self.progress is not None:
            self.progress(self.report.ballots_checked, self.reader.end_offset)

    def event(self, entry: EventEntry) -> None:
        kind = entry.event.type
        if kind == "EndBallots":
            self.report.phase = "closed"
        elif kind == "EncryptedTally":
            self.tally(entry)
        elif kind == "PartialDecryption":
            self.partial_decryption(entry)
        elif kind == "Result":
            self.result(entry)
        else:  # Shuffle events: only for non-homomorphic questions, which we never write
            self.report.stop("archive", f"{kind} events are not supported", entry.hash)
            raise _Stop

    def setup(self, entry: EventEntry) -> None:
        if entry.event.type != "Setup" or entry.payload is None:
            self.report.stop("setup.election", "the first event is not Setup", entry.hash)
            raise _Stop
        setup = self.parse(
            "setup.election",
            entry.payload,
            lambda raw: parse_entry("setup", raw, SetupData.from_json, SetupData.to_json),
            entry.hash,
        )
        self.election_hash = setup.election_hash
        self.election_raw = self.reader.data(setup.election)
        self.election: Election = self.parse(
            "setup.election", self.election_raw, parse_election, setup.election
        )
        self.report.passed("setup.election")
        self.report.election = {
            "uuid": self.election.uuid,
            "name": self.election.name,
            "fingerprint": self.election_hash,
            "questions": [
                {"question": q.question, "answers": list(q.answers), "blank": q.blank}
                for q in self.election.questions
            ],
        }
        self.trustees: list[TrusteeItem] = self.parse(
            "setup.trustees", self.reader.data(setup.trustees), parse_trustees_entry, setup.trustees
        )
        for item in self.trustees:
            try:
                item.check()
                self.report.passed("setup.trustees")
            except CryptoError as error:
                self.report.failed("setup.trustees", str(error), setup.trustees)
        if election_public_key(self.trustees) == self.election.public_key:
            self.report.passed("setup.public_key")
        else:
            self.report.failed(
                "setup.public_key", "the election key is not the product of the trustees' keys"
            )
        self.voters = self.parse(
            "setup.credentials",
            self.reader.data(setup.credentials),
            lambda raw: Voters((c.key.to_bytes(), c.weight) for c in parse_credentials_entry(raw)),
            setup.credentials,
        )  # the parsed list (objects per voter) is not kept
        self.report.passed("setup.credentials", self.voters.size)
        self.report.election["voters"] = self.voters.size
        self.running = TallyAccumulator(self.election.questions)

    def ballots(self, first: EventEntry) -> EventEntry | None:
        """Check the run of ballots that starts at ``first`` on the engine and apply their
        outcomes in record order; returns the entry after the run (None at the end)."""
        names: deque[list[str | None]] = deque()  # of the batches sent, oldest first
        after: list[EventEntry | None] = [None]

        def batches() -> Iterator[list[bytes]]:
            entry: EventEntry | None = first
            batch: list[bytes] = []
            batch_names: list[str | None] = []
            while entry is not None and entry.event.type == "Ballot":
                assert entry.payload is not None
                batch.append(entry.payload)
                batch_names.append(entry.event.payload)
                if len(batch) == self.batch_size:
                    names.append(batch_names)
                    yield batch
                    batch, batch_names = [], []
                entry = self.next_event()
                if entry is not None and entry.event.type == "Ballot":
                    self.report.passed("archive.chain")
            after[0] = entry
            if batch:
                names.append(batch_names)
                yield batch

        job = ballot_job(self.election_raw, self.election_hash)
        assert self.running is not None
        for checked in self.engine.map(job, batches()):
            if checked.arithmetic != self.report.arithmetic:  # the report names one: keep it true
                raise EngineError(
                    f"a worker checked proofs with {checked.arithmetic}, "
                    f"not {self.report.arithmetic}"
                )
            try:
                self.running.merge_partial(checked.tally)
            except ElectionError as error:
                raise EngineError(f"a worker's partial tally: {error.detail}") from None
            for name, outcome in zip(names.popleft(), checked.outcomes, strict=True):
                self.apply(name, outcome)
            self.tell_progress()
        return after[0]

    def correct(self, digest: bytes, power: int) -> None:
        power += self.corrections.get(digest, 0)
        if power:
            self.corrections[digest] = power
        else:
            self.corrections.pop(digest, None)

    def apply(self, name: str | None, outcome: BallotOutcome) -> None:
        """One ballot's outcome, in record order, with the checks that depend on the ballots
        before it: a replay, the credential list, the last ballot per credential, the tally."""
        report = self.report
        report.ballots_checked += 1
        credential = outcome.credential
        if credential is None:
            assert outcome.failure is not None
            report.failed("ballot.canonical", outcome.failure[1], name)
            return
        assert name is not None
        digest = bytes.fromhex(name)
        added = outcome.failure is None  # in its batch's partial tally
        voters = self.voters
        index = voters.index(credential.to_bytes())
        if not voters.first_sight(index, digest):
            report.failed("ballot.duplicate", "the same ballot is in the record twice", name)
            if added:
                self.correct(digest, -1)
            return
        report.passed("ballot.duplicate")
        if index is None:
            report.failed("ballot.credential", "the credential is not on the public list", name)
            if added:
                self.correct(digest, -1)
            return
        if outcome.failure is not None:
            report.failed(*outcome.failure, name)
            return
        for check in _BALLOT_CHECKS:
            report.passed(check)
        if any(q.blank for q in self.election.questions):
            report.passed("ballot.blank_proof")
        weight = voters.weight(index)
        previous = voters.last(index)
        if previous is not None:
            self.correct(previous, -weight)
        voters.set_last(index, digest)
        if weight != 1:
            self.correct(digest, weight - 1)

    def _corrected_ballots(self) -> Iterator[tuple[bytes, int]]:
        """Each ballot to multiply in again (its stored bytes), once, with its power
        (``corrections``): read from the start of the archive to the last of them, never
        past the end of the ballots."""
        left = dict(self.corrections)
        with ArchiveReader.open(self.path) as reader:
            for entry in reader.iter_events():
                if not left or entry.event.type == "EndBallots":
                    return
                if entry.event.type != "Ballot" or entry.event.payload is None:
                    continue
                power = left.pop(bytes.fromhex(entry.event.payload), None)
                if power is not None:
                    assert entry.payload is not None
                    yield entry.payload, power

    def tally(self, entry: EventEntry) -> None:
        assert entry.payload is not None
        sized = self.parse(
            "tally.count",
            entry.payload,
            lambda raw: parse_entry(
                "tally", raw, SizedEncryptedTally.from_json, SizedEncryptedTally.to_json
            ),
            entry.event.payload or entry.hash,
        )
        published = self.parse(
            "tally.encrypted",
            self.reader.data(sized.encrypted_tally),
            lambda raw: parse_entry("tally", raw, parse_encrypted_tally, encrypted_tally_to_json),
            sized.encrypted_tally,
        )
        assert self.running is not None
        # Only ballots that passed their own checks are corrected: their elements were
        # checked, so their stored bytes are multiplied in without checking them again.
        for raw, power in self._corrected_ballots():
            self.running.add_stored(raw, power)
        self.corrections.clear()
        counted, total_weight = self.voters.counted, self.voters.counted_weight
        self.report.ballots_counted = counted
        if (sized.num_tallied, sized.total_weight) == (counted, total_weight):
            self.report.passed("tally.count")
        else:
            self.report.failed(
                "tally.count",
                f"the record says {sized.num_tallied} ballots of total weight "
                f"{sized.total_weight}; the last ballots number {counted}, "
                f"weight {total_weight}",
                entry.event.payload,
            )
        if published == self.running.tally:
            self.report.passed("tally.encrypted")
        else:
            self.report.failed(
                "tally.encrypted",
                "the published encrypted tally is not the product of the counted ballots",
                sized.encrypted_tally,
            )
        # The discrete log is bounded by the weight we counted, never by the record's claim.
        self.encrypted_tally, self.total_weight = published, total_weight
        self.partials: dict[int, PartialDecryption] = {}
        self.owners = {number: key for number, _, key in key_owners(self.trustees)}
        self.report.phase = "tallied"

    def partial_decryption(self, entry: EventEntry) -> None:
        assert entry.payload is not None
        name = entry.event.payload
        owned = self.parse(
            "decryption.owner",
            entry.payload,
            lambda raw: parse_entry("decryption.owner", raw, Owned.from_json, Owned.to_json),
            name or entry.hash,
        )
        partial = self.parse(
            "decryption.proof",
            self.reader.data(owned.payload),
            lambda raw: parse_entry(
                "decryption", raw, PartialDecryption.from_json, PartialDecryption.to_json
            ),
            owned.payload,
        )
        key = self.owners.get(owned.owner)
        if key is None or owned.owner in self.partials:
            self.report.failed(
                "decryption.owner", f"trustee {owned.owner} is unknown or decrypted twice", name
            )
            return
        self.report.passed("decryption.owner")
        try:
            partial.check(self.election_hash, key, self.encrypted_tally)
        except CryptoError as error:
            self.report.failed("decryption.proof", f"trustee {owned.owner}: {error.detail}", name)
            return
        self.report.passed("decryption.proof")
        self.partials[owned.owner] = partial

    def result(self, entry: EventEntry) -> None:
        assert entry.payload is not None
        name = entry.event.payload
        published = self.parse(
            "result.counts",
            entry.payload,
            lambda raw: parse_entry("result", raw, Result.from_json, Result.to_json),
            name or entry.hash,
        )
        self.report.phase = "decrypted"
        try:
            factors = combine_factors(
                self.trustees, self.partials, [len(q) for q in self.encrypted_tally]
            )
            self.report.passed("decryption.missing")
            log = DiscreteLog(self.total_weight)
            counts = [
                [log(c.beta / f) for c, f in zip(row, frow, strict=True)]
                for row, frow in zip(self.encrypted_tally, factors, strict=True)
            ]
        except CryptoError as error:
            check = "result.counts" if error.check == "result.discrete_log" else error.check
            self.report.failed(check, error.detail, name)
            return
        if [list(q) for q in published.result] == counts:
            self.report.passed("result.counts")
            self.report.result = counts
        else:
            self.report.failed(
                "result.counts",
                f"the record publishes {[list(q) for q in published.result]}, "
                f"the decryption gives {counts}",
                name,
            )
