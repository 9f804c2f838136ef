"""Exponential ElGamal's law: decrypting the product of ciphertexts gives the sum of their
plaintexts; raising a ciphertext to a weight multiplies its plaintext."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.decryption import DiscreteLog
from unionvote.crypto.elgamal import ZERO_CIPHERTEXT, Ciphertext, encrypt, encrypt_with_nonce
from unionvote.crypto.group import IDENTITY, GroupElement, Q, g

SETTINGS = settings(max_examples=25, deadline=None)
SECRETS = st.integers(min_value=1, max_value=Q - 1)
NONCES = st.integers(min_value=0, max_value=Q - 1)
LOG = DiscreteLog(2000)


def decrypt(c: Ciphertext, secret: int) -> GroupElement:
    """g^m = β / α^x."""
    return c.beta / c.alpha**secret


@SETTINGS
@given(SECRETS, st.integers(0, 100), NONCES)
def test_decryption_inverts_encryption(x: int, m: int, r: int) -> None:
    c = encrypt_with_nonce(m, g**x, r)
    assert c.alpha == g**r
    assert decrypt(c, x) == g**m
    assert LOG(decrypt(c, x)) == m


@SETTINGS
@given(SECRETS, st.lists(st.tuples(st.integers(0, 100), NONCES), min_size=1, max_size=6))
def test_decrypting_the_product_gives_the_sum(x: int, items: list[tuple[int, int]]) -> None:
    y = g**x
    total = ZERO_CIPHERTEXT
    for m, r in items:
        total = total * encrypt_with_nonce(m, y, r)
    assert LOG(decrypt(total, x)) == sum(m for m, _ in items)
    assert total.alpha == g ** (sum(r for _, r in items) % Q)


@SETTINGS
@given(SECRETS, st.lists(st.tuples(st.integers(0, 1), st.integers(1, 10), NONCES), max_size=5))
def test_weighted_product_gives_the_weighted_total(
    x: int, votes: list[tuple[int, int, int]]
) -> None:
    """A voter of weight w counts w times: ∏ c_i^{w_i} decrypts to g^(Σ w_i·m_i)."""
    y = g**x
    total = ZERO_CIPHERTEXT
    for m, weight, r in votes:
        total = total * encrypt_with_nonce(m, y, r) ** weight
    expected = sum(m * weight for m, weight, _ in votes)
    assert decrypt(total, x) == g**expected
    assert LOG(decrypt(total, x)) == expected


@SETTINGS
@given(SECRETS, st.integers(0, 2**32))
def test_encrypt_returns_its_nonce(x: int, seed: int) -> None:
    c, r = encrypt(1, g**x, rng=random.Random(seed).randrange)
    assert c == encrypt_with_nonce(1, g**x, r)
    assert 0 <= r < Q


def test_the_empty_tally_is_the_neutral_ciphertext() -> None:
    assert Ciphertext(IDENTITY, IDENTITY) == ZERO_CIPHERTEXT
    assert decrypt(ZERO_CIPHERTEXT, 12345) == IDENTITY
    c = encrypt_with_nonce(3, g**5, 7)
    assert c * ZERO_CIPHERTEXT == c
    assert c.to_json() == {"alpha": str(c.alpha), "beta": str(c.beta)}
