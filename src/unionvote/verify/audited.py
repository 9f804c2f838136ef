"""Checking an audited ballot: the cast-or-audit path ("Check the encryption") of the booth.

A member (or an observer beside them) who asks the booth to check the encryption gets the
ballot the browser made together with the randomness of every ciphertext, and the booth
never casts that ballot. This module re-does the encryption from the revealed randomness,
independently of the browser's code:

- the file is for the election it carries (its text hashes to ``election_hash`` — compare it
  with the published record's) and the ballot is a valid ballot of it (every proof, the
  signature, canonical bytes);
- each revealed nonce r opens its ciphertext: α = g^r, and β = y^r · g^m for the answer m
  the file claims, so the ballot encrypts exactly the claimed answers.

The file (``unionvote-audited-ballot/1``, described in docs/observer.md)::

    {"format": "unionvote-audited-ballot/1", "election_hash": φ, "election": "<election.json>",
     "ballot": {…}, "randomness": [["r", …], …], "answers": [[0, 1, …], …]}

``randomness`` and ``answers`` have one entry per ciphertext of each question, the blank flag
first where blank votes are allowed. The browser's ``auditBallot`` makes the same checks in the
same order with the same check names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from unionvote.crypto.elgamal import Ciphertext, encrypt_with_nonce
from unionvote.crypto.encoding import compact_json, expect_fields, sha256_b64
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.group import g, parse_scalar
from unionvote.errors import UnionVoteError
from unionvote.record.ballot import check_ballot
from unionvote.record.errors import RecordError
from unionvote.record.messages import Ballot, Election, parse_entry

__all__ = ["AUDIT_FORMAT", "AuditedBallot", "AuditedBallotError", "verify_audited_ballot"]

AUDIT_FORMAT: Final = "unionvote-audited-ballot/1"

_FIELDS: Final = ("format", "election_hash", "election", "ballot", "randomness", "answers")


class AuditedBallotError(UnionVoteError):
    """An audited ballot failed a check; ``check`` names it (``audit.*`` or ``ballot.*``)."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AuditedBallot:
    """What an audited ballot was shown to encrypt."""

    election_hash: str
    election: Election
    tracker: str
    #: Per question, one 0/1 per ciphertext (the blank flag first where blank is allowed).
    answers: tuple[tuple[int, ...], ...]

    def chosen(self) -> list[tuple[str, list[str]]]:
        """Per question, its text and the answers chosen ("blank" for a blank vote)."""
        out: list[tuple[str, list[str]]] = []
        for question, bits in zip(self.election.questions, self.answers, strict=True):
            if question.blank and bits[0] == 1:
                out.append((question.question, ["(blank)"]))
                continue
            votes = bits[1:] if question.blank else bits
            out.append(
                (question.question, [a for a, m in zip(question.answers, votes, strict=True) if m])
            )
        return out


def _load(content: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(content)
    except (ValueError, UnicodeDecodeError) as error:
        raise AuditedBallotError("audit.file", f"not JSON ({error})") from error
    except RecursionError:
        raise AuditedBallotError("audit.file", "JSON nested too deeply") from None
    try:
        expect_fields(obj, "audit.file", _FIELDS)
    except CryptoError as error:
        raise AuditedBallotError(error.check, error.detail) from error
    assert isinstance(obj, dict)
    return obj


def _election(obj: dict[str, Any]) -> tuple[Election, str]:
    text, election_hash = obj["election"], obj["election_hash"]
    if not isinstance(text, str) or sha256_b64(text.encode()) != election_hash:
        raise AuditedBallotError(
            "audit.election", "the election's text does not hash to the file's election_hash"
        )
    try:
        election = parse_entry("election", text.encode(), Election.from_json, Election.to_json)
    except RecordError as error:
        raise AuditedBallotError("audit.election", f"the election: {error}") from error
    return election, election_hash


def _ballot(obj: dict[str, Any], election: Election, election_hash: str) -> Ballot:
    if not isinstance(obj["ballot"], dict):
        raise AuditedBallotError("audit.ballot", "the ballot is not a JSON object")
    try:
        ballot = Ballot.from_json(obj["ballot"])
        if ballot.to_bytes() != compact_json(obj["ballot"]):
            raise AuditedBallotError(
                "ballot.canonical", "not in canonical form (field order, spacing or number format)"
            )
        check_ballot(election, election_hash, ballot)
    except CryptoError as error:
        raise AuditedBallotError(error.check, error.detail) from error
    return ballot


def _shaped(value: Any, ballot: Ballot) -> bool:
    return (
        isinstance(value, list)
        and len(value) == len(ballot.answers)
        and all(
            isinstance(row, list) and len(row) == len(answer.choices)
            for row, answer in zip(value, ballot.answers, strict=True)
        )
    )


def _open(ciphertext: Ciphertext, election: Election, nonce: Any, claimed: Any, where: str) -> int:
    """Re-encrypt the claimed answer with the revealed nonce; it must give the ciphertext."""
    if not isinstance(nonce, str):
        raise AuditedBallotError("audit.randomness", f"{where}: a nonce is a base-10 string")
    try:
        r = parse_scalar(nonce)
    except CryptoError as error:
        raise AuditedBallotError("audit.randomness", f"{where}: {error.detail}") from error
    if ciphertext.alpha != g**r:
        raise AuditedBallotError(
            "audit.randomness", f"{where}: alpha is not g^r for the revealed r"
        )
    if (
        not isinstance(claimed, int)
        or isinstance(claimed, bool)
        or claimed not in (0, 1)
        or encrypt_with_nonce(claimed, election.public_key, r) != ciphertext
    ):
        raise AuditedBallotError(
            "audit.answers", f"{where}: the ballot does not encrypt the answer claimed"
        )
    return claimed


def verify_audited_ballot(content: bytes) -> AuditedBallot:
    """Check an audited-ballot file; raise ``AuditedBallotError`` naming the first failed
    check, or return what the ballot encrypts."""
    obj = _load(content)
    if obj["format"] != AUDIT_FORMAT:
        raise AuditedBallotError("audit.format", f"not an audited ballot ({AUDIT_FORMAT})")
    election, election_hash = _election(obj)
    ballot = _ballot(obj, election, election_hash)
    randomness, claimed = obj["randomness"], obj["answers"]
    if not (_shaped(randomness, ballot) and _shaped(claimed, ballot)):
        raise AuditedBallotError(
            "audit.shape", "one nonce and one answer per ciphertext of each question are needed"
        )
    answers = tuple(
        tuple(
            _open(
                ciphertext,
                election,
                randomness[i][j],
                claimed[i][j],
                f"question {i + 1}, ciphertext {j + 1}",
            )
            for j, ciphertext in enumerate(answer.choices)
        )
        for i, answer in enumerate(ballot.answers)
    )
    return AuditedBallot(election_hash, election, ballot.tracker, answers)
