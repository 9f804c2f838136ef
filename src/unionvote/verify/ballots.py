"""Checking the record's ballots, wherever an engine runs them (``verify.engine``).

What one ballot needs is only the election and its fingerprint φ: parsing it (canonical JSON)
and ``check_ballot`` (election, shape, signature, proofs) depend on nothing else, so they run
anywhere (``examine``). What depends on the ballots before it — a replay, whether the
credential is on the list, which ballot is a credential's last, the running tally — stays with
the caller, which applies the outcomes in record order (``verify.record``).

``ballot_job`` is that work as an engine's job: the election is sent once to each worker
(``BallotSetup``, with the group arithmetic the report names: a worker that cannot use it
refuses), and each batch of raw ballots comes back as its outcomes, in order, with the
arithmetic that checked them (the caller refuses outcomes checked with another) and the
product of the ballots that passed (a ``PartialTally``, weight 1 each): multiplying the
ballots into the tally is spread over the workers too, and the caller corrects it only for
the few ballots that do not count as they were added (a replay, an unlisted credential, a
revote's earlier ballot, a weight other than 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from unionvote.crypto import fast
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.group import GroupElement
from unionvote.domain.tally import PartialTally, TallyAccumulator
from unionvote.record.ballot import check_ballot
from unionvote.record.errors import RecordError
from unionvote.record.messages import Ballot, Election, parse_entry
from unionvote.verify.engine import Job

__all__ = [
    "BATCH_SIZE",
    "BallotOutcome",
    "BallotSetup",
    "CheckedBatch",
    "ballot_job",
    "check_batch",
    "examine",
    "parse_election",
    "prepare",
]

#: Ballots per batch sent to a worker: large enough that the transfer is a small part of the
#: work (a pick-1-of-8 ballot is about 7 kB and 4 ms to check), small enough to bound memory.
BATCH_SIZE: Final = 256


@dataclass(frozen=True, slots=True)
class BallotOutcome:
    """What checking one ballot on its own found.

    ``credential`` is None only when the ballot could not be parsed (``failure`` is then
    ``ballot.canonical``); a ballot without ``failure`` passed every check of its own and
    is in its batch's partial tally (``CheckedBatch``)."""

    credential: GroupElement | None
    failure: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """A batch's outcomes, in order; the arithmetic that checked them; the product of the
    ballots that passed, each with weight 1."""

    arithmetic: str
    outcomes: list[BallotOutcome]
    tally: PartialTally


def parse_election(raw: bytes) -> Election:
    return parse_entry("election", raw, Election.from_json, Election.to_json)


def examine(
    election: Election, election_hash: str, raw: bytes
) -> tuple[BallotOutcome, Ballot | None]:
    """Parse one ballot and check it against the election (``check_ballot``): the outcome,
    and the ballot when it passed."""
    try:
        ballot = parse_entry("ballot", raw, Ballot.from_json, Ballot.to_json)
    except RecordError as error:
        return BallotOutcome(None, ("ballot.canonical", error.detail)), None
    try:
        check_ballot(election, election_hash, ballot)
    except CryptoError as error:
        return BallotOutcome(ballot.credential, (error.check, error.detail)), None
    return BallotOutcome(ballot.credential), ballot


# -- the job an engine runs (``verify.engine``) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class BallotSetup:
    """What every worker needs, sent once: the election's canonical bytes, its fingerprint,
    the group arithmetic the report will name, and the caller's ``fast.internal_format`` (the
    partial tallies come back in libdecaf's internal form when the worker's is the same)."""

    election_raw: bytes
    election_hash: str
    arithmetic: str
    internal_format: str | None = None


@dataclass(frozen=True, slots=True)
class _Checker:
    election: Election
    election_hash: str
    arithmetic: str
    internal_format: str | None


def _use(wanted: str) -> None:
    """Put the group arithmetic ``wanted`` in force in this process, or refuse: a worker that
    cannot use it (libdecaf0 missing on a cluster's machine) must not check with another one
    than the report names."""
    if fast.arithmetic() != wanted:
        fast.set_enabled(wanted == "libdecaf")
        if fast.arithmetic() != wanted:
            raise RuntimeError(
                f"this worker cannot check proofs with {wanted} (it has {fast.arithmetic()}); "
                "install libdecaf0 on it"
            )


def prepare(setup: BallotSetup) -> _Checker:
    """A worker's state for one election: the parsed election and the arithmetic to use."""
    _use(setup.arithmetic)
    return _Checker(
        parse_election(setup.election_raw),
        setup.election_hash,
        setup.arithmetic,
        setup.internal_format,
    )


def check_batch(checker: _Checker, batch: list[bytes]) -> CheckedBatch:
    """The outcomes of one batch of raw ballots, with the arithmetic that checked them (set
    again for each batch: a worker process may have run another job since) and the product
    of those that passed."""
    _use(checker.arithmetic)
    election = checker.election
    tally = TallyAccumulator(election.questions)
    outcomes = []
    for raw in batch:
        outcome, ballot = examine(election, checker.election_hash, raw)
        outcomes.append(outcome)
        if ballot is not None:
            tally.add(ballot, None)
    return CheckedBatch(fast.arithmetic(), outcomes, tally.to_partial(checker.internal_format))


def ballot_job(
    election_raw: bytes, election_hash: str
) -> Job[BallotSetup, _Checker, list[bytes], CheckedBatch]:
    """The job checking batches of raw ballots against this election, with this process's
    group arithmetic."""
    setup = BallotSetup(election_raw, election_hash, fast.arithmetic(), fast.internal_format())
    return Job(prepare, setup, check_batch)
