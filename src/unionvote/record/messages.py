"""The record's data entries (specification §"Elections", §"Ballots", §"Encrypted tally",
§"Election result"), each with ``to_json`` in the specification's field order and a strict
``parse`` that refuses anything not exactly as the specification writes it.

Every ``parse_*`` takes the entry's raw bytes and also checks that re-serialising the parsed
value gives the same bytes: a record is canonical or it is rejected, as ``belenios-tool`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from unionvote.crypto.answers import EncryptedAnswer, QuestionShape
from unionvote.crypto.credentials import PublicCredential, parse_public_credentials
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.encoding import (
    BASE58_ALPHABET,
    b64_unpadded,
    compact_json,
    expect_fields,
    parse_element,
    parse_key,
    parse_list,
    parse_small_int,
    sha256_b64,
)
from unionvote.crypto.errors import CryptoError, EncodingError
from unionvote.crypto.group import GROUP_NAME, GroupElement
from unionvote.crypto.proofs import Proof
from unionvote.crypto.trustees import TrusteeItem, parse_trustees
from unionvote.record.errors import RecordError

__all__ = [
    "Ballot",
    "Election",
    "Owned",
    "Question",
    "Result",
    "SetupData",
    "SizedEncryptedTally",
    "encrypted_tally_to_json",
    "parse_entry",
]

T = TypeVar("T")


def parse_entry(
    check: str, raw: bytes, build: Callable[[Any], T], to_json: Callable[[T], Any]
) -> T:
    """Parse a data entry with ``build`` and insist it is canonical. Errors become
    ``RecordError(check)`` naming what was wrong."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise RecordError(check, f"not valid JSON ({error})") from error
    except RecursionError:
        raise RecordError(check, "JSON nested too deeply") from None
    try:
        value = build(obj)
    except CryptoError as error:
        raise RecordError(check, str(error)) from error
    if compact_json(to_json(value)) != raw:
        raise RecordError(check, "not in canonical form (field order, spacing or number format)")
    return value


#: Belenios writes a count as a JSON number below 2^30 and as a decimal string from 2^30 up
#: (established by experiment with belenios-tool 3.0 and 3.3.0).
_NUMBER_LIMIT = 2**30


def _count_to_json(value: int) -> int | str:
    return value if value < _NUMBER_LIMIT else str(value)


def _parse_count(value: Any, what: str) -> int:
    """A count or weight as Belenios writes it: a number below 2^30, a decimal string above."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if value[0] == "0" or int(value) < _NUMBER_LIMIT:
            raise EncodingError(what, f"{value!r} should be written as a number")
        return int(value)
    return parse_small_int(value, what)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise EncodingError(what, "expected a string")
    return value


@dataclass(frozen=True, slots=True)
class Question:
    """``question_h``: a homomorphic question; ``blank`` is written only when true."""

    question: str
    answers: tuple[str, ...]
    min: int
    max: int
    blank: bool = False

    @property
    def shape(self) -> QuestionShape:
        return QuestionShape(len(self.answers), self.min, self.max, self.blank)

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"answers": list(self.answers)}
        if self.blank:
            obj["blank"] = True
        obj.update({"min": self.min, "max": self.max, "question": self.question})
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> Question:
        expect_fields(obj, "election.question", ["answers", "min", "max", "question"], ["blank"])
        answers = tuple(
            _text(a, "election.question") for a in parse_list(obj["answers"], "election.question")
        )
        blank = obj.get("blank", False)
        if blank is not True and "blank" in obj:
            raise EncodingError("election.question", "blank is written only when true")
        question = cls(
            _text(obj["question"], "election.question"),
            answers,
            parse_small_int(obj["min"], "election.question"),
            parse_small_int(obj["max"], "election.question"),
            bool(blank),
        )
        if not answers:
            raise EncodingError("election.question", "a question needs at least one answer")
        question.shape  # noqa: B018 - checks 0 ≤ min ≤ max ≤ answers
        return question


@dataclass(frozen=True, slots=True)
class Election:
    """``election``: the questions, the key and the identity of one election."""

    uuid: str
    name: str
    description: str
    public_key: GroupElement
    questions: tuple[Question, ...]
    administrator: str | None = None
    credential_authority: str | None = None

    def __post_init__(self) -> None:
        if len(self.uuid) < 14 or any(ch not in BASE58_ALPHABET for ch in self.uuid):
            raise EncodingError("election.uuid", "a uuid is at least 14 Base58 characters")
        if not self.questions:
            raise EncodingError("election.questions", "an election has at least one question")

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "version": 1,
            "description": self.description,
            "name": self.name,
            "group": GROUP_NAME,
            "public_key": str(self.public_key),
            "questions": [q.to_json() for q in self.questions],
            "uuid": self.uuid,
        }
        if self.administrator is not None:
            obj["administrator"] = self.administrator
        if self.credential_authority is not None:
            obj["credential_authority"] = self.credential_authority
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> Election:
        what = "election"
        expect_fields(
            obj,
            what,
            ["version", "description", "name", "group", "public_key", "questions", "uuid"],
            ["administrator", "credential_authority"],
        )
        if obj["version"] != 1:
            raise EncodingError("election.version", f"version {obj['version']!r}, not 1")
        if obj["group"] != GROUP_NAME:
            raise EncodingError("election.group", f"group {obj['group']!r}, not {GROUP_NAME}")
        optional = {
            k: _text(obj[k], what) for k in ("administrator", "credential_authority") if k in obj
        }
        return cls(
            _text(obj["uuid"], what),
            _text(obj["name"], what),
            _text(obj["description"], what),
            parse_key(obj["public_key"]),
            tuple(Question.from_json(q) for q in parse_list(obj["questions"], what)),
            optional.get("administrator"),
            optional.get("credential_authority"),
        )


@dataclass(frozen=True, slots=True)
class SetupData:
    """``setup_data``: the hashes of the election, trustees and credentials entries."""

    election: str
    trustees: str
    credentials: str

    def to_json(self) -> dict[str, str]:
        return {
            "election": self.election,
            "trustees": self.trustees,
            "credentials": self.credentials,
        }

    @classmethod
    def from_json(cls, obj: Any) -> SetupData:
        expect_fields(obj, "setup", ["election", "trustees", "credentials"])
        return cls(*(_hash(obj[k], "setup") for k in ("election", "trustees", "credentials")))

    @property
    def election_hash(self) -> str:
        """φ: unpadded Base64 of the raw bytes of the election entry's hash."""
        return b64_unpadded(bytes.fromhex(self.election))


def _hash(value: Any, what: str) -> str:
    text = _text(value, what)
    if len(text) != 64 or any(ch not in "0123456789abcdef" for ch in text):
        raise EncodingError(what, f"not a SHA-256 hash: {text[:80]!r}")
    return text


@dataclass(frozen=True, slots=True)
class Ballot:
    """``ballot``: encrypted answers signed with the voter's credential."""

    election_uuid: str
    election_hash: str
    credential: GroupElement
    answers: tuple[EncryptedAnswer, ...]
    signature_hash: str
    signature: Proof

    def unsigned_json(self) -> dict[str, Any]:
        return {
            "election_uuid": self.election_uuid,
            "election_hash": self.election_hash,
            "credential": str(self.credential),
            "answers": [a.to_json() for a in self.answers],
        }

    def to_json(self) -> dict[str, Any]:
        obj = self.unsigned_json()
        obj["signature"] = {"hash": self.signature_hash, "proof": self.signature.to_json()}
        return obj

    def to_bytes(self) -> bytes:
        return compact_json(self.to_json())

    @property
    def tracker(self) -> str:
        """The smart ballot tracker: unpadded Base64 of SHA-256 of the whole ballot."""
        return sha256_b64(self.to_bytes())

    @classmethod
    def from_json(cls, obj: Any) -> Ballot:
        what = "ballot"
        expect_fields(
            obj, what, ["election_uuid", "election_hash", "credential", "answers", "signature"]
        )
        signature = obj["signature"]
        expect_fields(signature, "ballot.signature", ["hash", "proof"])
        return cls(
            _text(obj["election_uuid"], what),
            _text(obj["election_hash"], what),
            parse_key(obj["credential"]),
            tuple(EncryptedAnswer.from_json(a) for a in parse_list(obj["answers"], what)),
            _text(signature["hash"], "ballot.signature"),
            Proof.from_json(signature["proof"]),
        )


def encrypted_tally_to_json(tally: Sequence[Sequence[Ciphertext]]) -> list[list[dict[str, str]]]:
    return [[c.to_json() for c in question] for question in tally]


def parse_encrypted_tally(obj: Any) -> list[list[Ciphertext]]:
    tally = []
    for question in parse_list(obj, "encrypted_tally"):
        row = []
        for c in parse_list(question, "encrypted_tally"):
            expect_fields(c, "encrypted_tally", ["alpha", "beta"])
            row.append(Ciphertext(parse_element(c["alpha"]), parse_element(c["beta"])))
        tally.append(row)
    return tally


@dataclass(frozen=True, slots=True)
class SizedEncryptedTally:
    """``sized_encrypted_tally``: how many ballots, their total weight, and the tally's hash."""

    num_tallied: int
    total_weight: int
    encrypted_tally: str

    def to_json(self) -> dict[str, Any]:
        return {
            "num_tallied": _count_to_json(self.num_tallied),
            "total_weight": _count_to_json(self.total_weight),
            "encrypted_tally": self.encrypted_tally,
        }

    @classmethod
    def from_json(cls, obj: Any) -> SizedEncryptedTally:
        expect_fields(obj, "tally", ["num_tallied", "total_weight", "encrypted_tally"])
        return cls(
            _parse_count(obj["num_tallied"], "tally"),
            _parse_count(obj["total_weight"], "tally"),
            _hash(obj["encrypted_tally"], "tally"),
        )


@dataclass(frozen=True, slots=True)
class Owned:
    """``owned``: a partial decryption's (or shuffle's) owner index and payload hash."""

    owner: int
    payload: str

    def to_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "payload": self.payload}

    @classmethod
    def from_json(cls, obj: Any) -> Owned:
        expect_fields(obj, "decryption.owner", ["owner", "payload"])
        owner = parse_small_int(obj["owner"], "decryption.owner")
        if owner < 1:
            raise EncodingError("decryption.owner", "owners are numbered from 1")
        return cls(owner, _hash(obj["payload"], "decryption.owner"))


@dataclass(frozen=True, slots=True)
class Result:
    """``result``: for each question, the count of each answer (blank count first)."""

    result: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"result": [[_count_to_json(n) for n in q] for q in self.result]}

    @classmethod
    def from_json(cls, obj: Any) -> Result:
        expect_fields(obj, "result", ["result"])
        return cls(
            tuple(
                tuple(_parse_count(n, "result") for n in parse_list(q, "result"))
                for q in parse_list(obj["result"], "result")
            )
        )


def parse_trustees_entry(raw: bytes) -> list[TrusteeItem]:
    return parse_entry(
        "trustees", raw, parse_trustees, lambda items: [item.to_json() for item in items]
    )


def parse_credentials_entry(raw: bytes) -> list[PublicCredential]:
    return parse_entry(
        "credentials",
        raw,
        parse_public_credentials,
        lambda creds: [c.to_json() for c in creds],
    )
