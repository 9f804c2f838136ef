"""The group Ed25519 as Belenios uses it (specification §"Elliptic curves", "Ed25519").

Group arithmetic comes only from libsodium (through PyNaCl's low-level bindings). This module
adds what the protocol needs around it:

- Belenios's string encoding of a point: 64 lowercase hex digits of the big-endian integer whose
  little-endian bytes are the RFC 8032 encoding (so: the RFC 8032 bytes, reversed, in hex);
- the subgroup check on every decoded point;
- the identity element, which libsodium's point checks and multiplications refuse but which the
  protocol produces (an empty encrypted tally is the product of no ciphertexts) and allows;
- ``G.hash``: a SHA-256 over a prefix and comma-separated elements, read as a big-endian number
  and reduced mod q.

The notation is multiplicative, as in the specification: ``a * b`` is the group law, ``a / b``
its inverse, ``a ** k`` exponentiation by a scalar, ``g`` the generator.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Final

from nacl import bindings as sodium
from nacl.exceptions import RuntimeError as SodiumError

from unionvote.crypto.errors import EncodingError

__all__ = [
    "GROUP_NAME",
    "IDENTITY",
    "GroupElement",
    "Q",
    "Rng",
    "g",
    "g_small_power",
    "hash_to_scalar",
    "parse_scalar",
    "random_scalar",
]

GROUP_NAME: Final = "Ed25519"

#: The order of g: 2^252 + 27742317777372353535851937790883648493.
Q: Final = 2**252 + 27742317777372353535851937790883648493

#: A source of uniform integers in [0, n): ``secrets.randbelow`` by default; tests pass a seeded
#: ``random.Random().randrange`` to get reproducible vectors.
Rng = Callable[[int], int]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_IDENTITY_BYTES: Final = b"\x01" + bytes(31)
_BASE_BYTES: Final = sodium.crypto_scalarmult_ed25519_base_noclamp((1).to_bytes(32, "little"))


def random_scalar(rng: Rng = secrets.randbelow) -> int:
    """A uniform scalar in Z_q."""
    return rng(Q)


def parse_scalar(text: str) -> int:
    """A scalar written in base 10 (the specification's Z_q), refusing anything not canonical."""
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise EncodingError("scalar", f"not a base-10 number: {text[:80]!r}")
    value = int(text)
    if value >= Q:
        raise EncodingError("scalar", f"out of range (not below q): {text[:80]}")
    return value


class GroupElement:
    """A point of the prime-order subgroup of Ed25519 (or the identity).

    Instances are immutable and only made by ``from_string``, ``from_bytes`` (which check) or
    by the group operations (whose results are in the group by construction).
    """

    __slots__ = ("_bytes", "_string")

    _bytes: bytes
    _string: str | None

    def __init__(self, rfc8032: bytes) -> None:
        # Private: callers use from_bytes/from_string, which check membership.
        self._bytes = rfc8032
        self._string = None

    # -- decoding and encoding ---------------------------------------------------------------

    @classmethod
    def from_bytes(cls, rfc8032: bytes) -> GroupElement:
        """Decode the 32-byte RFC 8032 encoding, checking it is in the prime-order subgroup."""
        if len(rfc8032) != 32:
            raise EncodingError("group_element", f"{len(rfc8032)} bytes instead of 32")
        if rfc8032 == _IDENTITY_BYTES:
            return IDENTITY
        if not sodium.crypto_core_ed25519_is_valid_point(rfc8032):
            raise EncodingError(
                "group_element", "not a point of the prime-order subgroup of Ed25519"
            )
        return cls(rfc8032)

    @classmethod
    def from_string(cls, text: str) -> GroupElement:
        """Decode Belenios's string form (64 hex digits, big-endian) and check membership."""
        if not isinstance(text, str) or _HEX64.fullmatch(text) is None:
            raise EncodingError(
                "group_element", f"not 64 lowercase hexadecimal digits: {str(text)[:80]!r}"
            )
        element = cls.from_bytes(bytes.fromhex(text)[::-1])
        element._string = text
        return element

    def to_bytes(self) -> bytes:
        """The RFC 8032 encoding."""
        return self._bytes

    def __str__(self) -> str:
        """Belenios's string form."""
        if self._string is None:
            self._string = self._bytes[::-1].hex()
        return self._string

    def __repr__(self) -> str:
        return f"GroupElement({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GroupElement) and self._bytes == other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    @property
    def is_identity(self) -> bool:
        return self._bytes == _IDENTITY_BYTES

    # -- the group law -------------------------------------------------------------------------

    def __mul__(self, other: GroupElement) -> GroupElement:
        return GroupElement(sodium.crypto_core_ed25519_add(self._bytes, other._bytes))

    def __truediv__(self, other: GroupElement) -> GroupElement:
        return GroupElement(sodium.crypto_core_ed25519_sub(self._bytes, other._bytes))

    def __pow__(self, exponent: int) -> GroupElement:
        k = exponent % Q
        if k == 0 or self.is_identity:
            return IDENTITY
        scalar = k.to_bytes(32, "little")
        if self._bytes == _BASE_BYTES:
            return GroupElement(sodium.crypto_scalarmult_ed25519_base_noclamp(scalar))
        try:
            return GroupElement(sodium.crypto_scalarmult_ed25519_noclamp(scalar, self._bytes))
        except SodiumError as error:  # pragma: no cover - unreachable for subgroup points
            raise EncodingError("group_element", "scalar multiplication failed") from error

    def inverse(self) -> GroupElement:
        return IDENTITY / self


IDENTITY: Final = GroupElement(_IDENTITY_BYTES)

#: The standard base point (y = 4/5, x even), Belenios's g.
g: Final = GroupElement(_BASE_BYTES)


@functools.lru_cache(maxsize=1024)
def g_small_power(m: int) -> GroupElement:
    """g^m for the small plaintexts the proofs divide by (0/1, min..max), computed once."""
    return g**m


def hash_to_scalar(prefix: str, elements: Iterable[GroupElement]) -> int:
    """Belenios's ``G.hash``: SHA-256 of ``prefix`` followed by the comma-separated elements,
    read as a 256-bit big-endian number, reduced mod q."""
    text = prefix + ",".join(str(e) for e in elements)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big") % Q


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()
