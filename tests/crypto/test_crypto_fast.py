"""The libdecaf path (``crypto/fast.py``) equals the plain libsodium path, byte for byte.

Laws: p^v · a^c computed by libdecaf is the same 32 bytes as ``p**v * a**c``, for random
scalars and points and for the edges (0, 1, q − 1, the identity, g itself); points with a
torsion component never reach it, because only ``GroupElement.from_bytes`` makes elements and it
refuses them on either path; the path is chosen once, can be forced plain, and says which.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings as sodium

from unionvote.crypto import fast
from unionvote.crypto.errors import EncodingError
from unionvote.crypto.group import IDENTITY, GroupElement, Q, g

pytestmark = pytest.mark.skipif(
    fast.arithmetic() != "libdecaf", reason="libdecaf0 is not installed (CI installs it)"
)

EDGES = (0, 1, 2, Q - 1, Q - 2, 4, 8, (Q + 1) // 2)
scalars = st.one_of(st.sampled_from(EDGES), st.integers(min_value=0, max_value=Q - 1))
# A point is g^k; k = 0 gives the identity, k = 1 the generator itself.
points = st.builds(lambda k: g**k, scalars)

# A point of order 8 (RFC 8032's small-order list): adding it gives a point off the subgroup.
ORDER_8 = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")


@pytest.fixture(autouse=True)
def _environment_decides() -> Iterator[None]:
    fast.set_enabled(None)
    yield
    fast.set_enabled(None)


@settings(max_examples=300, deadline=None)
@given(v=scalars, c=scalars, a=points)
def test_double_base_equals_plain(v: int, c: int, a: GroupElement) -> None:
    fast_bytes = fast.double_base(v, c, a).to_bytes()
    assert fast_bytes == fast.plain_power_product(g, v, a, c).to_bytes()


@settings(max_examples=200, deadline=None)
@given(p=points, v=scalars, a=points, c=scalars)
def test_power_product_equals_plain(p: GroupElement, v: int, a: GroupElement, c: int) -> None:
    assert (
        fast.power_product(p, v, a, c).to_bytes() == fast.plain_power_product(p, v, a, c).to_bytes()
    )


@pytest.mark.parametrize("c", [0, Q, 2 * Q])
def test_zero_challenge_is_right(c: int) -> None:
    """libdecaf 1.0.2's variable-time double multiplication is wrong when the second scalar is
    0 mod q: the guard sends that case to libsodium."""
    a = g**12345
    for v in (1, 5, Q - 1, 2**200):
        assert fast.double_base(v, c, a) == g**v


def test_results_are_ordinary_elements() -> None:
    """Results decode again through the subgroup check, and the identity is the identity."""
    result = fast.double_base(3, 5, g**7)
    assert GroupElement.from_bytes(result.to_bytes()) == result == g**38
    assert fast.double_base(1, Q - 1, g) is IDENTITY
    assert fast.power_product(g**9, 2, g**6, Q - 3).is_identity


def test_torsion_points_are_refused_on_both_paths() -> None:
    """P + T (T of order 8) is a valid curve point but not in the subgroup: libdecaf alone
    would quietly drop T (its decoding clears the cofactor), so the subgroup check must stay,
    and it runs before either path sees a point."""
    p = g**424242
    tainted = sodium.crypto_core_ed25519_add(p.to_bytes(), ORDER_8)
    for enabled in (True, False):
        fast.set_enabled(enabled)
        with pytest.raises(EncodingError, match="prime-order subgroup"):
            GroupElement.from_bytes(tainted)
        with pytest.raises(EncodingError):
            GroupElement.from_bytes(ORDER_8)


def test_forcing_the_plain_path() -> None:
    assert fast.arithmetic() == "libdecaf"
    fast.set_enabled(False)
    assert fast.arithmetic() == "libsodium"
    assert fast.double_base(3, 5, g**7) == g**38


def test_environment_variable_forces_the_plain_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fast.ENVIRONMENT_VARIABLE, "libsodium")
    fast._library.cache_clear()
    try:
        assert fast.arithmetic() == "libsodium"
    finally:
        monkeypatch.delenv(fast.ENVIRONMENT_VARIABLE)
        fast._library.cache_clear()
    assert fast.arithmetic() == "libdecaf"


def test_missing_library_warns_once_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "LIBRARY", "libunionvote-no-such-library.so.0")
    fast._library.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="libunionvote-no-such-library") as caught:
            assert fast.arithmetic() == "libsodium"
            assert fast.arithmetic() == "libsodium"
            assert fast.double_base(3, 5, g**7) == g**38
        assert len(caught) == 1
        assert "\n" not in str(caught[0].message)
    finally:
        monkeypatch.undo()
        fast._library.cache_clear()
    assert fast.arithmetic() == "libdecaf"
