"""Voting from the command line: one assisted vote, or a simulated membership voting.

Both make real ballots — encrypted, proved and signed with the member's private credential, on
this machine — and cast them through ``do_cast``, the same full checks as the booth's. A
simulation follows a distribution file (``domain.simulation``), with abstentions and revotes,
on every core: worker processes both make the ballots and cast them (each on its own
connection to the database), except over an in-memory SQLite, where this process casts.
"""

from __future__ import annotations

import csv
import json
import multiprocessing.util
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.encoding import compact_json
from unionvote.crypto.errors import CryptoError
from unionvote.domain.errors import DomainError
from unionvote.domain.simulation import Distribution, allocate, plan_votes
from unionvote.record.messages import Election, Question
from unionvote.services.booth import BallotMaker, Job, make_one
from unionvote.services.context import Clock, Services
from unionvote.services.elections import (
    CastReceipt,
    do_cast,
    election_definition,
    election_status,
)
from unionvote.services.process import load_process
from unionvote.storage.database import Database

__all__ = [
    "MemberBallots",
    "SimulationSummary",
    "choices_for",
    "do_vote",
    "planned_ballots",
    "read_private_credentials",
    "simulate",
]


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    members: int
    voted: int
    ballots_cast: int
    revotes: int
    abstained: int


def read_private_credentials(path: Path) -> dict[str, PrivateCredential]:
    """The credential authority's ``private-credentials.csv`` (card_number, credential)."""
    credentials: dict[str, PrivateCredential] = {}
    with path.open(newline="", encoding="utf-8") as stream:
        rows = csv.DictReader(line for line in stream if not line.startswith("#"))
        if rows.fieldnames is None or not {"card_number", "credential"} <= set(rows.fieldnames):
            raise DomainError(
                "simulation.credentials",
                f"{path}: expected the authority's columns card_number and credential",
            )
        for line, row in enumerate(rows, start=2):
            try:
                credentials[row["card_number"]] = PrivateCredential(row["credential"])
            except CryptoError as error:
                raise DomainError(
                    "simulation.credentials", f"{path}:{line}: {error.detail}"
                ) from error
    return credentials


def choices_for(question: Question, picks: Sequence[str]) -> list[int]:
    """The 0/1 vector for the named answers; a name not on the ballot is refused by name."""
    index = {label.casefold(): i for i, label in enumerate(question.answers)}
    vector = [0] * len(question.answers)
    for pick in picks:
        i = index.get(pick.casefold())
        if i is None:
            raise DomainError(
                "vote.choice",
                f"{pick!r} is not on the ballot; the choices are: {', '.join(question.answers)}",
            )
        vector[i] = 1
    try:
        question.shape.check_plaintext(vector)
    except CryptoError as error:
        raise DomainError("vote.choice", f"{question.question}: {error.detail}") from error
    return vector


def do_vote(
    services: Services,
    stage_key: str,
    *,
    card_number: str,
    credential: PrivateCredential,
    picks: Sequence[Sequence[str]],
) -> CastReceipt:
    """Cast one member's ballot (assisted voting): ``picks`` names the answers per question."""
    election = election_definition(services, stage_key)
    status = election_status(services, stage_key)
    if len(picks) != len(election.questions):
        raise DomainError(
            "vote.choice",
            f"this ballot has {len(election.questions)} question(s); give choices for each",
        )
    choices = [choices_for(q, p) for q, p in zip(election.questions, picks, strict=True)]
    raw = make_one(election, status.election_hash, credential, choices)
    return do_cast(services, stage_key, raw, member_card=card_number)


def _single_choice(question: Question, answer: int) -> list[int]:
    if question.min > 1:
        raise DomainError(
            "simulation.question",
            f"{question.question!r} needs {question.min} choices; "
            "the simulation votes for one answer per question",
        )
    return [1 if i == answer else 0 for i in range(len(question.answers))]


# -- casting on every core ----------------------------------------------------------------------
#
# Each worker process makes a member's ballots and casts them itself, through ``do_cast`` on
# its own connection to the same database, so that both the making and the full check of each
# ballot use every core. Casting one by one in this process had the check (the most
# expensive part of a cast) wait for this process's one core while the workers only made
# ballots. A member's ballots (a revote after the first) are made and cast in order, by one
# worker: the last one cast is the one that counts, as planned.

MemberBallots = tuple[str, str, list[list[list[int]]]]
"""A member's card number, private credential text, and the choices of each of their
ballots, in order."""

_caster: tuple[Election, str, Services, str] | None = None


def _shared_database(services: Services) -> bool:
    """Whether worker processes can open this database too (not an in-memory SQLite)."""
    url = services.db.url
    if url.get_backend_name() != "sqlite":
        return True
    name = url.database or ""
    return name not in ("", ":memory:") and "mode=memory" not in str(url)


def _start_caster(
    election_json: bytes, election_hash: str, url: str, clock: Clock, actor: str, stage_key: str
) -> None:
    global _caster
    election = Election.from_json(json.loads(election_json))
    database = Database(url)
    # A pool's worker ends through multiprocessing's exit (no atexit): close its connection
    # there, rather than leave the server to see it drop.
    multiprocessing.util.Finalize(None, database.dispose, exitpriority=10)
    _caster = (election, election_hash, Services(database, clock, actor), stage_key)


def _make_and_cast(member: MemberBallots) -> tuple[int, tuple[str, str] | None]:
    """In a worker: one member's ballots made and cast in order; how many were cast, and the
    refusal that stopped them (as its check and detail: a ``DomainError`` does not cross
    back between processes intact)."""
    assert _caster is not None, "the worker was started without its election"
    election, election_hash, services, stage_key = _caster
    card, text, ballots = member
    credential = PrivateCredential(text)
    done = 0
    try:
        for choices in ballots:
            raw = make_one(election, election_hash, credential, choices)
            do_cast(services, stage_key, raw, member_card=card)
            done += 1
    except DomainError as error:
        return done, (error.check, error.detail)
    return done, None


def _cast_on_every_core(
    services: Services,
    stage_key: str,
    election: Election,
    election_hash: str,
    members: Sequence[MemberBallots],
    workers: int | None,
) -> Iterator[int]:
    """Each member's ballots made and cast by a pool of worker processes; yields how many
    ballots each member's job cast, in the members' order. The first refusal stops the
    simulation (members already handed to a worker may still be cast)."""
    pool = ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        initializer=_start_caster,
        initargs=(
            compact_json(election.to_json()),
            election_hash,
            services.db.url.render_as_string(hide_password=False),
            services.clock,
            services.actor,
            stage_key,
        ),
    )
    try:
        for done, refused in pool.map(_make_and_cast, members, chunksize=4):
            yield done
            if refused is not None:
                raise DomainError(*refused)
    finally:
        pool.shutdown(cancel_futures=True)


def planned_ballots(
    services: Services,
    stage_key: str,
    credentials: Mapping[str, PrivateCredential],
    distribution: Distribution,
    *,
    seed: int = 0,
) -> list[MemberBallots]:
    """Who votes and how, following ``distribution``: each voting member's card number,
    private credential text and the choices of each of their ballots, in casting order.

    The first question decides who abstains and who votes twice (exact quotas); every other
    question's answers follow its own shares by exact quotas among the same voters."""
    election = election_definition(services, stage_key)
    with services.db.sessions() as session:
        stage = load_process(session).process.stage(stage_key)
    ids = [q.id for q in stage.questions]
    cards = sorted(credentials)
    first, *others = election.questions
    plans = plan_votes(
        len(cards),
        distribution.for_question(ids[0], first.answers),
        abstain=distribution.abstain,
        revote=distribution.revote,
        seed=seed,
    )
    later: list[list[int]] = []
    for k, question in enumerate(others, start=1):
        shares: list[Fraction] = distribution.for_question(ids[k], question.answers)
        picks = [i for i, n in enumerate(allocate(len(plans), shares)) for _ in range(n)]
        later.append(picks)

    def member_ballots() -> Iterator[MemberBallots]:
        for n, plan in enumerate(plans):
            rest = [_single_choice(q, picks[n]) for q, picks in zip(others, later, strict=True)]
            card = cards[plan.voter]
            ballots = [[_single_choice(first, answer), *rest] for answer in plan.choices]
            yield card, credentials[card].reveal(), ballots

    return list(member_ballots())


def simulate(
    services: Services,
    stage_key: str,
    credentials: Mapping[str, PrivateCredential],
    distribution: Distribution,
    *,
    seed: int = 0,
    workers: int | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> SimulationSummary:
    """Cast the ballots of the members holding ``credentials`` following ``distribution``
    (:func:`planned_ballots`), each checked in full by ``do_cast``."""
    election = election_definition(services, stage_key)
    status = election_status(services, stage_key)
    members = planned_ballots(services, stage_key, credentials, distribution, seed=seed)
    total = sum(len(ballots) for _, _, ballots in members)
    cast = 0
    if _shared_database(services):
        for done in _cast_on_every_core(
            services, stage_key, election, status.election_hash, members, workers
        ):
            cast += done
            progress(cast, total)
    else:
        queued: list[tuple[str, Job]] = [
            (card, (text, choices)) for card, text, ballots in members for choices in ballots
        ]
        with BallotMaker(election, status.election_hash, workers=workers) as maker:
            for (card, _), raw in zip(queued, maker.make(job for _, job in queued), strict=True):
                do_cast(services, stage_key, raw, member_card=card)
                cast += 1
                progress(cast, total)
    return SimulationSummary(
        members=len(credentials),
        voted=len(members),
        ballots_cast=cast,
        revotes=cast - len(members),
        abstained=len(credentials) - len(members),
    )
