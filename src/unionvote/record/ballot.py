"""Making and checking ballots (specification §"Ballots", §"Signatures").

The booth (``make_ballot``) and everyone who checks one (``check_ballot``: the server before it
accepts a ballot, the verifier for every ballot in a record) share this module, so a ballot the
server accepts is exactly a ballot the verifier accepts.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from unionvote.crypto.answers import check_answer, encrypt_answer
from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.crypto.errors import InvalidProof
from unionvote.crypto.group import Rng
from unionvote.crypto.proofs import Proof, sign_ballot_hash, verify_ballot_signature
from unionvote.record.messages import Ballot, Election

__all__ = ["check_ballot", "make_ballot"]


def make_ballot(
    election: Election,
    election_hash: str,
    credential: PrivateCredential,
    choices: Sequence[Sequence[int]],
    *,
    rng: Rng = secrets.randbelow,
) -> Ballot:
    """Encrypt, prove and sign one voter's choices: a list of 0/1 per question (all zero for a
    blank vote where blank is allowed)."""
    if len(choices) != len(election.questions):
        raise InvalidProof(
            "choices", f"{len(choices)} answers for {len(election.questions)} questions"
        )
    secret = credential.secret(election.uuid)
    public = credential.public(election.uuid).key
    s0 = f"{election_hash}|{public}"
    answers = tuple(
        encrypt_answer(q.shape, s0, election.public_key, c, rng=rng)
        for q, c in zip(election.questions, choices, strict=True)
    )
    unsigned = Ballot(election.uuid, election_hash, public, answers, "", Proof(0, 0))
    ballot_hash = sha256_b64(compact_json(unsigned.unsigned_json()))
    signature = sign_ballot_hash(ballot_hash, secret, rng=rng)
    return Ballot(election.uuid, election_hash, public, answers, ballot_hash, signature)


def check_ballot(election: Election, election_hash: str, ballot: Ballot) -> None:
    """Raise ``InvalidProof`` naming the check unless the ballot is for this election, signed
    by its credential over its own content, and every proof holds. Whether the credential is
    on the list is the caller's check (it needs the list)."""
    if ballot.election_uuid != election.uuid or ballot.election_hash != election_hash:
        raise InvalidProof("ballot.election", "the ballot is for another election")
    if len(ballot.answers) != len(election.questions):
        raise InvalidProof(
            "ballot.shape",
            f"{len(ballot.answers)} answers for {len(election.questions)} questions",
        )
    if sha256_b64(compact_json(ballot.unsigned_json())) != ballot.signature_hash:
        raise InvalidProof("ballot.signature", "the signed hash is not the ballot's hash")
    verify_ballot_signature(ballot.signature_hash, ballot.credential, ballot.signature)
    s0 = f"{election_hash}|{ballot.credential}"
    for question, answer in zip(election.questions, ballot.answers, strict=True):
        check_answer(question.shape, s0, election.public_key, answer)
