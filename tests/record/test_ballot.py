"""Ballots (``tests/vectors/ballots.json``): ours are remade exactly from their inputs, every
valid ballot passes ``check_ballot`` and decrypts to its plaintext, every tampered one fails
the check it names; and the booth's law: an honest ballot is always accepted."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.crypto.errors import CryptoError, InvalidProof
from unionvote.crypto.group import GroupElement, Q, g
from unionvote.crypto.proofs import sign_ballot_hash
from unionvote.record.ballot import check_ballot, make_ballot
from unionvote.record.messages import Ballot, Election, Question

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "belenios"
BALLOTS = json.loads((VECTORS / "ballots.json").read_text(encoding="utf-8"))
OURS = [c for c in BALLOTS["valid"] if c["source"] == "unionvote"]


def name_of(case: dict[str, Any]) -> str:
    return str(case["name"])


def election_of(case: dict[str, Any]) -> tuple[Election, str]:
    election = Election.from_json(case["election"])
    assert compact_json(election.to_json()) == compact_json(case["election"])
    phi = sha256_b64(compact_json(case["election"]))
    assert phi == case["election_hash"]
    return election, phi


def decrypt_bit(c: Ciphertext, secret: int) -> int:
    m = c.beta / c.alpha**secret
    assert m in (g**0, g), "not a 0/1 choice"
    return 0 if m == g**0 else 1


@pytest.mark.parametrize("case", BALLOTS["valid"], ids=name_of)
def test_valid_ballot_is_accepted(case: dict[str, Any]) -> None:
    election, phi = election_of(case)
    ballot = Ballot.from_json(case["ballot"])
    assert ballot.to_bytes() == compact_json(case["ballot"])
    assert ballot.tracker == case["tracker"]
    check_ballot(election, phi, ballot)


@pytest.mark.parametrize("case", OURS, ids=name_of)
def test_ballot_is_remade_from_its_inputs(case: dict[str, Any]) -> None:
    election, phi = election_of(case)
    credential = PrivateCredential(case["credential"])
    ballot = make_ballot(
        election, phi, credential, case["plaintext"], rng=random.Random(case["seed"]).randrange
    )
    assert ballot.to_json() == case["ballot"]
    assert ballot.tracker == case["tracker"]


@pytest.mark.parametrize("case", OURS, ids=name_of)
def test_ballot_nonces_are_what_the_seed_draws(case: dict[str, Any]) -> None:
    draws = random.Random(case["seed"])
    assert [str(draws.randrange(Q)) for _ in case["nonces"]] == case["nonces"]


@pytest.mark.parametrize("case", OURS, ids=name_of)
def test_ballot_decrypts_to_its_plaintext(case: dict[str, Any]) -> None:
    election, _ = election_of(case)
    secret = int(case["election_private_key_TEST_ONLY"])
    assert g**secret == election.public_key
    ballot = Ballot.from_json(case["ballot"])
    for question, answer, choices in zip(
        election.questions, ballot.answers, case["plaintext"], strict=True
    ):
        bits = [decrypt_bit(c, secret) for c in answer.choices]
        flag = [1 if sum(choices) == 0 else 0] if question.blank else []
        assert bits == flag + choices


def test_belenios_ballots_decrypt_to_votes_txt() -> None:
    """single.bel has one trustee whose private key is a TEST-ONLY fixture."""
    secret = int(json.loads(next((FIXTURES / "single").glob("*.privkey")).read_text()))
    cases = [c for c in BALLOTS["valid"] if "single.bel" in c["source"]]
    assert cases
    for case in cases:
        ballot = Ballot.from_json(case["ballot"])
        bits = [[decrypt_bit(c, secret) for c in a.choices] for a in ballot.answers]
        assert bits == case["plaintext_with_blank_flag"]


@pytest.mark.parametrize("case", BALLOTS["invalid"], ids=name_of)
def test_tampered_ballot_fails_its_check(case: dict[str, Any]) -> None:
    election, phi = election_of(case)
    with pytest.raises(CryptoError) as raised:
        check_ballot(election, phi, Ballot.from_json(case["ballot"]))
    assert raised.value.check == case["check"]


def test_ballot_vectors_cover_every_check() -> None:
    checks = {c["check"] for c in BALLOTS["invalid"]}
    for needed in (
        "ballot.election",
        "ballot.shape",
        "ballot.signature",
        "ballot.individual_proof",
        "ballot.overall_proof",
        "ballot.blank_proof",
    ):
        assert needed in checks
    sources = " ".join(c["source"] for c in BALLOTS["valid"])
    for record in ("single.bel", "threshold.bel", "weighted.bel"):
        assert record in sources
    assert any(c["plaintext"] == [[0, 0], [0, 0, 0, 0]] for c in OURS), "a blank vote"
    assert "belenios-tool 3.0" in BALLOTS["provenance"]


def test_ballot_for_another_election_is_refused() -> None:
    case = BALLOTS["valid"][0]
    election, phi = election_of(case)
    ballot = Ballot.from_json(case["ballot"])
    with pytest.raises(InvalidProof) as raised:
        check_ballot(election, phi[::-1], ballot)
    assert raised.value.check == "ballot.election"


def test_make_ballot_refuses_a_wrong_number_of_answers() -> None:
    case = OURS[0]
    election, phi = election_of(case)
    credential = PrivateCredential.generate(random.Random(1).randrange)
    with pytest.raises(CryptoError):
        make_ballot(election, phi, credential, [], rng=random.Random(2).randrange)


# -- the booth's law: honest ballots are accepted -------------------------------------------------

ELECTION = Election(
    "AbCdEfGhJkLmNp",
    "Propriétés",
    "Élection de test",
    g**123456789,
    (
        Question("Blanc permis", ("Oui", "Non", "Peut-être"), 1, 2, blank=True),
        Question("De 0 à 2", ("A", "B", "C"), 0, 2),
    ),
)
PHI = sha256_b64(compact_json(ELECTION.to_json()))


@st.composite
def plaintexts(draw: st.DrawFn) -> list[list[int]]:
    answers = []
    for question in ELECTION.questions:
        n = len(question.answers)
        low = 0 if question.blank else question.min
        count = draw(st.integers(min_value=low, max_value=question.max))
        chosen = draw(st.permutations(range(n)))[:count]
        answers.append([1 if i in chosen else 0 for i in range(n)])
    return answers


@settings(max_examples=20, deadline=None)
@given(plaintexts(), st.integers(min_value=0, max_value=2**32))
def test_honest_ballots_are_accepted(plaintext: list[list[int]], seed: int) -> None:
    rng = random.Random(seed).randrange
    credential = PrivateCredential.generate(rng)
    ballot = make_ballot(ELECTION, PHI, credential, plaintext, rng=rng)
    check_ballot(ELECTION, PHI, ballot)
    assert ballot.credential == credential.public(ELECTION.uuid).key
    parsed = Ballot.from_json(json.loads(ballot.to_bytes()))
    assert parsed.tracker == ballot.tracker


@settings(max_examples=20, deadline=None)
@given(plaintexts(), st.integers(min_value=0, max_value=2**32), st.data())
def test_a_ballot_altered_anywhere_is_refused(
    plaintext: list[list[int]], seed: int, data: st.DataObject
) -> None:
    """Changing one ciphertext component, even with the signature made again, is caught."""
    rng = random.Random(seed).randrange
    credential = PrivateCredential.generate(rng)
    ballot = make_ballot(ELECTION, PHI, credential, plaintext, rng=rng)
    obj = ballot.to_json()
    question = data.draw(st.integers(0, len(obj["answers"]) - 1), label="question")
    choices = obj["answers"][question]["choices"]
    choice = data.draw(st.integers(0, len(choices) - 1), label="choice")
    field = data.draw(st.sampled_from(["alpha", "beta"]), label="field")
    choices[choice][field] = str(GroupElement.from_string(choices[choice][field]) * g)
    with pytest.raises(InvalidProof) as raised:
        check_ballot(ELECTION, PHI, Ballot.from_json(obj))
    assert raised.value.check == "ballot.signature"
    unsigned = {k: v for k, v in obj.items() if k != "signature"}
    ballot_hash = sha256_b64(compact_json(unsigned))
    signature = sign_ballot_hash(ballot_hash, credential.secret(ELECTION.uuid), rng=rng)
    obj["signature"] = {"hash": ballot_hash, "proof": signature.to_json()}
    with pytest.raises(InvalidProof) as raised:
        check_ballot(ELECTION, PHI, Ballot.from_json(obj))
    assert raised.value.check == "ballot.individual_proof"
