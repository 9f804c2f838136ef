"""Voter credentials (``tests/vectors/credentials.json``): Belenios-made private credentials are
accepted and derive the public credentials belenios-tool published; altered ones are refused."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.credentials import (
    PrivateCredential,
    PublicCredential,
    parse_public_credentials,
)
from unionvote.crypto.errors import EncodingError
from unionvote.crypto.group import GroupElement, g

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "belenios"
CREDENTIALS = json.loads((VECTORS / "credentials.json").read_text(encoding="utf-8"))
PUBLIC = CREDENTIALS["public_credentials"]


def text_of(case: dict[str, Any]) -> str:
    return str(case.get("why") or case.get("credential"))


def unchecked(text: str) -> PrivateCredential:
    """A credential object for ``text`` without the checksum check: the derivation is tested
    on its own, so that it is not hidden behind the checksum's failures."""
    credential = PrivateCredential.__new__(PrivateCredential)
    credential._text = text
    return credential


@pytest.mark.parametrize("case", CREDENTIALS["valid"], ids=text_of)
def test_belenios_credential_is_accepted(case: dict[str, Any]) -> None:
    credential = PrivateCredential(case["credential"])
    assert credential.reveal() == case["credential"]
    public = credential.public(case["uuid"], case["weight"])
    assert str(public.key) == case["public_credential"]
    assert public.to_json() == case["record_form"]


@pytest.mark.parametrize("case", CREDENTIALS["valid"], ids=text_of)
def test_credential_secret_derivation(case: dict[str, Any]) -> None:
    credential = unchecked(case["credential"])
    assert credential.secret(case["uuid"]) == int(case["secret"])
    assert str(credential.public(case["uuid"]).key) == case["public_credential"]
    assert str(g ** int(case["secret"])) == case["public_credential"]


def test_the_secret_depends_on_the_election() -> None:
    case = CREDENTIALS["valid"][0]
    credential = unchecked(case["credential"])
    assert credential.secret(case["uuid"] + "x") != int(case["secret"])


def test_vectors_match_the_fixture_files() -> None:
    """Every credential in tests/fixtures/belenios/*/creds.privcreds is a valid vector."""
    expected = set()
    for path in FIXTURES.glob("*/creds.privcreds"):
        uuid = (path.parent / "uuid.txt").read_text().strip()
        expected |= {(cred, uuid) for cred in json.loads(path.read_text()).values()}
    assert {(c["credential"], c["uuid"]) for c in CREDENTIALS["valid"]} == expected
    assert len(expected) >= 16
    assert "belenios-tool 3.0" in CREDENTIALS["provenance"]


@pytest.mark.parametrize("case", CREDENTIALS["invalid"], ids=text_of)
def test_invalid_credential_is_refused(case: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as raised:
        PrivateCredential.typed(case["credential"])
    assert raised.value.check == case["check"]
    if not case.get("typed_only"):
        with pytest.raises(EncodingError):
            PrivateCredential(case["credential"])


@pytest.mark.parametrize("case", CREDENTIALS["typed_valid"], ids=text_of)
def test_our_credentials_pass_the_typed_check(case: dict[str, Any]) -> None:
    credential = PrivateCredential.typed(case["credential"])
    assert credential.checksum_ok
    spaced = " ".join(case["credential"].split("-"))
    assert PrivateCredential.typed(spaced) == credential


def test_belenios_credentials_are_accepted_but_have_no_checksum() -> None:
    # Belenios 3.x draws all 22 characters at random: most fail our checksum, all are accepted.
    results = [PrivateCredential(c["credential"]).checksum_ok for c in CREDENTIALS["valid"]]
    assert results.count(False) >= len(results) - 2


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_generated_credentials_are_accepted(seed: int) -> None:
    credential = PrivateCredential.generate(random.Random(seed).randrange)
    text = credential.reveal()
    assert [len(part) for part in text.split("-")] == [5, 6, 5, 6]
    assert PrivateCredential(text) == credential
    assert PrivateCredential.typed(text) == credential


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=21))
def test_one_changed_character_is_caught(seed: int, position: int) -> None:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    raw = PrivateCredential.generate(random.Random(seed).randrange).reveal().replace("-", "")
    changed = alphabet[(alphabet.index(raw[position]) + 1) % len(alphabet)]
    with pytest.raises(EncodingError) as raised:
        PrivateCredential.typed(raw[:position] + changed + raw[position + 1 :])
    assert raised.value.check == "credential"


# -- public credentials -------------------------------------------------------------------------


@pytest.mark.parametrize("case", PUBLIC["valid"], ids=lambda c: str(c["json"])[-12:])
def test_public_credential_vector(case: dict[str, Any]) -> None:
    public = PublicCredential.from_json(case["json"])
    assert str(public.key) == case["public_credential"]
    assert public.weight == case["weight"]
    assert public.to_json() == case["json"]


@pytest.mark.parametrize("case", PUBLIC["invalid"], ids=text_of)
def test_invalid_public_credential_vector(case: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as raised:
        PublicCredential.from_json(case["json"])
    assert raised.value.check == case["check"]


@pytest.mark.parametrize("case", PUBLIC["invalid_lists"], ids=text_of)
def test_invalid_public_credential_list_vector(case: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as raised:
        parse_public_credentials(case["json"])
    assert raised.value.check == case["check"]


def test_public_credential_lists_from_belenios_parse() -> None:
    by_uuid: dict[str, list[str]] = {}
    for case in CREDENTIALS["valid"]:
        by_uuid.setdefault(case["uuid"], []).append(case["record_form"])
    for forms in by_uuid.values():
        parsed = parse_public_credentials(forms)
        assert [c.to_json() for c in parsed] == forms


def test_a_weight_is_positive() -> None:
    with pytest.raises(EncodingError) as raised:
        PublicCredential(GroupElement.from_string(str(g)), 0)
    assert raised.value.check == "credentials"
