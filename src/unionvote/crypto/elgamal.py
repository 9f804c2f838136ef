"""Exponential ElGamal over the election key (specification §"Homomorphic answers").

A choice m is encrypted as (α, β) = (g^r, y^r · g^m); the product of ciphertexts encrypts the
sum of their plaintexts, which is how only totals are ever decrypted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from unionvote.crypto.fast import power
from unionvote.crypto.group import IDENTITY, GroupElement, Rng, g, g_small_power, random_scalar

__all__ = ["ZERO_CIPHERTEXT", "Ciphertext", "encrypt", "encrypt_with_nonce"]


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """An ElGamal ciphertext: ``alpha`` = g^r (the pad), ``beta`` = y^r · g^m."""

    alpha: GroupElement
    beta: GroupElement

    def __mul__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.alpha * other.alpha, self.beta * other.beta)

    def __pow__(self, exponent: int) -> Ciphertext:
        return Ciphertext(self.alpha**exponent, self.beta**exponent)

    def to_json(self) -> dict[str, str]:
        return {"alpha": str(self.alpha), "beta": str(self.beta)}


#: The neutral ciphertext (1, 1): the encrypted tally of no ballot.
ZERO_CIPHERTEXT: Final = Ciphertext(IDENTITY, IDENTITY)


def encrypt_with_nonce(m: int, public_key: GroupElement, r: int) -> Ciphertext:
    """(g^r, y^r · g^m), with the nonce r given (tests and vectors); y^r from the key's table
    when libdecaf is there (``fast.power``: constant time, the same bytes). g^m comes from the
    small powers computed once (``g_small_power``): computing it here would cost nothing for
    m = 0 and a multiplication otherwise, a time that tells the choice."""
    return Ciphertext(g**r, power(public_key, r) * g_small_power(m))


def encrypt(
    m: int, public_key: GroupElement, *, rng: Rng = secrets.randbelow
) -> tuple[Ciphertext, int]:
    """Encrypt m with a fresh nonce; returns the ciphertext and the nonce (needed for proofs)."""
    r = random_scalar(rng)
    return encrypt_with_nonce(m, public_key, r), r
