"""Laws of the proofs: an honest proof verifies, for any allowed choice, with and without blank
votes; changing any one field (a challenge, a response, a ciphertext component, the context)
makes it fail with the check the verifier was given."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.answers import (
    EncryptedAnswer,
    QuestionShape,
    check_answer,
    encrypt_answer,
)
from unionvote.crypto.elgamal import Ciphertext, encrypt_with_nonce
from unionvote.crypto.errors import EncodingError, InvalidProof
from unionvote.crypto.group import Q, g
from unionvote.crypto.proofs import (
    Proof,
    prove_decryption,
    prove_interval,
    prove_knowledge,
    sign_message,
    verify_decryption,
    verify_interval,
    verify_knowledge,
    verify_message_signature,
)

SETTINGS = settings(max_examples=20, deadline=None)
SECRETS = st.integers(min_value=1, max_value=Q - 1)
SEEDS = st.integers(min_value=0, max_value=2**32)
Y = g**987654321
S0 = "phi|credential"


def rng_of(seed: int) -> Callable[[int], int]:
    return random.Random(seed).randrange


def plus_one(proof: Proof, field: str) -> Proof:
    return replace(proof, **{field: (getattr(proof, field) + 1) % Q})


@st.composite
def shapes_and_choices(draw: st.DrawFn) -> tuple[QuestionShape, list[int]]:
    answers = draw(st.integers(1, 4))
    low = draw(st.integers(0, answers))
    high = draw(st.integers(low, answers))
    blank = draw(st.booleans())
    shape = QuestionShape(answers, low, high, blank)
    count = draw(st.integers(0 if blank else low, high))
    if count < low:
        count = 0  # a blank vote
    chosen = set(draw(st.permutations(range(answers)))[:count])
    return shape, [1 if i in chosen else 0 for i in range(answers)]


# -- completeness -------------------------------------------------------------------------------


@SETTINGS
@given(shapes_and_choices(), SEEDS)
def test_honest_answers_verify(case: tuple[QuestionShape, list[int]], seed: int) -> None:
    shape, choices = case
    answer = encrypt_answer(shape, S0, Y, choices, rng=rng_of(seed))
    check_answer(shape, S0, Y, answer)
    assert len(answer.choices) == shape.ciphertexts
    assert (answer.blank_proof is not None) == shape.blank
    assert EncryptedAnswer.from_json(answer.to_json()) == answer


@SETTINGS
@given(SECRETS, SEEDS)
def test_honest_pok_and_signature_verify(x: int, seed: int) -> None:
    verify_knowledge(g**x, prove_knowledge(x, rng=rng_of(seed)))
    verify_message_signature("m", g**x, sign_message("m", x, rng=rng_of(seed)))


@SETTINGS
@given(SECRETS, SECRETS, SEEDS)
def test_honest_decryption_proofs_verify(x: int, r: int, seed: int) -> None:
    alpha = g**r
    factor, proof = prove_decryption("phi", x, alpha, rng=rng_of(seed))
    assert factor == alpha**x
    verify_decryption("phi", g**x, alpha, factor, proof)


@SETTINGS
@given(st.integers(0, 5), st.integers(0, 5), SECRETS, SEEDS, st.data())
def test_honest_interval_proofs_verify(
    low: int, width: int, r: int, seed: int, data: st.DataObject
) -> None:
    values = list(range(low, low + width + 1))
    m = data.draw(st.sampled_from(values))
    c = encrypt_with_nonce(m, Y, r)
    proofs = prove_interval("S", Y, c, r, values.index(m), values, rng=rng_of(seed))
    verify_interval("check", "S", Y, c, values, proofs)


def test_plaintexts_out_of_bounds_are_not_encrypted() -> None:
    shape = QuestionShape(3, 1, 2)
    for choices in ([0, 0, 0], [1, 1, 1], [2, 0, 0], [1, 0]):
        with pytest.raises(EncodingError) as raised:
            encrypt_answer(shape, S0, Y, choices, rng=rng_of(1))
        assert raised.value.check == "choices"
    with pytest.raises(EncodingError):
        QuestionShape(2, 2, 1)


# -- soundness: one changed field ---------------------------------------------------------------


def mutations(answer: EncryptedAnswer) -> list[tuple[str, EncryptedAnswer, str]]:
    """(what, altered answer, the check that must fail) for every field of the answer."""
    out: list[tuple[str, EncryptedAnswer, str]] = []
    for i, c in enumerate(answer.choices):
        for part in ("alpha", "beta"):
            changed = replace(c, **{part: getattr(c, part) * g})
            choices = (*answer.choices[:i], changed, *answer.choices[i + 1 :])
            out.append(
                (f"choice {i} {part}", replace(answer, choices=choices), "ballot.individual_proof")
            )
    for i, proofs in enumerate(answer.individual_proofs):
        for j, proof in enumerate(proofs):
            for field in ("challenge", "response"):
                new = (*proofs[:j], plus_one(proof, field), *proofs[j + 1 :])
                individual = (
                    *answer.individual_proofs[:i],
                    new,
                    *answer.individual_proofs[i + 1 :],
                )
                out.append(
                    (
                        f"individual {i}.{j} {field}",
                        replace(answer, individual_proofs=individual),
                        "ballot.individual_proof",
                    )
                )
    for j, proof in enumerate(answer.overall_proof):
        for field in ("challenge", "response"):
            overall = (
                *answer.overall_proof[:j],
                plus_one(proof, field),
                *answer.overall_proof[j + 1 :],
            )
            out.append(
                (
                    f"overall {j} {field}",
                    replace(answer, overall_proof=overall),
                    "ballot.overall_proof",
                )
            )
    if answer.blank_proof is not None:
        for j, proof in enumerate(answer.blank_proof):
            for field in ("challenge", "response"):
                blank = (
                    *answer.blank_proof[:j],
                    plus_one(proof, field),
                    *answer.blank_proof[j + 1 :],
                )
                out.append(
                    (f"blank {j} {field}", replace(answer, blank_proof=blank), "ballot.blank_proof")
                )
    return out


@SETTINGS
@given(shapes_and_choices(), SEEDS, st.data())
def test_changing_any_one_field_fails(
    case: tuple[QuestionShape, list[int]], seed: int, data: st.DataObject
) -> None:
    shape, choices = case
    answer = encrypt_answer(shape, S0, Y, choices, rng=rng_of(seed))
    what, altered, check = data.draw(st.sampled_from(mutations(answer)), label="mutation")
    with pytest.raises(InvalidProof) as raised:
        check_answer(shape, S0, Y, altered)
    assert raised.value.check == check, what


@SETTINGS
@given(shapes_and_choices(), SEEDS)
def test_an_answer_is_bound_to_its_context_and_key(
    case: tuple[QuestionShape, list[int]], seed: int
) -> None:
    shape, choices = case
    answer = encrypt_answer(shape, S0, Y, choices, rng=rng_of(seed))
    for context, key in ((S0 + "x", Y), (S0, Y * g)):
        with pytest.raises(InvalidProof) as raised:
            check_answer(shape, context, key, answer)
        assert raised.value.check == "ballot.individual_proof"


@SETTINGS
@given(shapes_and_choices(), SEEDS)
def test_an_answer_does_not_fit_another_shape(
    case: tuple[QuestionShape, list[int]], seed: int
) -> None:
    shape, choices = case
    answer = encrypt_answer(shape, S0, Y, choices, rng=rng_of(seed))
    other = QuestionShape(shape.answers, shape.min, shape.max, not shape.blank)
    with pytest.raises(InvalidProof) as raised:
        check_answer(other, S0, Y, answer)
    assert raised.value.check == "ballot.shape"


@SETTINGS
@given(SECRETS, SECRETS, SEEDS, st.sampled_from(["challenge", "response"]))
def test_a_changed_decryption_proof_fails(x: int, r: int, seed: int, field: str) -> None:
    alpha = g**r
    factor, proof = prove_decryption("phi", x, alpha, rng=rng_of(seed))
    for args in (
        (g**x, alpha, factor, plus_one(proof, field)),
        (g**x, alpha, factor * g, proof),
        (g**x * g, alpha, factor, proof),
        (g**x, alpha * g, factor, proof),
    ):
        with pytest.raises(InvalidProof) as raised:
            verify_decryption("phi", *args)
        assert raised.value.check == "decryption.proof"


@SETTINGS
@given(SECRETS, SEEDS, st.sampled_from(["challenge", "response"]))
def test_a_changed_pok_or_signature_fails(x: int, seed: int, field: str) -> None:
    pok = prove_knowledge(x, rng=rng_of(seed))
    with pytest.raises(InvalidProof) as raised:
        verify_knowledge(g**x, plus_one(pok, field))
    assert raised.value.check == "pok"
    signature = sign_message("m", x, rng=rng_of(seed))
    for message, key, sig in (
        ("m", g**x, plus_one(signature, field)),
        ("n", g**x, signature),
        ("m", g**x * g, signature),
    ):
        with pytest.raises(InvalidProof) as raised:
            verify_message_signature(message, key, sig)
        assert raised.value.check == "signature"


def test_a_proof_with_the_wrong_number_of_branches_fails() -> None:
    c = encrypt_with_nonce(1, Y, 5)
    proofs = prove_interval("S", Y, c, 5, 1, [0, 1], rng=rng_of(3))
    with pytest.raises(InvalidProof):
        verify_interval("x", "S", Y, c, [0, 1, 2], proofs)
    with pytest.raises(InvalidProof):
        verify_interval("x", "S", Y, c, [0, 1], proofs[:1])


def test_a_ciphertext_of_two_has_no_0_or_1_proof() -> None:
    """A cheating prover that claims index 1 for a 2 makes a proof that does not verify."""
    c = encrypt_with_nonce(2, Y, 5)
    proofs = prove_interval("S", Y, c, 5, 1, [0, 1], rng=rng_of(4))
    with pytest.raises(InvalidProof):
        verify_interval("x", "S", Y, c, [0, 1], proofs)
    assert Ciphertext(c.alpha, c.beta) == c
