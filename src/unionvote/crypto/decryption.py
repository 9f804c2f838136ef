"""Partial decryptions, their combination and the bounded discrete logarithm
(specification §"Partial decryptions", §"Election result").

Only totals are decrypted: each trustee raises every α of the encrypted tally to its key and
proves it did so; the factors are combined (Lagrange coefficients for threshold shares) and the
count is the discrete logarithm of β / F, bounded by the total weight of the ballots.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.encoding import expect_fields, parse_element, parse_list
from unionvote.crypto.errors import CryptoError, InvalidProof
from unionvote.crypto.group import IDENTITY, GroupElement, Q, Rng, g
from unionvote.crypto.proofs import Proof, prove_decryption, verify_decryption
from unionvote.crypto.trustees import (
    PedersenTrustees,
    SingleTrustee,
    TrusteeItem,
    TrusteePrivateKey,
    key_owners,
)

__all__ = [
    "DiscreteLog",
    "PartialDecryption",
    "combine_factors",
    "lagrange_coefficient",
]

EncryptedTally = Sequence[Sequence[Ciphertext]]


@dataclass(frozen=True, slots=True)
class PartialDecryption:
    """``partial_decryption``: α^x for every ciphertext of the tally, each with its proof."""

    decryption_factors: tuple[tuple[GroupElement, ...], ...]
    decryption_proofs: tuple[tuple[Proof, ...], ...]

    @classmethod
    def compute(
        cls,
        election_hash: str,
        private_key: TrusteePrivateKey,
        tally: EncryptedTally,
        *,
        rng: Rng = secrets.randbelow,
    ) -> PartialDecryption:
        factors, proofs = [], []
        for question in tally:
            pairs = [
                prove_decryption(election_hash, private_key.exponent, c.alpha, rng=rng)
                for c in question
            ]
            factors.append(tuple(f for f, _ in pairs))
            proofs.append(tuple(p for _, p in pairs))
        return cls(tuple(factors), tuple(proofs))

    def check(self, election_hash: str, public_key: GroupElement, tally: EncryptedTally) -> None:
        """Raise unless every factor is proven against ``public_key`` and the tally's α."""
        if [len(q) for q in self.decryption_factors] != [len(q) for q in tally] or [
            len(q) for q in self.decryption_proofs
        ] != [len(q) for q in tally]:
            raise InvalidProof("decryption.shape", "does not match the encrypted tally's shape")
        for question, factors, proofs in zip(
            tally, self.decryption_factors, self.decryption_proofs, strict=True
        ):
            for ciphertext, factor, proof in zip(question, factors, proofs, strict=True):
                verify_decryption(election_hash, public_key, ciphertext.alpha, factor, proof)

    def to_json(self) -> dict[str, Any]:
        return {
            "decryption_factors": [[str(f) for f in q] for q in self.decryption_factors],
            "decryption_proofs": [[p.to_json() for p in q] for q in self.decryption_proofs],
        }

    @classmethod
    def from_json(cls, obj: Any) -> PartialDecryption:
        expect_fields(obj, "partial_decryption", ["decryption_factors", "decryption_proofs"])
        return cls(
            tuple(
                tuple(parse_element(f) for f in parse_list(q, "partial_decryption"))
                for q in parse_list(obj["decryption_factors"], "partial_decryption")
            ),
            tuple(
                tuple(Proof.from_json(p) for p in parse_list(q, "partial_decryption"))
                for q in parse_list(obj["decryption_proofs"], "partial_decryption")
            ),
        )


def lagrange_coefficient(index: int, indices: Sequence[int]) -> int:
    """λ_δ = ∏_{k ∈ I∖{δ}} k / (k − δ) mod q."""
    value = 1
    for k in indices:
        if k != index:
            value = value * k * pow(k - index, -1, Q) % Q
    return value


def combine_factors(
    trustees: Sequence[TrusteeItem],
    partials: Mapping[int, PartialDecryption],
    shape: Sequence[int],
) -> list[list[GroupElement]]:
    """F_ij = ∏_τ F_ijτ from the partial decryptions by owner index (1-based).

    Every ``Single`` trustee must have decrypted; of each ``Pedersen`` item at least
    ``threshold`` members. Raises ``CryptoError("decryption.missing")`` otherwise.
    """
    owners = key_owners(trustees)
    combined = [[IDENTITY] * n for n in shape]
    for item_index, item in enumerate(trustees):
        members = [owner for owner, i, _ in owners if i == item_index]
        present = [owner for owner in members if owner in partials]
        if isinstance(item, SingleTrustee):
            if not present:
                raise CryptoError(
                    "decryption.missing",
                    f"the partial decryption of trustee {members[0]} is missing",
                )
            weights = {present[0]: 1}
        else:
            assert isinstance(item, PedersenTrustees)
            if len(present) < item.threshold:
                raise CryptoError(
                    "decryption.missing",
                    f"{len(present)} of the {item.size} threshold trustees decrypted; "
                    f"{item.threshold} are needed",
                )
            positions = [members.index(owner) + 1 for owner in present]
            weights = {
                owner: lagrange_coefficient(pos, positions)
                for owner, pos in zip(present, positions, strict=True)
            }
        for owner, weight in weights.items():
            factors = partials[owner].decryption_factors
            for i, row in enumerate(combined):
                for j in range(len(row)):
                    row[j] = row[j] * factors[i][j] ** weight
    return combined


class DiscreteLog:
    """log_g(h) for 0 ≤ log ≤ bound, by baby-step giant-step.

    The table of √bound baby steps is built once and shared by every count of an election;
    a bound of 10⁷ needs about 3,200 table entries and as many giant steps at most.
    """

    def __init__(self, bound: int) -> None:
        if bound < 0:
            raise ValueError("the bound of a discrete log is not negative")
        self.bound = bound
        self._m = math.isqrt(bound) + 1
        table: dict[bytes, int] = {}
        point = IDENTITY
        for j in range(self._m):
            table[point.to_bytes()] = j
            point = point * g
        self._table = table
        self._giant = IDENTITY / point  # g^(−m)

    def __call__(self, h: GroupElement) -> int:
        point = h
        for i in range(self._m + 1):
            j = self._table.get(point.to_bytes())
            if j is not None:
                value = i * self._m + j
                if value <= self.bound:
                    return value
                break
            point = point * self._giant
        raise CryptoError("result.discrete_log", f"the count is not between 0 and {self.bound}")
