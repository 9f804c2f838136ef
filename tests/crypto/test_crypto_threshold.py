"""Pedersen threshold parameters (``tests/vectors/threshold.json``) and the ceremony that makes
them; Belenios's own threshold parameters (``tests/fixtures/belenios/threshold.bel``)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from unionvote.crypto.errors import CryptoError
from unionvote.crypto.group import g
from unionvote.crypto.threshold import (
    CeremonyKeys,
    _seal,
    make_polynomial,
    make_voutput,
    route_vinputs,
)
from unionvote.crypto.trustees import (
    PedersenTrustees,
    SingleTrustee,
    election_public_key,
    key_owners,
    parse_trustees,
)
from unionvote.domain.ceremony import run_threshold_ceremony
from unionvote.record.archive import ArchiveReader
from unionvote.record.messages import Election, SetupData

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "belenios"
THRESHOLD = json.loads((VECTORS / "threshold.json").read_text(encoding="utf-8"))


def pedersen(obj: Any) -> PedersenTrustees:
    [item] = parse_trustees([obj])
    assert isinstance(item, PedersenTrustees)
    return item


def name_of(case: dict[str, Any]) -> str:
    return str(case["name"])


@pytest.mark.parametrize("case", THRESHOLD["valid"], ids=name_of)
def test_valid_threshold_parameters_check(case: dict[str, Any]) -> None:
    item = pedersen(case["trustee_item"])
    item.check()
    assert item.size == case["size"]
    assert item.threshold == case["threshold"]
    assert str(item.sub_key) == case["sub_key"]
    assert item.to_json() == case["trustee_item"]


@pytest.mark.parametrize("case", [c for c in THRESHOLD["valid"] if "seed" in c], ids=name_of)
def test_threshold_vector_is_recomputed(case: dict[str, Any]) -> None:
    item, shares = run_threshold_ceremony(
        case["size"], case["threshold"], rng=random.Random(case["seed"]).randrange
    )
    assert item.to_json() == case["trustee_item"]
    assert [s.to_json() for s in shares] == case["private_shares_TEST_ONLY"]


@pytest.mark.parametrize("case", [c for c in THRESHOLD["valid"] if "seed" in c], ids=name_of)
def test_private_shares_match_the_verification_keys(case: dict[str, Any]) -> None:
    item = pedersen(case["trustee_item"])
    shares = [int(s) for s in case["private_shares_TEST_ONLY"]]
    assert [g**s for s in shares] == [vk.public_key for vk in item.verification_keys]


@pytest.mark.parametrize("case", THRESHOLD["invalid"], ids=name_of)
def test_invalid_threshold_parameters_fail_their_check(case: dict[str, Any]) -> None:
    item = pedersen(case["trustee_item"])
    with pytest.raises(CryptoError) as raised:
        item.check()
    assert raised.value.check == case["check"]


def test_threshold_vectors_cover_the_required_variants() -> None:
    checks = {c["check"] for c in THRESHOLD["invalid"]}
    for needed in (
        "trustees.pedersen.cert",
        "trustees.pedersen.coefexps",
        "trustees.pedersen.signature",
        "trustees.pedersen.verification_key",
        "trustees.pedersen.verification_key.pok",
        "trustees.pedersen.verification_key.signature",
        "trustees.pedersen.threshold",
        "trustees.pedersen.shape",
    ):
        assert needed in checks
    sizes = {(c["threshold"], c["size"]) for c in THRESHOLD["valid"] if "seed" in c}
    assert sizes == {(2, 3), (3, 5)}
    assert "belenios-tool 3.0" in THRESHOLD["provenance"]


# -- Belenios's record ---------------------------------------------------------------------------


def belenios_setup() -> tuple[Election, list[Any]]:
    with ArchiveReader.open(FIXTURES / "threshold.bel") as reader:
        for entry in reader.iter_events():
            if entry.event.type == "Setup":
                assert entry.payload is not None
                setup = SetupData.from_json(json.loads(entry.payload))
                election = Election.from_json(json.loads(reader.data(setup.election)))
                return election, parse_trustees(json.loads(reader.data(setup.trustees)))
    raise AssertionError("no Setup event")


def test_belenios_threshold_record_parses_and_checks() -> None:
    election, items = belenios_setup()
    assert [type(i) for i in items] == [SingleTrustee, PedersenTrustees]
    for item in items:
        item.check()
    threshold = items[1]
    assert isinstance(threshold, PedersenTrustees)
    assert (threshold.threshold, threshold.size) == (2, 3)
    assert election_public_key(items) == election.public_key
    assert [owner for owner, _, _ in key_owners(items)] == [1, 2, 3, 4]


def test_belenios_threshold_json_file_is_the_record_item() -> None:
    _, items = belenios_setup()
    published = json.loads((FIXTURES / "threshold" / "threshold.json").read_text())
    assert pedersen(["Pedersen", published]).to_json() == items[1].to_json()


# -- the ceremony's own checks -------------------------------------------------------------------


def test_a_polynomial_cannot_use_someone_elses_certificate() -> None:
    rng = random.Random(11).randrange
    keys = [CeremonyKeys.generate(rng) for _ in range(3)]
    certs = [k.certificate(size=3, threshold=2, index=i, rng=rng) for i, k in enumerate(keys, 1)]
    with pytest.raises(CryptoError) as raised:
        make_polynomial(keys[0], certs, 2, 2, rng=rng)
    assert raised.value.check == "ceremony.cert"


def test_routing_needs_one_polynomial_per_trustee() -> None:
    rng = random.Random(12).randrange
    keys = [CeremonyKeys.generate(rng) for _ in range(3)]
    certs = [k.certificate(size=3, threshold=2, index=i, rng=rng) for i, k in enumerate(keys, 1)]
    polynomials = [make_polynomial(k, certs, i, 2, rng=rng) for i, k in enumerate(keys, 1)]
    with pytest.raises(CryptoError) as raised:
        route_vinputs(certs, 2, polynomials[:2])
    assert raised.value.check == "ceremony.polynomial"


@pytest.mark.parametrize("share", ["²", "٣", "-1", "1.0", ""])
def test_a_malformed_share_is_refused_as_such(share: str) -> None:
    """A trustee that seals a malformed share for another is caught by ``ceremony.share``."""
    rng = random.Random(13).randrange
    keys = [CeremonyKeys.generate(rng) for _ in range(3)]
    certs = [k.certificate(size=3, threshold=2, index=i, rng=rng) for i, k in enumerate(keys, 1)]
    polynomials = [make_polynomial(k, certs, i, 2, rng=rng) for i, k in enumerate(keys, 1)]
    sealed = list(polynomials[0].sealed_shares)
    sealed[1] = _seal(share, keys[0].signing_key, keys[1].encryption_key, rng=rng)
    polynomials[0] = replace(polynomials[0], sealed_shares=tuple(sealed))
    vinputs = route_vinputs(certs, 2, polynomials)
    with pytest.raises(CryptoError) as raised:
        make_voutput(keys[1], certs, 2, 2, vinputs[1], rng=rng)
    assert raised.value.check == "ceremony.share"
