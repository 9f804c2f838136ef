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


@settings(max_examples=200, deadline=None)
@given(p=st.sampled_from((g, g**5)) | points, v=scalars, a=points, c=scalars)
def test_the_constant_time_product_equals_plain(
    p: GroupElement, v: int, a: GroupElement, c: int
) -> None:
    """Proofs are made with ``secret=True``: libdecaf's constant-time two-point multiplication,
    even for the generator; the same bytes as libsodium's."""
    assert (
        fast.power_product(p, v, a, c, secret=True).to_bytes()
        == fast.plain_power_product(p, v, a, c).to_bytes()
    )


shifts = st.one_of(st.sampled_from((0, 1, 2, 7)), st.integers(min_value=0, max_value=1000))


@settings(max_examples=200, deadline=None)
@given(
    p=st.sampled_from((g, g**5)) | points,
    v=scalars,
    a=points,
    c=scalars,
    shift=shifts,
    secret=st.booleans(),
)
def test_the_shifted_product_equals_plain(
    p: GroupElement, v: int, a: GroupElement, c: int, shift: int, secret: bool
) -> None:
    """p^v · (a / g^m)^c, the equation of an interval proof's branch m: folding g^(−m·c) into
    the multiplication gives the bytes of dividing first (for g, another base through its
    table, and the constant-time path)."""
    expected = (p**v * (a / g**shift) ** c).to_bytes()
    for recurring in (False, True):
        made = fast.power_product(p, v, a, c, shift=shift, secret=secret, recurring=recurring)
        assert made.to_bytes() == expected
    assert fast.plain_power_product(p, v, a, c, shift).to_bytes() == expected


@settings(max_examples=200, deadline=None)
@given(p=st.sampled_from((g, g**5)) | points, k=scalars)
def test_power_equals_plain(p: GroupElement, k: int) -> None:
    """``fast.power`` (an encryption's y^r, a proof's commitments; constant time from the
    base's table) gives libsodium's bytes."""
    assert fast.power(p, k).to_bytes() == (p**k).to_bytes()


def test_tables_are_made_again_after_many_bases() -> None:
    """More distinct bases than the tables kept: each product still uses its own base's table
    (the cache is emptied, never mixed up)."""
    bases = [g ** (1000 + k) for k in range(3 * fast._TABLES_KEPT)]
    for _ in range(2):
        for k, base in enumerate(bases):
            a = g ** (7 + k)
            product = fast.power_product(base, 11 + k, a, 13, recurring=True)
            assert product == base ** (11 + k) * a**13


def test_making_a_proof_never_takes_the_variable_time_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Which branches of a 0/1 proof are simulated is the voter's choice: making a ballot must
    never call libdecaf's variable-time multiplication (its time depends on the scalars)."""
    from unionvote.crypto.proofs import prove_or

    decaf = fast._library()
    assert decaf is not None
    calls: list[str] = []
    original = decaf.base_double

    def spy(*args: object) -> None:
        calls.append("variable-time")
        original(*args)

    monkeypatch.setattr(decaf, "base_double", spy)
    y = g**1234
    for known in (0, 1):
        alpha, beta = g**77, y**77 * g**known
        prove_or("p", (g, y), [(alpha, beta), (alpha, beta / g)], known, 77)
    assert calls == []
    fast.double_base(3, 5, y)  # checking does use it
    assert calls == ["variable-time"]


def test_making_an_interval_proof_does_the_same_work_whatever_the_vote(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same group operations, libdecaf calls and libsodium calls, in the same numbers,
    whichever value the ciphertext encrypts: which branch is real must not show in the work
    (a quotient β/g^m computed only for the simulated branches would tell it)."""
    import random

    from nacl import bindings

    from unionvote.crypto import group
    from unionvote.crypto.elgamal import encrypt_with_nonce
    from unionvote.crypto.proofs import prove_interval

    decaf = fast._library()
    assert decaf is not None
    counts: dict[str, int] = {}

    def counting(name: str, original):  # type: ignore[no-untyped-def]
        def spy(*args: object) -> object:
            counts[name] = counts.get(name, 0) + 1
            return original(*args)

        return spy

    for name in ("point_decode", "double", "base_double", "precomputed_scalarmul", "scalarmul"):
        monkeypatch.setattr(decaf, name, counting(name, getattr(decaf, name)))
    for name in (
        "crypto_core_ed25519_add",
        "crypto_core_ed25519_sub",
        "crypto_scalarmult_ed25519_noclamp",
        "crypto_scalarmult_ed25519_base_noclamp",
    ):
        monkeypatch.setattr(group.sodium, name, counting(name, getattr(bindings, name)))
    y = g**1234
    # What a process computes once, whatever the vote, made before counting: the key's table
    # and the small powers g^m (any first ballot computes all of them for its proofs).
    fast.power(y, 1)
    for m in range(4):
        group.g_small_power(m)
    seen = []
    for m in range(4):
        counts.clear()
        ciphertext = encrypt_with_nonce(m, y, 77)
        prove_interval("ctx", y, ciphertext, 77, m, [0, 1, 2, 3], rng=random.Random(5).randrange)
        seen.append(dict(counts))
    assert all(c == seen[0] for c in seen), seen


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


weights = st.one_of(st.none(), st.sampled_from((0, 1, 2, Q - 1)), st.integers(1, 10**9))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(points, weights), max_size=8), st.integers(0, 8))
def test_point_product_equals_plain(
    factors: list[tuple[GroupElement, int | None]], cut: int
) -> None:
    """Π P_i^(w_i), split in two and merged, is byte-identical to libsodium's product."""
    plain = IDENTITY
    first, second = fast.PointProduct(), fast.PointProduct()
    for n, (p, w) in enumerate(factors):
        plain = plain * (p if w is None else p**w)
        (first if n < cut else second).multiply(p.to_bytes(), w)
    second.merge(first)
    assert second.value().to_bytes() == plain.to_bytes()
    assert second.value() == plain


def test_point_product_of_nothing_or_identities_is_the_identity() -> None:
    product = fast.PointProduct()
    assert product.value() is IDENTITY
    product.multiply(IDENTITY.to_bytes())
    product.multiply(IDENTITY.to_bytes(), 5)
    assert product.value() is IDENTITY
    product.multiply((g**5).to_bytes())
    product.multiply((g ** (Q - 5)).to_bytes())
    assert product.value() is IDENTITY


def test_point_product_refuses_what_is_not_a_point() -> None:
    not_a_point = bytes.fromhex("02" + "00" * 31)
    while sodium.crypto_core_ed25519_is_valid_point(not_a_point):  # pragma: no cover
        not_a_point = bytes([not_a_point[0] + 1]) + not_a_point[1:]
    for enabled in (True, False):
        fast.set_enabled(enabled)
        with pytest.raises(EncodingError):
            fast.PointProduct().multiply(not_a_point)
        with pytest.raises(EncodingError):
            fast.PointProduct().multiply(b"short")


@settings(max_examples=60, deadline=None)
@given(st.lists(points, max_size=6), st.lists(points, max_size=6))
def test_products_travel_and_merge_in_internal_form(
    first: list[GroupElement], second: list[GroupElement]
) -> None:
    """Another process's product, carried in libdecaf's internal form (same build) and
    absorbed, or merged directly, gives the plain product."""
    plain, one, two = IDENTITY, fast.PointProduct(), fast.PointProduct()
    for p in first:
        plain, _ = plain * p, one.multiply(p.to_bytes())
    for p in second:
        plain, _ = plain * p, two.multiply(p.to_bytes())
    carried = fast.PointProduct()
    for raw in (one.internal(), two.internal()):
        assert raw is not None
        carried.absorb_internal(raw)
    one.merge(two)
    assert carried.value() == one.value() == plain


def test_internal_form_is_refused_where_it_cannot_mean_anything() -> None:
    assert fast.internal_format() is not None
    with pytest.raises(EncodingError):
        fast.PointProduct().absorb_internal(b"\x01" * 32)
    fast.set_enabled(False)
    assert fast.internal_format() is None
    assert fast.PointProduct().internal() is None
    with pytest.raises(ValueError, match="libdecaf"):
        fast.PointProduct().absorb_internal(b"")


def test_a_decoded_element_adds_only_when_added() -> None:
    product = fast.PointProduct()
    decoded = product.decode((g**9).to_bytes(), 2)
    assert product.value() is IDENTITY
    product.add(decoded)
    assert product.value() == g**18


def test_threads_at_once_get_their_own_products() -> None:
    """The web server checks ballots on several threads: each has its own scratch buffers."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [(g ** (k + 2), 3 * k + 1, g ** (5 * k + 7), 11 * k + 13) for k in range(200)]

    def both(case: tuple[GroupElement, int, GroupElement, int]) -> bool:
        p, v, a, c = case
        return fast.power_product(p, v, a, c) == fast.plain_power_product(p, v, a, c)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(both, cases * 3))
