"""Checking the record's ballots, wherever an engine runs them (``verify.engine``).

What one ballot needs is only the election and its fingerprint φ: parsing it (canonical JSON)
and ``check_ballot`` (election, shape, signature, proofs) depend on nothing else, so they run
anywhere (``examine``). What depends on the ballots before it — a replay, whether the
credential is on the list, which ballot is a credential's last, the running tally — stays with
the caller, which applies the outcomes in record order (``verify.record``).

``ballot_job`` is that work as an engine's job: the election is sent once to each worker
(``BallotSetup``, with the group arithmetic the report names: a worker that cannot use it
refuses), and each batch of raw ballots comes back as its outcomes, in order, with the
arithmetic that checked them (the caller refuses outcomes checked with another).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from unionvote.crypto import fast
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.group import GroupElement
from unionvote.record.ballot import check_ballot
from unionvote.record.errors import RecordError
from unionvote.record.messages import Ballot, Election, parse_entry
from unionvote.verify.engine import Job

__all__ = [
    "BATCH_SIZE",
    "BallotOutcome",
    "BallotSetup",
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


# -- the job an engine runs (``verify.engine``) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class BallotSetup:
    """What every worker needs, sent once: the election's canonical bytes, its fingerprint,
    and the group arithmetic the report will name."""

    election_raw: bytes
    election_hash: str
    arithmetic: str


@dataclass(frozen=True, slots=True)
class _Checker:
    election: Election
    election_hash: str
    arithmetic: str


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
    return _Checker(parse_election(setup.election_raw), setup.election_hash, setup.arithmetic)


def check_batch(checker: _Checker, batch: list[bytes]) -> tuple[str, list[BallotOutcome]]:
    """The outcomes of one batch of raw ballots, with the arithmetic that checked them (set
    again for each batch: a worker process may have run another job since)."""
    _use(checker.arithmetic)
    outcomes = [examine(checker.election, checker.election_hash, raw) for raw in batch]
    return fast.arithmetic(), outcomes


def ballot_job(
    election_raw: bytes, election_hash: str
) -> Job[BallotSetup, _Checker, list[bytes], tuple[str, list[BallotOutcome]]]:
    """The job checking batches of raw ballots against this election, with this process's
    group arithmetic."""
    return Job(prepare, BallotSetup(election_raw, election_hash, fast.arithmetic()), check_batch)
