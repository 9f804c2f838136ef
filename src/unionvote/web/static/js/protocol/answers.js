// Encrypted answers to homomorphic questions (specification §"Homomorphic answers"), as
// src/unionvote/crypto/answers.py.
//
// For a question with n answers the choices m_1..m_n ∈ {0, 1} are encrypted one by one, each
// with an individual proof that it is 0 or 1 (context S0 = φ|credential). The overall proof
// shows their sum is in [min, max] (context S = S0|α1,β1,…,αn,βn). When blank votes are
// allowed, a leading ciphertext m0 says whether the vote is blank; blank_proof shows m0 = 0 or
// mΣ = 0, and the overall proof shows m0 = 1 or mΣ ∈ [min, max].

import { Ciphertext, encryptWithNonce, product } from "./elgamal.js";
import { expectFields, parseList } from "./encoding.js";
import { EncodingError, InvalidProof } from "./errors.js";
import { randomScalar, scalarAdd } from "./group.js";
import {
  Proof,
  proveBlank,
  proveInterval,
  proveOverallBlank,
  verifyBlank,
  verifyInterval,
  verifyOverallBlank,
} from "./proofs.js";

const BITS = [0, 1];

const range = (min, max) => Array.from({ length: max - min + 1 }, (_, i) => min + i);

/** answer_h: the ciphertexts and their proofs. */
export class EncryptedAnswer {
  constructor(choices, individualProofs, overallProof, blankProof = null) {
    this.choices = choices;
    this.individualProofs = individualProofs;
    this.overallProof = overallProof;
    this.blankProof = blankProof;
  }

  toJson() {
    const obj = {
      choices: this.choices.map((c) => c.toJson()),
      individual_proofs: this.individualProofs.map((ps) => ps.map((p) => p.toJson())),
      overall_proof: this.overallProof.map((p) => p.toJson()),
    };
    if (this.blankProof !== null) obj.blank_proof = this.blankProof.map((p) => p.toJson());
    return obj;
  }

  static fromJson(obj) {
    const what = "ballot.answer";
    expectFields(obj, what, ["choices", "individual_proofs", "overall_proof"], ["blank_proof"]);
    const choices = parseList(obj.choices, what).map((c) => Ciphertext.fromJson(c));
    const individual = parseList(obj.individual_proofs, what).map((ps) =>
      parseList(ps, what).map((p) => Proof.fromJson(p)),
    );
    const overall = parseList(obj.overall_proof, what).map((p) => Proof.fromJson(p));
    const blank = "blank_proof" in obj ? parseList(obj.blank_proof, what).map((p) => Proof.fromJson(p)) : null;
    return new EncryptedAnswer(choices, individual, overall, blank);
  }
}

/** S = S0 | α1,β1,…,αn,βn */
export function answerContext(s0, choices) {
  return s0 + "|" + choices.map((c) => `${c.alpha},${c.beta}`).join(",");
}

/**
 * One question's plaintext as the bits to encrypt, one per ciphertext (the blank flag first
 * where blank votes are allowed). `choices` is either one 0/1 per answer (all zero is a blank
 * vote where allowed, as in Python's make_ballot) or, for a blank-allowed question, the blank
 * flag followed by one 0/1 per answer (as Belenios's booth and auditBallot write it).
 */
export function plaintextBits(question, choices) {
  const n = question.answers.length;
  if (!Array.isArray(choices) || choices.some((c) => c !== 0 && c !== 1)) {
    throw new EncodingError("choices", `expected ${n} choices of 0 or 1`);
  }
  let isBlank;
  let votes;
  if (question.blank && choices.length === n + 1) {
    isBlank = choices[0] === 1;
    votes = choices.slice(1);
  } else if (choices.length === n) {
    votes = choices;
    isBlank = question.blank && votes.every((c) => c === 0);
  } else {
    throw new EncodingError("choices", `expected ${n} choices of 0 or 1`);
  }
  const total = votes.reduce((a, b) => a + b, 0);
  if (isBlank ? total !== 0 : !(question.min <= total && total <= question.max)) {
    throw new EncodingError(
      "choices",
      isBlank
        ? "a blank vote selects no answer"
        : `select between ${question.min} and ${question.max} answers, not ${total}`,
    );
  }
  return question.blank ? [isBlank ? 1 : 0, ...votes] : [...votes];
}

/**
 * Encrypt one question's choices with every proof; `s0` is φ|credential. Returns the answer
 * and the nonces r of its ciphertexts (the randomness an audit reveals).
 */
export function encryptAnswer(question, s0, publicKey, choices, rng = randomScalar) {
  const bits = plaintextBits(question, choices);
  const nonces = bits.map(() => rng());
  const ciphertexts = bits.map((m, i) => encryptWithNonce(m, publicKey, nonces[i]));
  const individual = ciphertexts.map((c, i) => proveInterval(s0, publicKey, c, nonces[i], bits[i], BITS, rng));
  const context = answerContext(s0, ciphertexts);
  const values = range(question.min, question.max);
  const sumOf = (rs) => rs.reduce((a, b) => scalarAdd(a, b), 0n);
  if (!question.blank) {
    const total = bits.reduce((a, b) => a + b, 0);
    const overall = proveInterval(
      context,
      publicKey,
      product(ciphertexts),
      sumOf(nonces),
      total - question.min,
      values,
      rng,
    );
    return { answer: new EncryptedAnswer(ciphertexts, individual, overall), nonces };
  }
  const isBlank = bits[0] === 1;
  const flag = ciphertexts[0];
  const total = product(ciphertexts.slice(1));
  const r0 = nonces[0];
  const rSum = sumOf(nonces.slice(1));
  const blankProof = proveBlank(context, publicKey, flag, total, isBlank, isBlank ? rSum : r0, rng);
  const mSum = bits.slice(1).reduce((a, b) => a + b, 0);
  const overall = isBlank
    ? proveOverallBlank(context, publicKey, flag, total, values, 0, r0, rng)
    : proveOverallBlank(context, publicKey, flag, total, values, 1 + mSum - question.min, rSum, rng);
  return { answer: new EncryptedAnswer(ciphertexts, individual, overall, blankProof), nonces };
}

/** Throw InvalidProof (check ballot.*) unless every proof of the answer holds. */
export function checkAnswer(question, s0, publicKey, answer) {
  const n = question.ciphertexts;
  if (answer.choices.length !== n || answer.individualProofs.length !== n) {
    throw new InvalidProof("ballot.shape", `expected ${n} ciphertexts and individual proofs`);
  }
  if ((answer.blankProof !== null) !== question.blank) {
    throw new InvalidProof("ballot.shape", "a blank proof is required exactly when blank votes are allowed");
  }
  answer.choices.forEach((c, i) =>
    verifyInterval("ballot.individual_proof", s0, publicKey, c, BITS, answer.individualProofs[i]),
  );
  const context = answerContext(s0, answer.choices);
  const values = range(question.min, question.max);
  if (answer.blankProof === null) {
    verifyInterval("ballot.overall_proof", context, publicKey, product(answer.choices), values, answer.overallProof);
    return;
  }
  const flag = answer.choices[0];
  const total = product(answer.choices.slice(1));
  verifyBlank(context, publicKey, flag, total, answer.blankProof);
  verifyOverallBlank(context, publicKey, flag, total, values, answer.overallProof);
}
