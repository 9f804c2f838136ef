"""Voter credentials (specification §"Credentials").

A private credential is ``XXXXX-XXXXXX-XXXXX-XXXXXX``: 22 Base58 characters. Belenios 3.x draws
all 22 at random and checks nothing (established by experiment: ``belenios-tool`` derives a key
from any 22 characters, and no checksum rule fits the credentials it makes). Ours draw 21 at
random (123 bits) and make the last a checksum of them — Belenios's earlier rule, 53 − (n mod 53)
with n the 21 characters read in base 58 — so that the booth can tell a member "you mistyped
your credential" before any ballot is made. Any 22-character credential is still accepted where
the protocol needs it (``PrivateCredential``), so credentials made by ``belenios-tool`` work;
``PrivateCredential.typed`` is the stricter entry point for what a member types.
Its secret exponent is ``x = int(SHA256hex("derive_credential|uuid|0|c") ‖
SHA256hex("derive_credential|uuid|1|c"), 16) mod q`` and the public credential is g^x.

The credential authority makes private credentials and hands the server only the public ones.
``PrivateCredential`` redacts itself in ``repr`` so that no log or traceback can print it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from unionvote.crypto.encoding import BASE58_ALPHABET, parse_key
from unionvote.crypto.errors import EncodingError
from unionvote.crypto.group import GroupElement, Q, Rng, g

__all__ = ["PrivateCredential", "PublicCredential", "parse_public_credentials"]

_GROUPS = (5, 6, 5, 6)
_LENGTH = sum(_GROUPS)
_DIGITS = {ch: i for i, ch in enumerate(BASE58_ALPHABET)}


def _checksum(digits: str) -> str:
    """The checksum character of the first 21 characters."""
    n = 0
    for ch in digits:
        n = n * 58 + _DIGITS[ch]
    return BASE58_ALPHABET[53 - n % 53]


def _with_dashes(raw: str) -> str:
    parts, start = [], 0
    for size in _GROUPS:
        parts.append(raw[start : start + size])
        start += size
    return "-".join(parts)


class PrivateCredential:
    """A voter's private credential. Its text is shown only through ``reveal()``."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        raw = text.strip().replace("-", "")
        if len(raw) != _LENGTH or any(ch not in _DIGITS for ch in raw):
            raise EncodingError(
                "credential", "a credential is 22 letters and digits like XXXXX-XXXXXX-XXXXX-XXXXXX"
            )
        self._text = _with_dashes(raw)

    @classmethod
    def typed(cls, text: str) -> PrivateCredential:
        """A credential as a member typed it from a unionvote letter or email: spaces are
        ignored and the checksum must hold, so a typing mistake is caught at once."""
        credential = cls("".join(text.split()))
        if not credential.checksum_ok:
            raise EncodingError(
                "credential", "the credential is mistyped: please check each character again"
            )
        return credential

    @property
    def checksum_ok(self) -> bool:
        raw = self._text.replace("-", "")
        return _checksum(raw[:-1]) == raw[-1]

    @classmethod
    def generate(cls, rng: Rng = secrets.randbelow) -> PrivateCredential:
        raw = "".join(BASE58_ALPHABET[rng(58)] for _ in range(_LENGTH - 1))
        return cls(raw + _checksum(raw))

    def reveal(self) -> str:
        """The credential's text, for the letter or email that delivers it."""
        return self._text

    def secret(self, uuid: str) -> int:
        """x = secret(c) for the election ``uuid``."""
        halves = (
            hashlib.sha256(f"derive_credential|{uuid}|{i}|{self._text}".encode()).hexdigest()
            for i in (0, 1)
        )
        return int("".join(halves), 16) % Q

    def public(self, uuid: str, weight: int | None = None) -> PublicCredential:
        return PublicCredential(g ** self.secret(uuid), weight)

    def __repr__(self) -> str:
        return "PrivateCredential(<redacted>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrivateCredential) and self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)


@dataclass(frozen=True, slots=True)
class PublicCredential:
    """A public credential g^x, with its voter's weight when the election uses weights."""

    key: GroupElement
    weight: int | None = None

    def __post_init__(self) -> None:
        if self.weight is not None and self.weight <= 0:
            raise EncodingError("credentials", "a weight is a positive whole number")

    def to_json(self) -> str:
        return str(self.key) if self.weight is None else f"{self.key},{self.weight}"

    @classmethod
    def from_json(cls, value: Any) -> PublicCredential:
        if not isinstance(value, str):
            raise EncodingError("credentials", "a public credential is a string")
        key, sep, weight = value.partition(",")
        if not sep:
            return cls(parse_key(key))
        if not (weight.isascii() and weight.isdigit()) or (len(weight) > 1 and weight[0] == "0"):
            raise EncodingError("credentials", f"not a weight: {weight[:40]!r}")
        return cls(parse_key(key), int(weight))


def parse_public_credentials(obj: Any) -> list[PublicCredential]:
    """The ``public_credentials`` list: all weighted or none, all distinct."""
    if not isinstance(obj, list):
        raise EncodingError("credentials", "expected a list of public credentials")
    credentials = [PublicCredential.from_json(v) for v in obj]
    if len({c.weight is None for c in credentials}) > 1:
        raise EncodingError("credentials", "either every credential has a weight or none has")
    if len({c.key for c in credentials}) != len(credentials):
        raise EncodingError("credentials", "two voters share a public credential")
    return credentials
