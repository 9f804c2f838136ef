"""Vectors for every proof and signature (``tests/vectors/proofs.json``,
``tests/vectors/signatures.json``): valid cases verify and, when they carry their nonces,
are recomputed exactly; each invalid case fails with the check it names. Every test runs on
both group arithmetics (libdecaf's fast path and libsodium's plain one, ``crypto/fast.py``),
so each vector passes or fails identically on both."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from unionvote.crypto import fast
from unionvote.crypto.elgamal import Ciphertext, encrypt_with_nonce
from unionvote.crypto.errors import InvalidProof
from unionvote.crypto.group import GroupElement, g
from unionvote.crypto.proofs import (
    Proof,
    prove_blank,
    prove_decryption,
    prove_interval,
    prove_knowledge,
    prove_overall_blank,
    sign_ballot_hash,
    sign_message,
    verify_ballot_signature,
    verify_blank,
    verify_decryption,
    verify_interval,
    verify_knowledge,
    verify_message_signature,
    verify_overall_blank,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
PROOFS = json.loads((VECTORS / "proofs.json").read_text(encoding="utf-8"))
SIGNATURES = json.loads((VECTORS / "signatures.json").read_text(encoding="utf-8"))


ARITHMETICS = ["libdecaf", "libsodium"] if fast.arithmetic() == "libdecaf" else ["libsodium"]


@pytest.fixture(autouse=True, params=ARITHMETICS)
def arithmetic(request: pytest.FixtureRequest) -> Iterator[str]:
    fast.set_enabled(request.param == "libdecaf")
    assert fast.arithmetic() == request.param
    yield request.param
    fast.set_enabled(None)


class Replay:
    """An rng that hands out a vector's recorded nonces, in order, and checks they all go."""

    def __init__(self, draws: Sequence[str]) -> None:
        self._draws = [int(d) for d in draws]
        self._next = 0

    def __call__(self, bound: int) -> int:
        value = self._draws[self._next]
        self._next += 1
        assert 0 <= value < bound
        return value

    def finished(self) -> bool:
        return self._next == len(self._draws)


def point(text: str) -> GroupElement:
    return GroupElement.from_string(text)


def ciphertext(obj: dict[str, str]) -> Ciphertext:
    return Ciphertext(point(obj["alpha"]), point(obj["beta"]))


def proof(obj: dict[str, str]) -> Proof:
    return Proof.from_json(obj)


def proofs(objs: list[dict[str, str]]) -> list[Proof]:
    return [proof(p) for p in objs]


def name_of(case: dict[str, Any]) -> str:
    return str(case.get("name") or case.get("source"))[:80]


def verify(case: dict[str, Any]) -> None:
    """Run the verifier the case is about; raises ``InvalidProof`` if it fails."""
    kind = case["kind"]
    if kind == "pok":
        verify_knowledge(point(case["public_key"]), proof(case["proof"]))
    elif kind == "decryption":
        verify_decryption(
            case["election_hash"],
            point(case["public_key"]),
            point(case["alpha"]),
            point(case["factor"]),
            proof(case["proof"]),
        )
    elif kind == "interval":
        verify_interval(
            case["check"],
            case["context"],
            point(case["public_key"]),
            ciphertext(case["ciphertext"]),
            case["values"],
            proofs(case["proofs"]),
        )
    elif kind == "blank":
        verify_blank(
            case["context"],
            point(case["public_key"]),
            ciphertext(case["is_blank"]),
            ciphertext(case["total"]),
            proofs(case["proofs"]),
        )
    elif kind == "overall_blank":
        verify_overall_blank(
            case["context"],
            point(case["public_key"]),
            ciphertext(case["is_blank"]),
            ciphertext(case["total"]),
            case["values"],
            proofs(case["proofs"]),
        )
    else:  # pragma: no cover - a vector file this test does not know
        raise AssertionError(f"unknown kind {kind}")


def recompute(case: dict[str, Any]) -> None:
    """Make the proof again from the case's inputs and nonces; it must be the stored one."""
    rng = Replay(case["nonces"])
    kind = case["kind"]
    y = point(case["public_key"])
    if kind == "pok":
        secret = int(case["secret"])
        assert str(g**secret) == case["public_key"]
        assert prove_knowledge(secret, rng=rng).to_json() == case["proof"]
    elif kind == "decryption":
        secret = int(case["secret"])
        factor, made = prove_decryption(
            case["election_hash"], secret, point(case["alpha"]), rng=rng
        )
        assert str(factor) == case["factor"]
        assert made.to_json() == case["proof"]
    elif kind == "interval":
        c = encrypt_with_nonce(case["plaintext"], y, int(case["nonce"]))
        assert c.to_json() == case["ciphertext"]
        made_list = prove_interval(
            case["context"], y, c, int(case["nonce"]), case["index"], case["values"], rng=rng
        )
        assert [p.to_json() for p in made_list] == case["proofs"]
    else:
        flag = encrypt_with_nonce(case["is_blank_plaintext"], y, int(case["is_blank_nonce"]))
        total = encrypt_with_nonce(case["total_plaintext"], y, int(case["total_nonce"]))
        assert flag.to_json() == case["is_blank"]
        assert total.to_json() == case["total"]
        blank = case["is_blank_plaintext"] == 1
        if kind == "blank":
            nonce = case["total_nonce"] if blank else case["is_blank_nonce"]
            made_list = prove_blank(
                case["context"], y, flag, total, case["blank"], int(nonce), rng=rng
            )
        else:
            nonce = case["is_blank_nonce"] if blank else case["total_nonce"]
            made_list = prove_overall_blank(
                case["context"], y, flag, total, case["values"], case["known"], int(nonce), rng=rng
            )
        assert [p.to_json() for p in made_list] == case["proofs"]
    assert rng.finished()


@pytest.mark.parametrize("case", PROOFS["valid"], ids=name_of)
def test_valid_proof_vector_verifies(case: dict[str, Any]) -> None:
    verify(case)


@pytest.mark.parametrize("case", [c for c in PROOFS["valid"] if "nonces" in c], ids=name_of)
def test_valid_proof_vector_is_recomputed(case: dict[str, Any]) -> None:
    recompute(case)


@pytest.mark.parametrize("case", PROOFS["invalid"], ids=name_of)
def test_invalid_proof_vector_fails_its_check(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidProof) as raised:
        verify(case)
    assert raised.value.check == case["check"]


def test_proof_vectors_cover_every_kind_from_both_sources() -> None:
    kinds = {"pok", "decryption", "interval", "blank", "overall_blank"}
    for source in ("unionvote", "belenios-tool"):
        found = {c["kind"] for c in PROOFS["valid"] if c["source"].startswith(source)}
        assert found == kinds, source
    assert {c["kind"] for c in PROOFS["invalid"]} == kinds


# -- signatures ----------------------------------------------------------------------------------


def verify_signature(case: dict[str, Any]) -> None:
    signature = proof(case["signature"])
    if case["kind"] == "sigmsg":
        verify_message_signature(case["message"], point(case["verification_key"]), signature)
    else:
        verify_ballot_signature(case["hash"], point(case["credential"]), signature)


@pytest.mark.parametrize("case", SIGNATURES["valid"], ids=name_of)
def test_valid_signature_vector_verifies(case: dict[str, Any]) -> None:
    verify_signature(case)


@pytest.mark.parametrize("case", [c for c in SIGNATURES["valid"] if "nonces" in c], ids=name_of)
def test_valid_signature_vector_is_recomputed(case: dict[str, Any]) -> None:
    rng = Replay(case["nonces"])
    if case["kind"] == "sigmsg":
        key = int(case["signing_key"])
        assert str(g**key) == case["verification_key"]
        made = sign_message(case["message"], key, rng=rng)
    else:
        key = int(case["credential_secret"])
        assert str(g**key) == case["credential"]
        made = sign_ballot_hash(case["hash"], key, rng=rng)
    assert made.to_json() == case["signature"]
    assert rng.finished()


@pytest.mark.parametrize("case", SIGNATURES["invalid"], ids=name_of)
def test_invalid_signature_vector_fails_its_check(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidProof) as raised:
        verify_signature(case)
    assert raised.value.check == case["check"]


def test_signature_vectors_include_belenios_signatures() -> None:
    sources = [c["source"] for c in SIGNATURES["valid"]]
    assert any("threshold.bel (certificate" in s for s in sources)
    assert any("single.bel (ballot" in s for s in sources)
    for vectors in (PROOFS, SIGNATURES):
        assert "scripts/make_vectors.py" in vectors["provenance"]
        assert "belenios-tool 3.0" in vectors["provenance"]
