// Zero-knowledge proofs and Schnorr signatures of Belenios (crypto version 1), as
// src/unionvote/crypto/proofs.py.
//
// Every proof of the specification is one shape: a Fiat–Shamir proof that the prover knows x
// with value_l = base_l ^ x for every l, for one of several statements, without saying which.
// What differs is the bases, the statements and the prefix hashed:
//   pok (trustee key)   g       X                                  "pok|Ed25519|X|"
//   signature (PKI)     g       vk                                 "sigmsg|M|"
//   signature (ballot)  g       credential                         "sig|H|"
//   decryption          g, α    X, α^x                             "decrypt|φ|X|"
//   interval (iprove)   g, y    (α, β/g^M_j) for each M_j          "prove|S|α,β|"
//   blank proof         g, y    (α0, β0), (αΣ, βΣ)                 "bproof0|S|"
//   overall (blank)     g, y    (α0, β0/g), (αΣ, βΣ/g^M_j)         "bproof1|S|"
// Responses are w − x·challenge mod q (Belenios's sign); the challenges sum to the hash.
//
// `rng` is a function returning a scalar (BigInt in [0, q)); by default libsodium's generator.
// Draw order (which the shared vectors record as `nonces`): w, then the challenge and the
// response of each simulated statement, in statement order.

import { EncodingError, InvalidProof } from "./errors.js";
import {
  GROUP_NAME,
  Q,
  g,
  gPower,
  hashToScalar,
  parseScalar,
  randomScalar,
  scalarAdd,
  scalarMul,
  scalarSub,
} from "./group.js";
import { isObject } from "./encoding.js";

/** The specification's proof: a challenge and a response, both in Z_q. */
export class Proof {
  constructor(challenge, response) {
    this.challenge = challenge;
    this.response = response;
  }

  toJson() {
    return { challenge: this.challenge.toString(), response: this.response.toString() };
  }

  static fromJson(obj) {
    const keys = isObject(obj) ? Object.keys(obj) : [];
    if (keys.length !== 2 || keys[0] !== "challenge" || keys[1] !== "response") {
      throw new EncodingError("proof", "expected {challenge, response}");
    }
    if (typeof obj.challenge !== "string" || typeof obj.response !== "string") {
      throw new EncodingError("proof", "challenge and response must be base-10 strings");
    }
    return new Proof(parseScalar(obj.challenge), parseScalar(obj.response));
  }
}

/** The commitments base^response · value^challenge that an honest proof reproduces. */
function commitments(bases, values, proof) {
  return bases.map((base, l) => base.pow(proof.response).mul(values[l].pow(proof.challenge)));
}

/** Prove statements[known][l] == bases[l]^secret for every l, hiding `known`. */
export function proveOr(prefix, bases, statements, known, secret, rng = randomScalar) {
  const committed = [];
  const proofs = [];
  const w = rng();
  let simulatedSum = 0n;
  statements.forEach((values, j) => {
    if (j === known) {
      committed.push(...bases.map((base) => base.pow(w)));
      proofs.push(null);
    } else {
      const proof = new Proof(rng(), rng());
      simulatedSum = scalarAdd(simulatedSum, proof.challenge);
      committed.push(...commitments(bases, values, proof));
      proofs.push(proof);
    }
  });
  const challenge = scalarSub(hashToScalar(prefix, committed), simulatedSum);
  proofs[known] = new Proof(challenge, scalarSub(w, scalarMul(secret, challenge)));
  return proofs;
}

/** Throw InvalidProof(check) unless `proofs` prove one of `statements`. */
export function verifyOr(check, prefix, bases, statements, proofs) {
  if (proofs.length !== statements.length) {
    throw new InvalidProof(check, `${proofs.length} proofs for ${statements.length} statements`);
  }
  const committed = [];
  let sum = 0n;
  statements.forEach((values, j) => {
    committed.push(...commitments(bases, values, proofs[j]));
    sum = scalarAdd(sum, proofs[j].challenge);
  });
  if (hashToScalar(prefix, committed) !== sum % Q) {
    throw new InvalidProof(check, "the challenges do not match the hash of the commitments");
  }
}

function verifySingle(check, prefix, publicKey, proof) {
  verifyOr(check, prefix, [g], [[publicKey]], [proof]);
}

// -- knowledge of a trustee's key (§"Verification keys") --------------------------------------

const pokPrefix = (publicKey) => `pok|${GROUP_NAME}|${publicKey}|`;

export function proveKnowledge(secret, rng = randomScalar) {
  const publicKey = g.pow(secret);
  return proveOr(pokPrefix(publicKey), [g], [[publicKey]], 0, secret, rng)[0];
}

export function verifyKnowledge(publicKey, proof, check = "pok") {
  verifySingle(check, pokPrefix(publicKey), publicKey, proof);
}

// -- Schnorr signatures: the trustees' PKI (§"Signing") and ballots (§"Signatures") -----------

export function signMessage(message, signingKey, rng = randomScalar) {
  const vk = g.pow(signingKey);
  return proveOr(`sigmsg|${message}|`, [g], [[vk]], 0, signingKey, rng)[0];
}

export function verifyMessageSignature(message, verificationKey, proof, check = "signature") {
  verifySingle(check, `sigmsg|${message}|`, verificationKey, proof);
}

/** The ballot's signature with the voter's credential: challenge over "sig|hash|A". */
export function signBallotHash(ballotHash, credentialSecret, rng = randomScalar) {
  const credential = g.pow(credentialSecret);
  return proveOr(`sig|${ballotHash}|`, [g], [[credential]], 0, credentialSecret, rng)[0];
}

export function verifyBallotSignature(ballotHash, credential, proof, check = "ballot.signature") {
  verifySingle(check, `sig|${ballotHash}|`, credential, proof);
}

// -- partial decryptions (§"Partial decryptions") ----------------------------------------------

const decryptPrefix = (electionHash, publicKey) => `decrypt|${electionHash}|${publicKey}|`;

/** The decryption factor α^x and the proof that it uses the same x as X = g^x. */
export function proveDecryption(electionHash, secret, alpha, rng = randomScalar) {
  const publicKey = g.pow(secret);
  const factor = alpha.pow(secret);
  const proof = proveOr(
    decryptPrefix(electionHash, publicKey),
    [g, alpha],
    [[publicKey, factor]],
    0,
    secret,
    rng,
  )[0];
  return { factor, proof };
}

export function verifyDecryption(electionHash, publicKey, alpha, factor, proof, check = "decryption.proof") {
  verifyOr(check, decryptPrefix(electionHash, publicKey), [g, alpha], [[publicKey, factor]], [proof]);
}

// -- proofs about encrypted answers (§"Proofs of interval membership", "possibly-blank") -----

function intervalStatements(ciphertext, values) {
  const { alpha, beta } = ciphertext;
  return values.map((m) => [alpha, m === 0 ? beta : beta.div(gPower(m))]);
}

const intervalPrefix = (context, c) => `prove|${context}|${c.alpha},${c.beta}|`;

/** iprove(S, r, index, M_0..M_k): the ciphertext encrypts values[index]. */
export function proveInterval(context, publicKey, ciphertext, nonce, index, values, rng = randomScalar) {
  return proveOr(
    intervalPrefix(context, ciphertext),
    [g, publicKey],
    intervalStatements(ciphertext, values),
    index,
    nonce,
    rng,
  );
}

export function verifyInterval(check, context, publicKey, ciphertext, values, proofs) {
  verifyOr(check, intervalPrefix(context, ciphertext), [g, publicKey], intervalStatements(ciphertext, values), proofs);
}

const blankStatements = (isBlank, total) => [
  [isBlank.alpha, isBlank.beta],
  [total.alpha, total.beta],
];

/** blank_proof: m0 = 0 or mΣ = 0. The nonce is r0 for a vote, rΣ for a blank vote. */
export function proveBlank(context, publicKey, isBlank, total, blank, nonce, rng = randomScalar) {
  return proveOr(`bproof0|${context}|`, [g, publicKey], blankStatements(isBlank, total), blank ? 1 : 0, nonce, rng);
}

export function verifyBlank(context, publicKey, isBlank, total, proofs) {
  verifyOr("ballot.blank_proof", `bproof0|${context}|`, [g, publicKey], blankStatements(isBlank, total), proofs);
}

const overallBlankStatements = (isBlank, total, values) => [
  [isBlank.alpha, isBlank.beta.div(g)],
  ...intervalStatements(total, values),
];

/** overall_proof with blank allowed: m0 = 1 or mΣ ∈ values. `known` is 0 for a blank vote
 * (nonce r0), else 1 + the index of mΣ in values (nonce rΣ). */
export function proveOverallBlank(context, publicKey, isBlank, total, values, known, nonce, rng = randomScalar) {
  return proveOr(
    `bproof1|${context}|`,
    [g, publicKey],
    overallBlankStatements(isBlank, total, values),
    known,
    nonce,
    rng,
  );
}

export function verifyOverallBlank(context, publicKey, isBlank, total, values, proofs) {
  verifyOr(
    "ballot.overall_proof",
    `bproof1|${context}|`,
    [g, publicKey],
    overallBlankStatements(isBlank, total, values),
    proofs,
  );
}
