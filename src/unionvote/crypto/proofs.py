"""Zero-knowledge proofs and Schnorr signatures of Belenios (crypto version 1).

Every proof in the specification is one shape: a non-interactive (Fiat–Shamir) proof that the
prover knows an exponent x with ``value_l = base_l ^ x`` for every l, for one of several
statements, without saying which (a disjunction of discrete-log equalities). What differs between
the specification's proofs is only the bases, the statements and the string hashed:

===================  ==============  ==================================  =====================
proof                bases           statements                          hashed prefix
===================  ==============  ==================================  =====================
pok (trustee key)    g               X                                   ``pok|G|X|``
signature (PKI)      g               vk                                  ``sigmsg|M|``
signature (ballot)   g               credential                          ``sig|H|``
decryption           g, α            X, α^x                              ``decrypt|φ|X|``
interval (iprove)    g, y            (α, β/g^M_j) for each M_j           ``prove|S|α,β|``
blank proof          g, y            (α0, β0), (αΣ, βΣ)                  ``bproof0|S|``
overall (blank)      g, y            (α0, β0/g), (αΣ, βΣ/g^M_j)          ``bproof1|S|``
===================  ==============  ==================================  =====================

so they are written once here, as ``prove_or``/``verify_or``, with thin named wrappers.
Responses are ``w − x·c mod q`` (Belenios's sign), challenges sum to the hash.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.errors import EncodingError, InvalidProof
from unionvote.crypto.fast import power, power_product
from unionvote.crypto.group import (
    GROUP_NAME,
    GroupElement,
    Q,
    Rng,
    g,
    g_small_power,
    hash_to_scalar,
    parse_scalar,
    random_scalar,
)

__all__ = [
    "Proof",
    "prove_blank",
    "prove_decryption",
    "prove_interval",
    "prove_knowledge",
    "prove_or",
    "prove_overall_blank",
    "sign_ballot_hash",
    "sign_message",
    "verify_ballot_signature",
    "verify_blank",
    "verify_decryption",
    "verify_interval",
    "verify_knowledge",
    "verify_message_signature",
    "verify_or",
    "verify_overall_blank",
]


@dataclass(frozen=True, slots=True)
class Proof:
    """The specification's ``proof``: a challenge and a response, both in Z_q."""

    challenge: int
    response: int

    def to_json(self) -> dict[str, str]:
        return {"challenge": str(self.challenge), "response": str(self.response)}

    @classmethod
    def from_json(cls, obj: Any) -> Proof:
        if not isinstance(obj, dict) or list(obj) != ["challenge", "response"]:
            raise EncodingError("proof", "expected {challenge, response}")
        challenge, response = obj["challenge"], obj["response"]
        if not isinstance(challenge, str) or not isinstance(response, str):
            raise EncodingError("proof", "challenge and response must be base-10 strings")
        return cls(parse_scalar(challenge), parse_scalar(response))


@dataclass(frozen=True, slots=True)
class Quotient:
    """``element / g^m`` (m a small plaintext), left uncomputed in a statement: checking a
    proof folds g^(−m·c) into its two-base multiplication (``fast.power_product``'s ``shift``),
    which spares computing and encoding the quotient."""

    element: GroupElement
    m: int


Statement = Sequence[GroupElement | Quotient]


def prove_or(
    prefix: str,
    bases: Sequence[GroupElement],
    statements: Sequence[Statement],
    known: int,
    secret: int,
    *,
    rng: Rng = secrets.randbelow,
    recurring: bool = False,
) -> list[Proof]:
    """Prove that ``statements[known][l] == bases[l] ** secret`` for every l, hiding ``known``.

    The other statements are simulated with a random challenge and response; the real one's
    challenge is the hash of all commitments minus the simulated challenges. The work must not
    depend on ``known``: every statement's quotients are computed first, for all branches
    alike. ``recurring``: the bases after g recur from proof to proof (the election key),
    worth a table of their multiples (``fast.power``).
    """
    statements = [
        [v.element / g_small_power(v.m) if isinstance(v, Quotient) else v for v in values]
        for values in statements
    ]
    commitments: list[GroupElement] = []
    simulated: dict[int, Proof] = {}
    w = random_scalar(rng)
    for j, values in enumerate(statements):
        if j == known:
            commitments.extend(power(base, w) if recurring else base**w for base in bases)
        else:
            proof = Proof(random_scalar(rng), random_scalar(rng))
            simulated[j] = proof
            commitments.extend(_commitments(bases, values, proof, secret=True))
    challenge = (
        hash_to_scalar(prefix, commitments) - sum(p.challenge for p in simulated.values())
    ) % Q
    real = Proof(challenge, (w - secret * challenge) % Q)
    return [real if j == known else simulated[j] for j in range(len(statements))]


def verify_or(
    check: str,
    prefix: str,
    bases: Sequence[GroupElement],
    statements: Sequence[Statement],
    proofs: Sequence[Proof],
    *,
    recurring: bool = False,
) -> None:
    """Raise ``InvalidProof(check)`` unless ``proofs`` prove one of ``statements``
    (``recurring``: as for ``prove_or``)."""
    if len(proofs) != len(statements):
        raise InvalidProof(check, f"{len(proofs)} proofs for {len(statements)} statements")
    commitments: list[GroupElement] = []
    for values, proof in zip(statements, proofs, strict=True):
        commitments.extend(_commitments(bases, values, proof, recurring=recurring))
    if hash_to_scalar(prefix, commitments) != sum(p.challenge for p in proofs) % Q:
        raise InvalidProof(check, "the challenges do not match the hash of the commitments")


def _commitments(
    bases: Sequence[GroupElement],
    values: Statement,
    proof: Proof,
    *,
    secret: bool = False,
    recurring: bool = False,
) -> list[GroupElement]:
    """The commitments base^response · value^challenge that an honest proof reproduces
    (one two-base multiplication each: ``fast``, byte-identical to ``base**r * value**c``).

    ``secret``: when proving, in constant time. The simulated branches' responses and challenges
    are published, but *which* branches are simulated is the voter's choice: a variable-time
    multiplication on them would let the time taken tell it."""
    commitments = []
    for base, value in zip(bases, values, strict=True):
        element, shift = (value.element, value.m) if isinstance(value, Quotient) else (value, 0)
        commitments.append(
            power_product(
                base,
                proof.response,
                element,
                proof.challenge,
                secret=secret,
                shift=shift,
                recurring=recurring,
            )
        )
    return commitments


def _single(check: str, prefix: str, public: GroupElement, proof: Proof) -> None:
    verify_or(check, prefix, (g,), ((public,),), (proof,))


# -- knowledge of a trustee's key (specification §"Verification keys") ---------------------------


def _pok_prefix(public_key: GroupElement) -> str:
    return f"pok|{GROUP_NAME}|{public_key}|"


def prove_knowledge(secret: int, *, rng: Rng = secrets.randbelow) -> Proof:
    """The ``pok`` of a trustee's private key x for X = g^x."""
    public_key = g**secret
    return prove_or(_pok_prefix(public_key), (g,), ((public_key,),), 0, secret, rng=rng)[0]


def verify_knowledge(public_key: GroupElement, proof: Proof, *, check: str = "pok") -> None:
    _single(check, _pok_prefix(public_key), public_key, proof)


# -- Schnorr signatures: the trustees' PKI (§"Signing") and ballots (§"Signatures") -------------


def sign_message(message: str, signing_key: int, *, rng: Rng = secrets.randbelow) -> Proof:
    """Sign ``message`` with a PKI signing key (challenge over ``sigmsg|M|A``)."""
    vk = g**signing_key
    return prove_or(f"sigmsg|{message}|", (g,), ((vk,),), 0, signing_key, rng=rng)[0]


def verify_message_signature(
    message: str, verification_key: GroupElement, proof: Proof, *, check: str = "signature"
) -> None:
    _single(check, f"sigmsg|{message}|", verification_key, proof)


def sign_ballot_hash(
    ballot_hash: str, credential_secret: int, *, rng: Rng = secrets.randbelow
) -> Proof:
    """The ballot's signature with the voter's credential (challenge over ``sig|hash|A``)."""
    credential = g**credential_secret
    return prove_or(f"sig|{ballot_hash}|", (g,), ((credential,),), 0, credential_secret, rng=rng)[0]


def verify_ballot_signature(
    ballot_hash: str, credential: GroupElement, proof: Proof, *, check: str = "ballot.signature"
) -> None:
    _single(check, f"sig|{ballot_hash}|", credential, proof)


# -- partial decryptions (§"Partial decryptions") -----------------------------------------------


def _decrypt_prefix(election_hash: str, public_key: GroupElement) -> str:
    return f"decrypt|{election_hash}|{public_key}|"


def prove_decryption(
    election_hash: str,
    secret: int,
    alpha: GroupElement,
    *,
    rng: Rng = secrets.randbelow,
) -> tuple[GroupElement, Proof]:
    """The decryption factor α^x and the proof that it uses the same x as X = g^x."""
    public_key, factor = g**secret, alpha**secret
    proof = prove_or(
        _decrypt_prefix(election_hash, public_key),
        (g, alpha),
        ((public_key, factor),),
        0,
        secret,
        rng=rng,
    )[0]
    return factor, proof


def verify_decryption(
    election_hash: str,
    public_key: GroupElement,
    alpha: GroupElement,
    factor: GroupElement,
    proof: Proof,
    *,
    check: str = "decryption.proof",
) -> None:
    verify_or(
        check,
        _decrypt_prefix(election_hash, public_key),
        (g, alpha),
        ((public_key, factor),),
        (proof,),
    )


# -- proofs about encrypted answers (§"Proofs of interval membership", "possibly-blank") -------


def _interval_statements(
    ciphertext: Ciphertext, values: Sequence[int]
) -> list[tuple[GroupElement, GroupElement | Quotient]]:
    beta = ciphertext.beta
    return [(ciphertext.alpha, beta if m == 0 else Quotient(beta, m)) for m in values]


def _interval_prefix(context: str, ciphertext: Ciphertext) -> str:
    return f"prove|{context}|{ciphertext.alpha},{ciphertext.beta}|"


def prove_interval(
    context: str,
    public_key: GroupElement,
    ciphertext: Ciphertext,
    nonce: int,
    index: int,
    values: Sequence[int],
    *,
    rng: Rng = secrets.randbelow,
) -> list[Proof]:
    """``iprove(S, r, index, M_0..M_k)``: the ciphertext encrypts ``values[index]``."""
    return prove_or(
        _interval_prefix(context, ciphertext),
        (g, public_key),
        _interval_statements(ciphertext, values),
        index,
        nonce,
        rng=rng,
        recurring=True,
    )


def verify_interval(
    check: str,
    context: str,
    public_key: GroupElement,
    ciphertext: Ciphertext,
    values: Sequence[int],
    proofs: Sequence[Proof],
) -> None:
    verify_or(
        check,
        _interval_prefix(context, ciphertext),
        (g, public_key),
        _interval_statements(ciphertext, values),
        proofs,
        recurring=True,
    )


def prove_blank(
    context: str,
    public_key: GroupElement,
    is_blank: Ciphertext,
    total: Ciphertext,
    blank: bool,
    nonce: int,
    *,
    rng: Rng = secrets.randbelow,
) -> list[Proof]:
    """``blank_proof``: m0 = 0 or mΣ = 0. The nonce is r0 for a vote, rΣ for a blank vote."""
    statements = ((is_blank.alpha, is_blank.beta), (total.alpha, total.beta))
    return prove_or(
        f"bproof0|{context}|",
        (g, public_key),
        statements,
        1 if blank else 0,
        nonce,
        rng=rng,
        recurring=True,
    )


def verify_blank(
    context: str,
    public_key: GroupElement,
    is_blank: Ciphertext,
    total: Ciphertext,
    proofs: Sequence[Proof],
) -> None:
    statements = ((is_blank.alpha, is_blank.beta), (total.alpha, total.beta))
    verify_or(
        "ballot.blank_proof",
        f"bproof0|{context}|",
        (g, public_key),
        statements,
        proofs,
        recurring=True,
    )


def _overall_blank_statements(
    is_blank: Ciphertext, total: Ciphertext, values: Sequence[int]
) -> list[tuple[GroupElement, GroupElement | Quotient]]:
    return [(is_blank.alpha, Quotient(is_blank.beta, 1)), *_interval_statements(total, values)]


def prove_overall_blank(
    context: str,
    public_key: GroupElement,
    is_blank: Ciphertext,
    total: Ciphertext,
    values: Sequence[int],
    known: int,
    nonce: int,
    *,
    rng: Rng = secrets.randbelow,
) -> list[Proof]:
    """``overall_proof`` with blank allowed: m0 = 1 or mΣ ∈ values.

    ``known`` is 0 for a blank vote (nonce r0), else 1 + the index of mΣ in values (nonce rΣ).
    """
    return prove_or(
        f"bproof1|{context}|",
        (g, public_key),
        _overall_blank_statements(is_blank, total, values),
        known,
        nonce,
        rng=rng,
        recurring=True,
    )


def verify_overall_blank(
    context: str,
    public_key: GroupElement,
    is_blank: Ciphertext,
    total: Ciphertext,
    values: Sequence[int],
    proofs: Sequence[Proof],
) -> None:
    verify_or(
        "ballot.overall_proof",
        f"bproof1|{context}|",
        (g, public_key),
        _overall_blank_statements(is_blank, total, values),
        proofs,
        recurring=True,
    )
