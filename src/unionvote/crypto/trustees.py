"""Trustee keys (specification §"Verification keys", §"Threshold parameters", §"Trustees").

Two kinds of trustee items make up an election's ``trustees`` structure:

- ``Single``: one trustee, one key, whose partial decryption is always needed (Belenios requires
  one held by the server, different in each election);
- ``Pedersen``: m trustees holding shares of a key, any ``threshold`` of whom decrypt.

The election key y is the product of the items' sub-keys. The ceremony that produces a
``Pedersen`` item is in ``threshold.py``; this module holds the public objects and their checks.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from unionvote.crypto.encoding import (
    compact_json,
    expect_fields,
    parse_element,
    parse_key,
    parse_list,
    parse_small_int,
)
from unionvote.crypto.errors import EncodingError, InvalidProof
from unionvote.crypto.group import GROUP_NAME, GroupElement, Q, Rng, g, random_scalar
from unionvote.crypto.proofs import (
    Proof,
    prove_knowledge,
    sign_message,
    verify_knowledge,
    verify_message_signature,
)

__all__ = [
    "CertKeys",
    "PedersenTrustees",
    "SignedMessage",
    "SingleTrustee",
    "TrusteeItem",
    "TrusteePrivateKey",
    "TrusteePublicKey",
    "election_public_key",
    "key_owners",
    "parse_trustees",
    "read_coefexps",
    "threshold_share_key",
]


class TrusteePrivateKey:
    """A trustee's private exponent x. Never printed: its repr is redacted."""

    __slots__ = ("_x",)

    def __init__(self, x: int) -> None:
        if not 0 < x < Q:
            raise EncodingError("private_key", "not a non-zero scalar below q")
        self._x = x

    @classmethod
    def generate(cls, rng: Rng = secrets.randbelow) -> TrusteePrivateKey:
        x = 0
        while x == 0:
            x = random_scalar(rng)
        return cls(x)

    @property
    def exponent(self) -> int:
        return self._x

    @property
    def public_key(self) -> GroupElement:
        return g**self._x

    def __repr__(self) -> str:
        return "TrusteePrivateKey(<redacted>)"

    def to_json(self) -> str:
        """The private key as a base-10 string, for the trustee's own file only."""
        return str(self._x)


@dataclass(frozen=True, slots=True)
class TrusteePublicKey:
    """``trustee_public_key``: X = g^x, its proof of knowledge, and (threshold mode) the
    signature of X by its owner's PKI key."""

    pok: Proof
    public_key: GroupElement
    signature: Proof | None = None

    @classmethod
    def create(
        cls,
        private_key: TrusteePrivateKey,
        *,
        signing_key: int | None = None,
        rng: Rng = secrets.randbelow,
    ) -> TrusteePublicKey:
        public_key = private_key.public_key
        pok = prove_knowledge(private_key.exponent, rng=rng)
        signature = (
            None if signing_key is None else sign_message(str(public_key), signing_key, rng=rng)
        )
        return cls(pok, public_key, signature)

    def check(self, *, check: str = "trustees.pok") -> None:
        verify_knowledge(self.public_key, self.pok, check=check)

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"pok": self.pok.to_json(), "public_key": str(self.public_key)}
        if self.signature is not None:
            obj["signature"] = self.signature.to_json()
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> TrusteePublicKey:
        expect_fields(obj, "trustee_public_key", ["pok", "public_key"], ["signature"])
        signature = Proof.from_json(obj["signature"]) if "signature" in obj else None
        return cls(Proof.from_json(obj["pok"]), parse_key(obj["public_key"]), signature)


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """``signed_msg``: a message (a JSON string) and its Schnorr signature."""

    message: str
    signature: Proof

    @classmethod
    def sign(cls, message: str, signing_key: int, *, rng: Rng = secrets.randbelow) -> SignedMessage:
        return cls(message, sign_message(message, signing_key, rng=rng))

    def check(self, verification_key: GroupElement, *, check: str) -> None:
        verify_message_signature(self.message, verification_key, self.signature, check=check)

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "signature": self.signature.to_json()}

    @classmethod
    def from_json(cls, obj: Any) -> SignedMessage:
        expect_fields(obj, "signed_msg", ["message", "signature"])
        if not isinstance(obj["message"], str):
            raise EncodingError("signed_msg", "message must be a string")
        return cls(obj["message"], Proof.from_json(obj["signature"]))


@dataclass(frozen=True, slots=True)
class CertKeys:
    """``cert_keys``: a Pedersen trustee's PKI keys with the ceremony's context."""

    size: int
    threshold: int
    index: int
    verification: GroupElement
    encryption: GroupElement

    def to_message(self) -> str:
        context = {
            "group": GROUP_NAME,
            "size": self.size,
            "threshold": self.threshold,
            "index": self.index,
        }
        return compact_json(
            {
                "context": context,
                "verification": str(self.verification),
                "encryption": str(self.encryption),
            }
        ).decode()

    @classmethod
    def from_cert(cls, cert: SignedMessage, *, check: str = "trustees.cert") -> CertKeys:
        """Read a certificate and check it is signed by the verification key it carries."""
        try:
            obj = json.loads(cert.message)
        except ValueError as error:
            raise EncodingError(check, "the certificate message is not JSON") from error
        expect_fields(obj, check, ["context", "verification", "encryption"])
        context = obj["context"]
        expect_fields(context, check, ["group", "size", "threshold", "index"])
        if context["group"] != GROUP_NAME:
            raise EncodingError(check, f"group {context['group']!r}, not {GROUP_NAME}")
        keys = cls(
            parse_small_int(context["size"], check),
            parse_small_int(context["threshold"], check),
            parse_small_int(context["index"], check),
            parse_key(obj["verification"]),
            parse_key(obj["encryption"]),
        )
        if keys.to_message() != cert.message:
            raise EncodingError(check, "the certificate message is not in canonical form")
        cert.check(keys.verification, check=check)
        return keys


@dataclass(frozen=True, slots=True)
class SingleTrustee:
    """``["Single", trustee_public_key]``."""

    key: TrusteePublicKey

    @property
    def sub_key(self) -> GroupElement:
        return self.key.public_key

    @property
    def size(self) -> int:
        return 1

    def check(self) -> None:
        self.key.check(check="trustees.single.pok")

    def to_json(self) -> list[Any]:
        return ["Single", self.key.to_json()]


@dataclass(frozen=True, slots=True)
class PedersenTrustees:
    """``["Pedersen", threshold_parameters]``: ``threshold`` (t+1) of ``len(certs)`` decrypt."""

    threshold: int
    certs: tuple[SignedMessage, ...]
    coefexps: tuple[SignedMessage, ...]
    signatures: tuple[Proof, ...]
    verification_keys: tuple[TrusteePublicKey, ...]

    @property
    def size(self) -> int:
        return len(self.certs)

    @property
    def sub_key(self) -> GroupElement:
        """y = ∏_z A_{z,0}, the product of every polynomial's constant term's exponential."""
        key = g**0
        for coefexps in self.coefexps:
            key = key * read_coefexps(coefexps)[0]
        return key

    def check(self) -> None:
        """Every check a verifier makes on threshold parameters (§"Threshold parameters")."""
        m = self.size
        if not 1 <= self.threshold <= m:
            raise InvalidProof("trustees.pedersen.threshold", f"{self.threshold} of {m}")
        for name, items in (
            ("coefexps", self.coefexps),
            ("signatures", self.signatures),
            ("verification_keys", self.verification_keys),
        ):
            if len(items) != m:
                raise InvalidProof("trustees.pedersen.shape", f"{len(items)} {name} for {m} certs")
        keys = [CertKeys.from_cert(c, check="trustees.pedersen.cert") for c in self.certs]
        for number, cert_keys in enumerate(keys, start=1):
            if (cert_keys.size, cert_keys.threshold, cert_keys.index) != (
                m,
                self.threshold,
                number,
            ):
                raise InvalidProof(
                    "trustees.pedersen.cert", f"certificate {number} has the wrong context"
                )
        certs_json = [c.to_json() for c in self.certs]
        all_coefexps = []
        for number, (cert_keys, coefexps, signature) in enumerate(
            zip(keys, self.coefexps, self.signatures, strict=True), start=1
        ):
            coefexps.check(cert_keys.verification, check="trustees.pedersen.coefexps")
            exps = read_coefexps(coefexps)
            if len(exps) != self.threshold:
                raise InvalidProof(
                    "trustees.pedersen.coefexps",
                    f"trustee {number} has {len(exps)} coefficients for threshold {self.threshold}",
                )
            message = certs_signature_message(certs_json, exps)
            verify_message_signature(
                message, cert_keys.verification, signature, check="trustees.pedersen.signature"
            )
            all_coefexps.append(exps)
        for number, (cert_keys, vk) in enumerate(
            zip(keys, self.verification_keys, strict=True), start=1
        ):
            vk.check(check="trustees.pedersen.verification_key.pok")
            if vk.signature is None:
                raise InvalidProof(
                    "trustees.pedersen.verification_key.signature",
                    f"verification key {number} is not signed",
                )
            verify_message_signature(
                str(vk.public_key),
                cert_keys.verification,
                vk.signature,
                check="trustees.pedersen.verification_key.signature",
            )
            if vk.public_key != threshold_share_key(all_coefexps, number):
                raise InvalidProof(
                    "trustees.pedersen.verification_key",
                    f"verification key {number} does not match the polynomials' commitments",
                )

    def to_json(self) -> list[Any]:
        return [
            "Pedersen",
            {
                "threshold": self.threshold,
                "certs": [c.to_json() for c in self.certs],
                "coefexps": [c.to_json() for c in self.coefexps],
                "signatures": [s.to_json() for s in self.signatures],
                "verification_keys": [k.to_json() for k in self.verification_keys],
            },
        ]


TrusteeItem = SingleTrustee | PedersenTrustees


def certs_signature_message(certs_json: Sequence[Any], coefexps: Sequence[GroupElement]) -> str:
    """``certs_sig|`` followed by the compact ``certs`` structure (§"Polynomials")."""
    body = compact_json({"certs": list(certs_json), "coefexps": [str(a) for a in coefexps]})
    return "certs_sig|" + body.decode()


def coefexps_message(coefexps: Sequence[GroupElement]) -> str:
    """The serialized ``raw_coefexps`` that a ``coefexps`` signed message carries."""
    return compact_json({"coefexps": [str(a) for a in coefexps]}).decode()


def read_coefexps(signed: SignedMessage) -> list[GroupElement]:
    try:
        obj = json.loads(signed.message)
    except ValueError as error:
        raise EncodingError("trustees.pedersen.coefexps", "not JSON") from error
    expect_fields(obj, "trustees.pedersen.coefexps", ["coefexps"])
    if not isinstance(obj["coefexps"], list) or not obj["coefexps"]:
        raise EncodingError("trustees.pedersen.coefexps", "expected a non-empty list")
    return [parse_element(a) for a in obj["coefexps"]]


def threshold_share_key(all_coefexps: Sequence[Sequence[GroupElement]], index: int) -> GroupElement:
    """g^{S_j} = ∏_i ∏_k A_{ik}^{j^k}: trustee j's public share, from the commitments alone."""
    key = g**0
    for exps in all_coefexps:
        power = 1
        for a in exps:
            key = key * a**power
            power = power * index % Q
    return key


def election_public_key(items: Sequence[TrusteeItem]) -> GroupElement:
    """y = ∏_τ y_τ (§"Filling in the trustees structure")."""
    key = g**0
    for item in items:
        key = key * item.sub_key
    return key


def key_owners(items: Sequence[TrusteeItem]) -> list[tuple[int, int, GroupElement]]:
    """For each owner index (1-based, in order), the item index and the public key that its
    partial decryption must be checked against."""
    owners: list[tuple[int, int, GroupElement]] = []
    for item_index, item in enumerate(items):
        if isinstance(item, SingleTrustee):
            owners.append((len(owners) + 1, item_index, item.key.public_key))
        else:
            first = len(owners) + 1
            owners.extend(
                (first + z, item_index, vk.public_key)
                for z, vk in enumerate(item.verification_keys)
            )
    return owners


def parse_trustees(obj: Any) -> list[TrusteeItem]:
    """Parse a ``trustees`` structure, checking its shape (not yet its proofs)."""
    if not isinstance(obj, list) or not obj:
        raise EncodingError("trustees", "expected a non-empty list of trustee items")
    items: list[TrusteeItem] = []
    for entry in obj:
        if not isinstance(entry, list) or len(entry) != 2:
            raise EncodingError("trustees", "each item is [kind, parameters]")
        kind, body = entry
        if kind == "Single":
            items.append(SingleTrustee(TrusteePublicKey.from_json(body)))
        elif kind == "Pedersen":
            expect_fields(
                body,
                "trustees.pedersen",
                ["threshold", "certs", "coefexps", "signatures", "verification_keys"],
            )
            items.append(
                PedersenTrustees(
                    parse_small_int(body["threshold"], "trustees.pedersen"),
                    tuple(SignedMessage.from_json(c) for c in _list_of(body["certs"])),
                    tuple(SignedMessage.from_json(c) for c in _list_of(body["coefexps"])),
                    tuple(Proof.from_json(s) for s in _list_of(body["signatures"])),
                    tuple(
                        TrusteePublicKey.from_json(k) for k in _list_of(body["verification_keys"])
                    ),
                )
            )
        else:
            raise EncodingError("trustees", f"unknown trustee kind {str(kind)[:40]!r}")
    return items


def _list_of(value: Any) -> list[Any]:
    return parse_list(value, "trustees.pedersen")
