"""The Pedersen key ceremony for t-of-m trustees (specification §"Threshold decryption support",
§"Pedersen protocol").

The public objects (certificates, signed coefficient commitments, ``certs_sig`` signatures,
signed verification keys) are exactly Belenios's, so ``belenios-tool`` checks them. The private
channel between trustees — shares of each polynomial sent through the server — is ours: each
share is signed with the sender's PKI key and sealed to the recipient's encryption key with an
ElGamal key agreement over Ed25519 and libsodium's XChaCha20-Poly1305. The server routes these
sealed messages and never reads them; nothing of them reaches the public record.

The ceremony, for trustees 1..m and threshold k = t+1 (any k of them decrypt):

1. each trustee makes ``CeremonyKeys`` from a fresh seed and publishes its certificate;
2. given all certificates, each trustee makes a ``PolynomialMessage``: a random polynomial f_i of
   degree t, its signed commitments A_ik = g^{a_ik}, the ``certs_sig`` signature, and the share
   f_i(j) sealed for each trustee j;
3. the server routes to each trustee j its ``Vinput``: every trustee's commitments and
   signatures, and the shares sealed for j;
4. trustee j checks every share against the commitments and sums them into its key share
   S_j = Σ_i f_i(j), publishing g^{S_j} with a proof of knowledge and a signature;
5. the server checks each output and assembles the ``PedersenTrustees`` item.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nacl import bindings as sodium
from nacl.exceptions import CryptoError as SodiumCryptoError

from unionvote.crypto.encoding import BASE58_ALPHABET, compact_json
from unionvote.crypto.errors import EncodingError, InvalidProof
from unionvote.crypto.group import GroupElement, Q, Rng, g, random_scalar
from unionvote.crypto.proofs import Proof, sign_message, verify_message_signature
from unionvote.crypto.trustees import (
    CertKeys,
    PedersenTrustees,
    SignedMessage,
    TrusteePrivateKey,
    TrusteePublicKey,
    certs_signature_message,
    coefexps_message,
    read_coefexps,
    threshold_share_key,
)

__all__ = [
    "CeremonyKeys",
    "PolynomialMessage",
    "Vinput",
    "Voutput",
    "assemble_pedersen",
    "check_voutput",
    "make_polynomial",
    "make_voutput",
    "route_vinputs",
]

_SEED_LENGTH = 22


class CeremonyKeys:
    """A trustee's PKI for one ceremony, derived from a secret 22-character Base58 seed:
    the signing key from ``sk|seed``, the decryption key from ``dk|seed``. Redacted in reprs."""

    __slots__ = ("_decryption_key", "_seed", "_signing_key")

    def __init__(self, seed: str) -> None:
        if len(seed) != _SEED_LENGTH or any(ch not in BASE58_ALPHABET for ch in seed):
            raise EncodingError("ceremony.seed", "a seed is 22 Base58 characters")
        self._seed = seed
        self._signing_key = _derive(f"sk|{seed}")
        self._decryption_key = _derive(f"dk|{seed}")

    @classmethod
    def generate(cls, rng: Rng = secrets.randbelow) -> CeremonyKeys:
        return cls("".join(BASE58_ALPHABET[rng(58)] for _ in range(_SEED_LENGTH)))

    @property
    def seed(self) -> str:
        return self._seed

    @property
    def signing_key(self) -> int:
        return self._signing_key

    @property
    def verification_key(self) -> GroupElement:
        return g**self._signing_key

    @property
    def encryption_key(self) -> GroupElement:
        return g**self._decryption_key

    def __repr__(self) -> str:
        return "CeremonyKeys(<redacted>)"

    def certificate(
        self, *, size: int, threshold: int, index: int, rng: Rng = secrets.randbelow
    ) -> SignedMessage:
        """Step 1: the trustee's certificate (``cert``), index 1-based."""
        keys = CertKeys(size, threshold, index, self.verification_key, self.encryption_key)
        return SignedMessage.sign(keys.to_message(), self._signing_key, rng=rng)

    def open(self, sealed: str, *, sender: CertKeys, check: str) -> str:
        """Open a channel message sealed for us and check the sender's signature on it."""
        return _open(sealed, self._decryption_key, self.encryption_key, sender, check)


def _derive(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big") % Q


# -- the private channel (our own format) --------------------------------------------------------


def _channel_key(shared: GroupElement) -> bytes:
    return hashlib.sha256(b"unionvote-channel-v1|" + shared.to_bytes()).digest()


def _seal(
    message: str,
    sender_signing_key: int,
    recipient: GroupElement,
    *,
    rng: Rng,
) -> str:
    """Sign ``{recipient, message}`` with the sender's key, then seal it to ``recipient``."""
    inner = compact_json({"recipient": str(recipient), "message": message}).decode()
    signed = SignedMessage.sign(inner, sender_signing_key, rng=rng)
    r = random_scalar(rng)
    alpha = g**r
    nonce = bytes(rng(256) for _ in range(24))
    box = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        compact_json(signed.to_json()),
        str(alpha).encode(),
        nonce,
        _channel_key(recipient**r),
    )
    return compact_json({"alpha": str(alpha), "nonce": nonce.hex(), "box": box.hex()}).decode()


def _open(
    sealed: str, decryption_key: int, own_key: GroupElement, sender: CertKeys, check: str
) -> str:
    try:
        envelope = json.loads(sealed)
        alpha = GroupElement.from_string(envelope["alpha"])
        plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes.fromhex(envelope["box"]),
            str(alpha).encode(),
            bytes.fromhex(envelope["nonce"]),
            _channel_key(alpha**decryption_key),
        )
        signed = SignedMessage.from_json(json.loads(plain))
        inner = json.loads(signed.message)
    except (ValueError, KeyError, TypeError, SodiumCryptoError, EncodingError) as error:
        raise InvalidProof(check, "a sealed message could not be opened") from error
    signed.check(sender.verification, check=check)
    if not isinstance(inner, dict) or inner.get("recipient") != str(own_key):
        raise InvalidProof(check, "a sealed message was meant for another trustee")
    message = inner.get("message")
    if not isinstance(message, str):
        raise InvalidProof(check, "a sealed message has no text")
    return message


# -- step 2: polynomials --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolynomialMessage:
    """What trustee i sends the server in step 2: public commitments and sealed shares."""

    index: int
    coefexps: SignedMessage
    signature: Proof
    sealed_shares: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "coefexps": self.coefexps.to_json(),
            "signature": self.signature.to_json(),
            "sealed_shares": list(self.sealed_shares),
        }

    @classmethod
    def from_json(cls, obj: Any) -> PolynomialMessage:
        try:
            return cls(
                int(obj["index"]),
                SignedMessage.from_json(obj["coefexps"]),
                Proof.from_json(obj["signature"]),
                tuple(str(s) for s in obj["sealed_shares"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise EncodingError("ceremony.polynomial", "not a polynomial message") from error


def _check_certs(certs: Sequence[SignedMessage], threshold: int) -> list[CertKeys]:
    keys = [CertKeys.from_cert(c, check="ceremony.cert") for c in certs]
    for number, k in enumerate(keys, start=1):
        if (k.size, k.threshold, k.index) != (len(certs), threshold, number):
            raise InvalidProof("ceremony.cert", f"certificate {number} has the wrong context")
    if len({k.verification for k in keys}) != len(keys):
        raise InvalidProof("ceremony.cert", "two certificates share a key")
    return keys


def make_polynomial(
    keys: CeremonyKeys,
    certs: Sequence[SignedMessage],
    index: int,
    threshold: int,
    *,
    rng: Rng = secrets.randbelow,
) -> PolynomialMessage:
    """Step 2 for trustee ``index``: a random polynomial of degree threshold−1."""
    cert_keys = _check_certs(certs, threshold)
    if cert_keys[index - 1].verification != keys.verification_key:
        raise InvalidProof("ceremony.cert", f"certificate {index} is not this trustee's")
    coefficients = [random_scalar(rng) for _ in range(threshold)]
    commitments = [g**a for a in coefficients]
    shares = [_evaluate(coefficients, j) for j in range(1, len(certs) + 1)]
    sealed = tuple(
        _seal(str(share), keys.signing_key, k.encryption, rng=rng)
        for share, k in zip(shares, cert_keys, strict=True)
    )
    return PolynomialMessage(
        index,
        SignedMessage.sign(coefexps_message(commitments), keys.signing_key, rng=rng),
        sign_message(
            certs_signature_message([c.to_json() for c in certs], commitments),
            keys.signing_key,
            rng=rng,
        ),
        sealed,
    )


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    value = 0
    for a in reversed(coefficients):
        value = (value * x + a) % Q
    return value


# -- step 3: routing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vinput:
    """What the server routes to trustee j: all commitments and signatures, j's sealed shares."""

    coefexps: tuple[SignedMessage, ...]
    signatures: tuple[Proof, ...]
    sealed_shares: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "coefexps": [c.to_json() for c in self.coefexps],
            "signatures": [s.to_json() for s in self.signatures],
            "sealed_shares": list(self.sealed_shares),
        }

    @classmethod
    def from_json(cls, obj: Any) -> Vinput:
        try:
            return cls(
                tuple(SignedMessage.from_json(c) for c in obj["coefexps"]),
                tuple(Proof.from_json(s) for s in obj["signatures"]),
                tuple(str(s) for s in obj["sealed_shares"]),
            )
        except (KeyError, TypeError) as error:
            raise EncodingError("ceremony.vinput", "not a vinput") from error


def route_vinputs(
    certs: Sequence[SignedMessage], threshold: int, polynomials: Sequence[PolynomialMessage]
) -> list[Vinput]:
    """Step 3 (the server): check each polynomial's public part and route the shares."""
    cert_keys = _check_certs(certs, threshold)
    ordered = sorted(polynomials, key=lambda p: p.index)
    if [p.index for p in ordered] != list(range(1, len(certs) + 1)):
        raise InvalidProof("ceremony.polynomial", "one polynomial per trustee is needed")
    certs_json = [c.to_json() for c in certs]
    for p, k in zip(ordered, cert_keys, strict=True):
        _check_polynomial_public(p, k, certs_json, threshold)
        if len(p.sealed_shares) != len(certs):
            raise InvalidProof("ceremony.polynomial", f"trustee {p.index} sent the wrong shares")
    return [
        Vinput(
            tuple(p.coefexps for p in ordered),
            tuple(p.signature for p in ordered),
            tuple(p.sealed_shares[j] for p in ordered),
        )
        for j in range(len(certs))
    ]


def _check_polynomial_public(
    p: PolynomialMessage, sender: CertKeys, certs_json: list[Any], threshold: int
) -> list[GroupElement]:
    p.coefexps.check(sender.verification, check="ceremony.coefexps")
    commitments = read_coefexps(p.coefexps)
    if len(commitments) != threshold:
        raise InvalidProof("ceremony.coefexps", f"trustee {sender.index}: wrong degree")
    verify_message_signature(
        certs_signature_message(certs_json, commitments),
        sender.verification,
        p.signature,
        check="ceremony.signature",
    )
    return commitments


# -- step 4: the trustee's key share -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Voutput:
    """Trustee j's result: its private key share (kept on its machine) and its public share."""

    private_key: TrusteePrivateKey
    public_key: TrusteePublicKey


def make_voutput(
    keys: CeremonyKeys,
    certs: Sequence[SignedMessage],
    index: int,
    threshold: int,
    vinput: Vinput,
    *,
    rng: Rng = secrets.randbelow,
) -> Voutput:
    """Step 4 for trustee ``index``: check every share against its commitments, sum them."""
    cert_keys = _check_certs(certs, threshold)
    if cert_keys[index - 1].verification != keys.verification_key:
        raise InvalidProof("ceremony.cert", f"certificate {index} is not this trustee's")
    if (
        not len(vinput.coefexps)
        == len(vinput.signatures)
        == len(vinput.sealed_shares)
        == len(certs)
    ):
        raise InvalidProof("ceremony.vinput", "the routed input has the wrong size")
    certs_json = [c.to_json() for c in certs]
    total = 0
    for sender, coefexps, signature, sealed in zip(
        cert_keys, vinput.coefexps, vinput.signatures, vinput.sealed_shares, strict=True
    ):
        commitments = _check_polynomial_public(
            PolynomialMessage(sender.index, coefexps, signature, ()),
            sender,
            certs_json,
            threshold,
        )
        text = keys.open(sealed, sender=sender, check="ceremony.share")
        if not (text.isascii() and text.isdigit()) or int(text) >= Q:
            raise InvalidProof("ceremony.share", f"trustee {sender.index} sent a malformed share")
        share = int(text)
        if g**share != threshold_share_key([commitments], index):
            raise InvalidProof(
                "ceremony.share",
                f"the share from trustee {sender.index} does not match its commitments",
            )
        total = (total + share) % Q
    private_key = TrusteePrivateKey(total)
    public_key = TrusteePublicKey.create(private_key, signing_key=keys.signing_key, rng=rng)
    return Voutput(private_key, public_key)


def check_voutput(
    certs: Sequence[SignedMessage],
    threshold: int,
    vinput: Vinput,
    index: int,
    public_key: TrusteePublicKey,
) -> None:
    """Step 5 (the server): the public share matches the commitments and is proven and signed."""
    cert_keys = _check_certs(certs, threshold)
    all_commitments = [read_coefexps(c) for c in vinput.coefexps]
    public_key.check(check="ceremony.voutput.pok")
    if public_key.signature is None:
        raise InvalidProof("ceremony.voutput", f"trustee {index}'s public share is not signed")
    verify_message_signature(
        str(public_key.public_key),
        cert_keys[index - 1].verification,
        public_key.signature,
        check="ceremony.voutput.signature",
    )
    if public_key.public_key != threshold_share_key(all_commitments, index):
        raise InvalidProof("ceremony.voutput", f"trustee {index}'s share is not the agreed one")


def assemble_pedersen(
    certs: Sequence[SignedMessage],
    threshold: int,
    vinput: Vinput,
    public_keys: Sequence[TrusteePublicKey],
) -> PedersenTrustees:
    """The ``threshold_parameters`` published in the record."""
    for index, key in enumerate(public_keys, start=1):
        check_voutput(certs, threshold, vinput, index, key)
    item = PedersenTrustees(
        threshold, tuple(certs), vinput.coefexps, vinput.signatures, tuple(public_keys)
    )
    item.check()
    return item
