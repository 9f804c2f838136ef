"""Vectors for the specification's encodings and G.hash (``tests/vectors/encoding.json``,
``tests/vectors/hashes.json``), and the laws of compact JSON and unpadded Base64."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.encoding import b64_unpadded, compact_json, sha256_b64
from unionvote.crypto.errors import EncodingError
from unionvote.crypto.group import GroupElement, g, hash_to_scalar, parse_scalar
from unionvote.crypto.proofs import Proof

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return vectors


ENCODING = load("encoding.json")
HASHES = load("hashes.json")


def cases(vectors: dict[str, Any], part: str, kind: str | None = None) -> list[Any]:
    selected = [c for c in vectors[part] if kind is None or c.get("kind") == kind]
    assert selected, f"no {part} {kind} cases"
    return selected


def case_id(case: dict[str, Any]) -> str:
    return str(case.get("why") or case.get("name") or case.get("scalar") or case.get("text"))[:60]


def test_vector_files_say_where_they_come_from() -> None:
    for vectors in (ENCODING, HASHES):
        assert "scripts/make_vectors.py" in vectors["provenance"]
        assert "belenios-tool 3.0" in vectors["provenance"]
        assert vectors["description"]


# -- points -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(ENCODING, "valid", "point"), ids=case_id)
def test_point_vector(case: dict[str, Any]) -> None:
    point = g ** int(case["scalar"])
    assert str(point) == case["point"]
    parsed = GroupElement.from_string(case["point"])
    assert parsed == point
    assert str(parsed) == case["point"]
    assert GroupElement.from_bytes(bytes.fromhex(case["point"])[::-1]) == point


def test_named_points() -> None:
    assert str(g) == "6666666666666666666666666666666666666666666666666666666666666658"
    assert str(g**0) == "0" * 63 + "1"
    assert (g**0).is_identity


@pytest.mark.parametrize("case", cases(ENCODING, "invalid", "point"), ids=case_id)
def test_invalid_point_vector(case: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as raised:
        GroupElement.from_string(case["text"])
    assert raised.value.check == case["check"]


def test_invalid_points_cover_every_kind_of_failure() -> None:
    reasons = " ".join(c["why"] for c in cases(ENCODING, "invalid", "point"))
    for needed in ("uppercase", "63 digits", "not hexadecimal", "off the curve", "order 8q"):
        assert needed in reasons
    assert "small order 8" in reasons and "small order 2" in reasons


def test_non_strings_are_not_points() -> None:
    with pytest.raises(EncodingError) as raised:
        GroupElement.from_string(5)  # type: ignore[arg-type]
    assert raised.value.check == "group_element"
    with pytest.raises(EncodingError):
        GroupElement.from_bytes(bytes(31))


# -- scalars and proof objects ----------------------------------------------------------------


@pytest.mark.parametrize("case", cases(ENCODING, "valid", "scalar"), ids=case_id)
def test_scalar_vector(case: dict[str, Any]) -> None:
    assert parse_scalar(case["text"]) == int(case["value"])


@pytest.mark.parametrize("case", cases(ENCODING, "invalid", "scalar"), ids=case_id)
def test_invalid_scalar_vector(case: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as raised:
        parse_scalar(case["text"])
    assert raised.value.check == case["check"]


@pytest.mark.parametrize("case", cases(ENCODING, "valid", "proof"), ids=case_id)
def test_proof_object_vector(case: dict[str, Any]) -> None:
    proof = Proof.from_json(case["json"])
    assert proof.to_json() == case["json"]


@pytest.mark.parametrize("case", cases(ENCODING, "invalid", "proof"), ids=case_id)
def test_invalid_proof_object_vector(case: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as raised:
        Proof.from_json(case["json"])
    assert raised.value.check == case["check"]


# -- compact JSON --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(ENCODING, "valid", "json"), ids=case_id)
def test_compact_json_vector(case: dict[str, Any]) -> None:
    data = compact_json(case["value"])
    assert data == case["compact"].encode("utf-8")
    assert sha256_b64(data) == case["sha256_b64"]


def test_non_ascii_is_written_as_utf8_not_escaped() -> None:
    assert compact_json({"a": "é"}) == '{"a":"é"}'.encode()
    assert b"\\u" not in compact_json(["Кого", "選舉", "🗳"])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=30, deadline=None)
@given(JSON_VALUES)
def test_compact_json_round_trips_without_spaces(value: Any) -> None:
    data = compact_json(value)
    assert json.loads(data) == value
    assert data == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=70))
def test_unpadded_base64_is_base64_without_padding(data: bytes) -> None:
    text = b64_unpadded(data)
    assert "=" not in text
    assert base64.b64decode(text + "=" * (-len(text) % 4)) == data


def test_sha256_b64_is_43_characters() -> None:
    assert sha256_b64(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"


# -- G.hash --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(HASHES, "valid"), ids=case_id)
def test_hash_vector(case: dict[str, Any]) -> None:
    elements = [GroupElement.from_string(e) for e in case["elements"]]
    text = case["prefix"] + ",".join(case["elements"])
    assert hashlib.sha256(text.encode()).hexdigest() == case["sha256_hex"]
    assert hash_to_scalar(case["prefix"], elements) == int(case["scalar"])


@pytest.mark.parametrize("case", cases(HASHES, "invalid"), ids=case_id)
def test_invalid_hash_vector(case: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as raised:
        hash_to_scalar(case["prefix"], [GroupElement.from_string(e) for e in case["elements"]])
    assert raised.value.check == case["check"]


def test_hash_vectors_include_belenios_challenges() -> None:
    assert sum("belenios-tool" in c["source"] for c in HASHES["valid"]) >= 2
