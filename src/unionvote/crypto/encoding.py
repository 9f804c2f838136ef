"""Encodings the specification fixes: compact JSON (§"Conventions"), unpadded Base64 and the
Base58 alphabet used by uuids, credentials and seeds."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final

from unionvote.crypto.errors import EncodingError
from unionvote.crypto.group import GroupElement

__all__ = [
    "BASE58_ALPHABET",
    "b64_unpadded",
    "compact_json",
    "expect_fields",
    "parse_element",
    "parse_key",
    "parse_list",
    "parse_small_int",
    "sha256_b64",
]

BASE58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def compact_json(obj: Any) -> bytes:
    """Compact JSON in the order the fields were built (the specification's order), UTF-8.

    Non-ASCII text is written as UTF-8, not escaped, as Belenios writes it.
    """
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def b64_unpadded(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def sha256_b64(data: bytes) -> str:
    """Unpadded Base64 of SHA-256: the election fingerprint φ, ballot hashes and trackers."""
    return b64_unpadded(hashlib.sha256(data).digest())


# -- strict parsing of the specification's JSON structures ---------------------------------------


def expect_fields(
    obj: Any, what: str, required: Sequence[str], optional: Sequence[str] = ()
) -> None:
    """Raise ``EncodingError(what)`` unless ``obj`` is an object with exactly these fields."""
    if not isinstance(obj, dict):
        raise EncodingError(what, "expected a JSON object")
    missing = [f for f in required if f not in obj]
    extra = [f for f in obj if f not in required and f not in optional]
    if missing or extra:
        raise EncodingError(what, f"missing fields {missing}, unexpected fields {extra}")


def parse_element(value: Any) -> GroupElement:
    """A group element; the identity is allowed (an empty tally's ciphertexts are (1, 1))."""
    if not isinstance(value, str):
        raise EncodingError("group_element", "expected a string")
    return GroupElement.from_string(value)


def parse_key(value: Any) -> GroupElement:
    """A public key (a credential, a trustee's or the election's key): never the identity,
    whose private exponent would be 0 and known to everyone."""
    element = parse_element(value)
    if element.is_identity:
        raise EncodingError("group_element", "a public key cannot be the identity element")
    return element


def parse_small_int(value: Any, what: str) -> int:
    """The specification's I: a small non-negative integer written as a JSON number."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise EncodingError(what, f"expected a small non-negative integer, got {str(value)[:40]}")
    return value


def parse_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise EncodingError(what, "expected a list")
    return value
