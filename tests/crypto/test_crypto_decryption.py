"""Partial decryptions, their Lagrange combination and the bounded discrete logarithm: any
``threshold`` of the Pedersen trustees give the same result; Belenios's own partial decryptions
check and combine to the result it published."""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.decryption import (
    DiscreteLog,
    PartialDecryption,
    combine_factors,
    lagrange_coefficient,
)
from unionvote.crypto.elgamal import Ciphertext, encrypt_with_nonce
from unionvote.crypto.errors import CryptoError, InvalidProof
from unionvote.crypto.group import GroupElement, Q, g
from unionvote.crypto.trustees import (
    PedersenTrustees,
    SingleTrustee,
    TrusteeItem,
    TrusteePrivateKey,
    election_public_key,
    key_owners,
    parse_trustees,
)
from unionvote.domain.ceremony import run_threshold_ceremony, single_trustee
from unionvote.record.archive import read_archive
from unionvote.record.messages import Owned, SetupData, SizedEncryptedTally, parse_encrypted_tally

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "belenios"
SETTINGS = settings(max_examples=20, deadline=None)
PHI = "election-hash"


# -- Lagrange coefficients ------------------------------------------------------------------------


def evaluate(coefficients: list[int], x: int) -> int:
    return int(sum(a * x**k for k, a in enumerate(coefficients)) % Q)


@SETTINGS
@given(st.integers(1, 6), st.data())
def test_lagrange_coefficients_recover_the_constant_term(
    threshold: int, data: st.DataObject
) -> None:
    size = data.draw(st.integers(threshold, 8), label="size")
    coefficients = data.draw(
        st.lists(st.integers(0, Q - 1), min_size=threshold, max_size=threshold),
        label="polynomial",
    )
    subset = sorted(
        data.draw(
            st.sets(st.integers(1, size), min_size=threshold, max_size=threshold),
            label="subset",
        )
    )
    total = sum(lagrange_coefficient(i, subset) * evaluate(coefficients, i) for i in subset)
    assert total % Q == coefficients[0]


def test_lagrange_coefficients_known_values() -> None:
    # for {1, 2}: λ1 = 2/(2−1) = 2, λ2 = 1/(1−2) = −1
    assert lagrange_coefficient(1, [1, 2]) == 2
    assert lagrange_coefficient(2, [1, 2]) == Q - 1
    assert lagrange_coefficient(3, [3]) == 1
    assert sum(lagrange_coefficient(i, [1, 3, 4]) for i in (1, 3, 4)) % Q == 1


# -- discrete logarithm ----------------------------------------------------------------------------


@cache
def log_up_to_10_million() -> DiscreteLog:
    return DiscreteLog(10**7)


@pytest.mark.parametrize("value", [0, 1, 2, 3161, 3162, 9_999_999, 10**7])
def test_discrete_log_up_to_ten_million(value: int) -> None:
    assert log_up_to_10_million()(g**value) == value


@pytest.mark.parametrize("value", [10**7 + 1, 2 * 10**7, -1, Q // 2])
def test_discrete_log_out_of_bounds_raises(value: int) -> None:
    with pytest.raises(CryptoError) as raised:
        log_up_to_10_million()(g**value)
    assert raised.value.check == "result.discrete_log"


@SETTINGS
@given(st.integers(0, 500), st.data())
def test_discrete_log_of_any_bound(bound: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(0, bound))
    log = DiscreteLog(bound)
    assert log(g**value) == value
    with pytest.raises(CryptoError):
        log(g ** (bound + 1))


def test_discrete_log_bound_zero() -> None:
    log = DiscreteLog(0)
    assert log(g**0) == 0
    with pytest.raises(CryptoError):
        log(g)
    with pytest.raises(ValueError):
        DiscreteLog(-1)


# -- any t of n trustees give the same result -----------------------------------------------------


@cache
def election(size: int, threshold: int) -> tuple[list[TrusteeItem], list[TrusteePrivateKey]]:
    """A server Single key and a Pedersen item, with every private key (owner order)."""
    rng = random.Random(size * 100 + threshold).randrange
    server, server_key = single_trustee(rng)
    item, shares = run_threshold_ceremony(size, threshold, rng=rng)
    return [server, item], [server_key, *shares]


def encrypted_tally(
    items: list[TrusteeItem], counts: list[list[int]], seed: int
) -> list[list[Ciphertext]]:
    y = election_public_key(items)
    rng = random.Random(seed)
    return [[encrypt_with_nonce(m, y, rng.randrange(Q)) for m in row] for row in counts]


def decrypt(
    items: list[TrusteeItem],
    keys: list[TrusteePrivateKey],
    tally: list[list[Ciphertext]],
    owners: list[int],
    seed: int,
) -> list[list[int]]:
    public = {owner: key for owner, _, key in key_owners(items)}
    rng = random.Random(seed).randrange
    partials = {}
    for owner in owners:
        partial = PartialDecryption.compute(PHI, keys[owner - 1], tally, rng=rng)
        partial.check(PHI, public[owner], tally)
        partials[owner] = PartialDecryption.from_json(partial.to_json())
    factors = combine_factors(items, partials, [len(row) for row in tally])
    log = DiscreteLog(50)
    return [
        [log(c.beta / f) for c, f in zip(row, frow, strict=True)]
        for row, frow in zip(tally, factors, strict=True)
    ]


COUNTS = st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=3), min_size=1, max_size=2)


@SETTINGS
@given(st.sampled_from([(3, 2), (5, 3), (4, 4), (3, 1)]), COUNTS, st.integers(0, 2**32), st.data())
def test_any_threshold_of_trustees_decrypt_the_same(
    shape: tuple[int, int], counts: list[list[int]], seed: int, data: st.DataObject
) -> None:
    size, threshold = shape
    items, keys = election(size, threshold)
    tally = encrypted_tally(items, counts, seed)
    members = list(range(2, size + 2))  # owner 1 is the server's Single key
    chosen = data.draw(
        st.lists(st.sampled_from(members), min_size=threshold, max_size=size, unique=True),
        label="trustees",
    )
    assert decrypt(items, keys, tally, [1, *chosen], seed) == counts


@SETTINGS
@given(st.sampled_from([(3, 2), (5, 3)]), st.integers(0, 2**32), st.data())
def test_fewer_than_threshold_trustees_cannot_decrypt(
    shape: tuple[int, int], seed: int, data: st.DataObject
) -> None:
    size, threshold = shape
    items, keys = election(size, threshold)
    tally = encrypted_tally(items, [[1]], seed)
    chosen = data.draw(
        st.lists(st.sampled_from(range(2, size + 2)), max_size=threshold - 1, unique=True),
        label="trustees",
    )
    with pytest.raises(CryptoError) as raised:
        decrypt(items, keys, tally, [1, *chosen], seed)
    assert raised.value.check == "decryption.missing"


def test_the_server_key_is_always_needed() -> None:
    items, keys = election(3, 2)
    tally = encrypted_tally(items, [[1]], 5)
    with pytest.raises(CryptoError) as raised:
        decrypt(items, keys, tally, [2, 3, 4], 5)
    assert raised.value.check == "decryption.missing"


def test_a_partial_decryption_is_checked_against_its_owner() -> None:
    items, keys = election(3, 2)
    tally = encrypted_tally(items, [[1, 0]], 6)
    partial = PartialDecryption.compute(PHI, keys[1], tally, rng=random.Random(1).randrange)
    owners = {owner: key for owner, _, key in key_owners(items)}
    partial.check(PHI, owners[2], tally)
    for public, phi, shaped in (
        (owners[3], PHI, tally),
        (owners[2], PHI + "x", tally),
    ):
        with pytest.raises(InvalidProof) as raised:
            partial.check(phi, public, shaped)
        assert raised.value.check == "decryption.proof"
    with pytest.raises(InvalidProof) as raised:
        partial.check(PHI, owners[2], [tally[0][:1]])
    assert raised.value.check == "decryption.shape"


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(1, 10**6)), min_size=1, max_size=4),
    st.integers(0, 2**32),
)
def test_weighted_tally_decrypts_to_the_weighted_total(
    votes: list[tuple[int, int]], seed: int
) -> None:
    items, keys = election(3, 2)
    y = election_public_key(items)
    rng = random.Random(seed)
    total = Ciphertext(g**0, g**0)
    for m, weight in votes:
        total = total * encrypt_with_nonce(m, y, rng.randrange(Q)) ** weight
    partials = {
        owner: PartialDecryption.compute(PHI, keys[owner - 1], [[total]], rng=rng.randrange)
        for owner in (1, 2, 4)
    }
    [[factor]] = combine_factors(items, partials, [1])
    expected = sum(m * weight for m, weight in votes)
    assert total.beta / factor == g**expected


# -- Belenios's records -------------------------------------------------------------------------


def belenios_tally(name: str) -> dict[str, Any]:
    archive = read_archive(FIXTURES / f"{name}.bel")
    out: dict[str, Any] = {"partials": {}}
    for entry in archive.events:
        payload = entry.payload
        if entry.event.type == "Setup" and payload is not None:
            setup = SetupData.from_json(json.loads(payload))
            out["phi"] = setup.election_hash
            out["items"] = parse_trustees(json.loads(archive.data[setup.trustees]))
        elif entry.event.type == "EncryptedTally" and payload is not None:
            sized = SizedEncryptedTally.from_json(json.loads(payload))
            out["sized"] = sized
            out["tally"] = parse_encrypted_tally(json.loads(archive.data[sized.encrypted_tally]))
        elif entry.event.type == "PartialDecryption" and payload is not None:
            owned = Owned.from_json(json.loads(payload))
            out["partials"][owned.owner] = PartialDecryption.from_json(
                json.loads(archive.data[owned.payload])
            )
        elif entry.event.type == "Result" and payload is not None:
            out["result"] = json.loads(payload)["result"]
    return out


@pytest.mark.parametrize("name", ["single", "threshold", "weighted", "empty"])
def test_belenios_partial_decryptions_check_and_combine_to_the_result(name: str) -> None:
    record = belenios_tally(name)
    items, tally = record["items"], record["tally"]
    owners = {owner: key for owner, _, key in key_owners(items)}
    for owner, partial in record["partials"].items():
        partial.check(record["phi"], owners[owner], tally)
    factors = combine_factors(items, record["partials"], [len(row) for row in tally])
    log = DiscreteLog(record["sized"].total_weight)
    counts = [
        [log(c.beta / f) for c, f in zip(row, frow, strict=True)]
        for row, frow in zip(tally, factors, strict=True)
    ]
    assert counts == record["result"]


def test_belenios_threshold_was_decrypted_by_a_subset() -> None:
    record = belenios_tally("threshold")
    assert sorted(record["partials"]) == [1, 2, 4]
    assert isinstance(record["items"][0], SingleTrustee)
    assert isinstance(record["items"][1], PedersenTrustees)


def test_our_partial_decryption_equals_belenios_factors() -> None:
    """single.bel's trustee key is a TEST-ONLY fixture: α^x is deterministic."""
    record = belenios_tally("single")
    secret = int(json.loads(next((FIXTURES / "single").glob("*.privkey")).read_text()))
    ours = PartialDecryption.compute(
        record["phi"], TrusteePrivateKey(secret), record["tally"], rng=random.Random(0).randrange
    )
    assert ours.decryption_factors == record["partials"][1].decryption_factors
    ours.check(record["phi"], GroupElement.from_string(str(g**secret)), record["tally"])
