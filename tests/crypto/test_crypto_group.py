"""Laws of the group Ed25519 as ``crypto.group`` implements it: exponentiation is a
homomorphism from Z_q, the string encoding round-trips, scalars parse canonically."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.errors import EncodingError
from unionvote.crypto.group import IDENTITY, GroupElement, Q, g, hash_to_scalar, parse_scalar

SCALARS = st.integers(min_value=0, max_value=Q - 1)
SETTINGS = settings(max_examples=25, deadline=None)


@SETTINGS
@given(SCALARS, SCALARS)
def test_exponents_add_when_points_multiply(a: int, b: int) -> None:
    assert g**a * g**b == g ** ((a + b) % Q)
    assert g**a / g**b == g ** ((a - b) % Q)


@SETTINGS
@given(SCALARS, SCALARS)
def test_exponents_multiply_when_powers_nest(a: int, b: int) -> None:
    assert (g**a) ** b == g ** (a * b % Q)


@SETTINGS
@given(SCALARS)
def test_q_is_the_order_of_every_element(a: int) -> None:
    x = g**a
    assert x**Q == IDENTITY
    assert x ** (Q + 1) == x
    assert x ** (-1) == x.inverse()
    assert x * x.inverse() == IDENTITY
    assert x * IDENTITY == x


@SETTINGS
@given(SCALARS)
def test_string_form_round_trips(a: int) -> None:
    x = g**a
    text = str(x)
    assert len(text) == 64 and text == text.lower()
    assert GroupElement.from_string(text) == x
    assert bytes.fromhex(text)[::-1] == x.to_bytes()
    assert GroupElement.from_bytes(x.to_bytes()) == x
    assert hash(GroupElement.from_string(text)) == hash(x)


def test_identity_behaves() -> None:
    assert IDENTITY.is_identity
    assert IDENTITY**12345 == IDENTITY
    assert g**0 == IDENTITY
    assert GroupElement.from_string(str(IDENTITY)) is IDENTITY
    assert IDENTITY.inverse() == IDENTITY
    assert repr(g) == f"GroupElement('{g}')"
    assert g != str(g)


@SETTINGS
@given(SCALARS)
def test_scalars_round_trip_in_base_10(a: int) -> None:
    assert parse_scalar(str(a)) == a


@SETTINGS
@given(st.integers(min_value=Q, max_value=2**260))
def test_scalars_at_or_above_q_are_refused(a: int) -> None:
    with pytest.raises(EncodingError) as raised:
        parse_scalar(str(a))
    assert raised.value.check == "scalar"


@SETTINGS
@given(st.text(max_size=5), st.lists(SCALARS, max_size=3))
def test_hash_to_scalar_is_sha256_mod_q(prefix: str, exponents: list[int]) -> None:
    elements = [g**e for e in exponents]
    text = prefix + ",".join(str(e) for e in elements)
    digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    assert hash_to_scalar(prefix, elements) == digest % Q
    assert 0 <= hash_to_scalar(prefix, elements) < Q
