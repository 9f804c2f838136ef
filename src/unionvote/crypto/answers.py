"""Encrypted answers to homomorphic questions (specification §"Homomorphic answers").

For a question with n answers, the voter's choices m_1..m_n ∈ {0, 1} are encrypted one by one,
each with an individual proof that it is 0 or 1 (context S0 = φ|credential). The overall proof
shows their sum is within [min, max] (context S = S0|α1,β1,…). When blank votes are allowed,
a leading ciphertext m0 says whether the vote is blank, the ``blank_proof`` shows m0 = 0 or
mΣ = 0, and the overall proof shows m0 = 1 or mΣ ∈ [min, max].
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from unionvote.crypto.elgamal import Ciphertext, encrypt
from unionvote.crypto.encoding import expect_fields, parse_element, parse_list
from unionvote.crypto.errors import EncodingError, InvalidProof
from unionvote.crypto.group import GroupElement, Q, Rng
from unionvote.crypto.proofs import (
    Proof,
    prove_blank,
    prove_interval,
    prove_overall_blank,
    verify_blank,
    verify_interval,
    verify_overall_blank,
)

__all__ = ["EncryptedAnswer", "QuestionShape", "answer_context", "check_answer", "encrypt_answer"]

_BITS = (0, 1)


@dataclass(frozen=True, slots=True)
class QuestionShape:
    """What the cryptography needs of a homomorphic question: its size and bounds."""

    answers: int
    min: int
    max: int
    blank: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.min <= self.max <= self.answers:
            raise EncodingError(
                "question", f"need 0 ≤ min ≤ max ≤ answers, got {self.min}, {self.max}"
            )

    @property
    def ciphertexts(self) -> int:
        return self.answers + (1 if self.blank else 0)

    def check_plaintext(self, choices: Sequence[int]) -> None:
        """A plaintext the booth may encrypt: bits, and a sum in range (or all zero if blank)."""
        if len(choices) != self.answers or any(c not in _BITS for c in choices):
            raise EncodingError("choices", f"expected {self.answers} choices of 0 or 1")
        total = sum(choices)
        if not (self.min <= total <= self.max or (self.blank and total == 0)):
            raise EncodingError(
                "choices", f"select between {self.min} and {self.max} answers, not {total}"
            )


@dataclass(frozen=True, slots=True)
class EncryptedAnswer:
    """``answer_h``: the ciphertexts and their proofs."""

    choices: tuple[Ciphertext, ...]
    individual_proofs: tuple[tuple[Proof, ...], ...]
    overall_proof: tuple[Proof, ...]
    blank_proof: tuple[Proof, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "choices": [c.to_json() for c in self.choices],
            "individual_proofs": [[p.to_json() for p in ps] for ps in self.individual_proofs],
            "overall_proof": [p.to_json() for p in self.overall_proof],
        }
        if self.blank_proof is not None:
            obj["blank_proof"] = [p.to_json() for p in self.blank_proof]
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> EncryptedAnswer:
        what = "ballot.answer"
        expect_fields(obj, what, ["choices", "individual_proofs", "overall_proof"], ["blank_proof"])
        choices = []
        for c in parse_list(obj["choices"], what):
            expect_fields(c, "ciphertext", ["alpha", "beta"])
            choices.append(Ciphertext(parse_element(c["alpha"]), parse_element(c["beta"])))
        blank = obj.get("blank_proof")
        return cls(
            tuple(choices),
            tuple(
                tuple(Proof.from_json(p) for p in parse_list(ps, what))
                for ps in parse_list(obj["individual_proofs"], what)
            ),
            tuple(Proof.from_json(p) for p in parse_list(obj["overall_proof"], what)),
            None if blank is None else tuple(Proof.from_json(p) for p in parse_list(blank, what)),
        )


def answer_context(s0: str, choices: Sequence[Ciphertext]) -> str:
    """S = S0 | α1,β1,…,αn,βn."""
    return s0 + "|" + ",".join(f"{c.alpha},{c.beta}" for c in choices)


def _product(ciphertexts: Sequence[Ciphertext]) -> Ciphertext:
    total = ciphertexts[0]
    for c in ciphertexts[1:]:
        total = total * c
    return total


def encrypt_answer(
    shape: QuestionShape,
    s0: str,
    public_key: GroupElement,
    choices: Sequence[int],
    *,
    rng: Rng = secrets.randbelow,
) -> EncryptedAnswer:
    """Encrypt one question's choices with every proof. ``s0`` is φ|credential.

    A blank vote (allowed only when ``shape.blank``) is all-zero choices.
    """
    shape.check_plaintext(choices)
    is_blank = shape.blank and sum(choices) == 0
    bits = ([1 if is_blank else 0] if shape.blank else []) + list(choices)
    pairs = [encrypt(m, public_key, rng=rng) for m in bits]
    ciphertexts = tuple(c for c, _ in pairs)
    nonces = [r for _, r in pairs]
    individual = tuple(
        tuple(prove_interval(s0, public_key, c, r, m, _BITS, rng=rng))
        for (c, r), m in zip(pairs, bits, strict=True)
    )
    context = answer_context(s0, ciphertexts)
    values = range(shape.min, shape.max + 1)
    if not shape.blank:
        overall = prove_interval(
            context,
            public_key,
            _product(ciphertexts),
            sum(nonces) % Q,
            sum(choices) - shape.min,
            values,
            rng=rng,
        )
        return EncryptedAnswer(ciphertexts, individual, tuple(overall))
    flag, rest = ciphertexts[0], ciphertexts[1:]
    total, r0, r_sum = _product(rest), nonces[0], sum(nonces[1:]) % Q
    blank_proof = prove_blank(
        context, public_key, flag, total, is_blank, r_sum if is_blank else r0, rng=rng
    )
    if is_blank:
        overall = prove_overall_blank(context, public_key, flag, total, values, 0, r0, rng=rng)
    else:
        known = 1 + sum(choices) - shape.min
        overall = prove_overall_blank(
            context, public_key, flag, total, values, known, r_sum, rng=rng
        )
    return EncryptedAnswer(ciphertexts, individual, tuple(overall), tuple(blank_proof))


def check_answer(
    shape: QuestionShape, s0: str, public_key: GroupElement, answer: EncryptedAnswer
) -> None:
    """Raise ``InvalidProof`` (check ``ballot.*``) unless every proof of the answer holds."""
    n = shape.ciphertexts
    if len(answer.choices) != n or len(answer.individual_proofs) != n:
        raise InvalidProof("ballot.shape", f"expected {n} ciphertexts and individual proofs")
    if (answer.blank_proof is not None) != shape.blank:
        raise InvalidProof(
            "ballot.shape", "a blank proof is required exactly when blank votes are allowed"
        )
    for ciphertext, proofs in zip(answer.choices, answer.individual_proofs, strict=True):
        verify_interval("ballot.individual_proof", s0, public_key, ciphertext, _BITS, proofs)
    context = answer_context(s0, answer.choices)
    values = range(shape.min, shape.max + 1)
    if answer.blank_proof is None:
        verify_interval(
            "ballot.overall_proof",
            context,
            public_key,
            _product(answer.choices),
            values,
            answer.overall_proof,
        )
        return
    flag, total = answer.choices[0], _product(answer.choices[1:])
    verify_blank(context, public_key, flag, total, answer.blank_proof)
    verify_overall_blank(context, public_key, flag, total, values, answer.overall_proof)
