"""A whole election rehearsed in one process: trustees, credentials, ballots, tally, result.

This is what ``unionvote demo`` runs until the endorsement process (roll, registration,
credential authority, council vote) is built on top of it: every step is the real one — real
keys, real encrypted and signed ballots, real partial decryptions — only all in one place.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import PartialDecryption
from unionvote.domain.ceremony import run_threshold_ceremony, single_trustee
from unionvote.domain.election import ElectionBox, new_uuid
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Question, Result

__all__ = ["Rehearsal", "rehearse"]


@dataclass(frozen=True, slots=True)
class Rehearsal:
    record: Path
    voters: int
    ballots_cast: int
    result: Result
    question: Question


def rehearse(
    out_dir: Path,
    *,
    voters: int,
    candidates: Sequence[str],
    shares: Sequence[float],
    revote_rate: float = 0.05,
    abstain_rate: float = 0.2,
    seed: int | None = None,
    timestamp: int,
    progress: Callable[[int], None] = lambda _: None,
) -> Rehearsal:
    """Run a pick-one election among ``candidates`` whose votes follow ``shares``.

    Trustees: the server's key plus 2 of 3 Pedersen trustees; trustees 1 and 3 decrypt.
    With a ``seed`` everything (keys, credentials, votes) is reproducible; without one the
    cryptographic randomness comes from the system.
    """
    choose = random.Random(seed)
    rng = secrets.randbelow if seed is None else random.Random(seed + 1).randrange
    server, server_key = single_trustee(rng)
    pedersen, trustee_keys = run_threshold_ceremony(3, 2, rng)
    uuid = new_uuid(rng)
    credentials = [PrivateCredential.generate(rng) for _ in range(voters)]
    question = Question("Which candidate should the union endorse?", tuple(candidates), 1, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = out_dir / f"{uuid}.bel"
    box = ElectionBox.create(
        record,
        uuid=uuid,
        name="Rehearsal: endorsement vote",
        description="A rehearsal with synthetic members; not a real vote.",
        questions=[question],
        trustees=[server, pedersen],
        credentials=[c.public(uuid) for c in credentials],
        timestamp=timestamp,
    )
    cast = 0
    for number, credential in enumerate(credentials, start=1):
        if choose.random() < abstain_rate:
            progress(number)
            continue
        for _ in range(2 if choose.random() < revote_rate else 1):
            pick = choose.choices(range(len(candidates)), weights=shares)[0]
            choices = [[1 if i == pick else 0 for i in range(len(candidates))]]
            ballot = make_ballot(box.election, box.election_hash, credential, choices, rng=rng)
            box.cast(ballot.to_bytes())
            cast += 1
        progress(number)
    box.close()
    box.compute_tally()
    tally = box.encrypted_tally
    box.add_partial_decryption(
        1, PartialDecryption.compute(box.election_hash, server_key, tally, rng=rng)
    )
    for owner, key in ((2, trustee_keys[0]), (4, trustee_keys[2])):
        box.add_partial_decryption(
            owner, PartialDecryption.compute(box.election_hash, key, tally, rng=rng)
        )
    result = box.compute_result()
    box.close_file()
    return Rehearsal(record, voters, cast, result, question)
