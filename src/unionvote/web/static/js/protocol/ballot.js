// Making and checking ballots (specification §"Ballots", §"Signatures"), as
// src/unionvote/record/ballot.py and record/messages.py's Ballot.
//
// ballot = {"election_uuid","election_hash":φ,"credential","answers":[answer_h…],
//           "signature":{"hash","proof"}}
// The signature's hash is the unpadded Base64 SHA-256 of the compact ballot without its
// signature; the tracker is the same hash of the whole ballot's bytes.

import { EncryptedAnswer, checkAnswer, encryptAnswer } from "./answers.js";
import { credentialSecret, normaliseCredential } from "./credentials.js";
import { compactJson, expectFields, parseJson, parseKey, parseList, parseText, sha256B64 } from "./encoding.js";
import { EncodingError, InvalidProof } from "./errors.js";
import { g, randomScalar } from "./group.js";
import { Proof, signBallotHash, verifyBallotSignature } from "./proofs.js";

export class Ballot {
  constructor({ electionUuid, electionHash, credential, answers, signatureHash, signature }) {
    Object.assign(this, { electionUuid, electionHash, credential, answers, signatureHash, signature });
  }

  unsignedJson() {
    return {
      election_uuid: this.electionUuid,
      election_hash: this.electionHash,
      credential: String(this.credential),
      answers: this.answers.map((a) => a.toJson()),
    };
  }

  toJson() {
    const obj = this.unsignedJson();
    obj.signature = { hash: this.signatureHash, proof: this.signature.toJson() };
    return obj;
  }

  /** The ballot's canonical text: the exact bytes cast (UTF-8; ballots are ASCII). */
  toText() {
    return compactJson(this.toJson());
  }

  static fromJson(obj) {
    const what = "ballot";
    expectFields(obj, what, ["election_uuid", "election_hash", "credential", "answers", "signature"]);
    expectFields(obj.signature, "ballot.signature", ["hash", "proof"]);
    return new Ballot({
      electionUuid: parseText(obj.election_uuid, what),
      electionHash: parseText(obj.election_hash, what),
      credential: parseKey(obj.credential),
      answers: parseList(obj.answers, what).map((a) => EncryptedAnswer.fromJson(a)),
      signatureHash: parseText(obj.signature.hash, "ballot.signature"),
      signature: Proof.fromJson(obj.signature.proof),
    });
  }
}

/** A ballot's text, parsed strictly; a text that is not canonical is refused, as the server does. */
export function parseBallot(text) {
  const ballot = Ballot.fromJson(parseJson(text, "ballot"));
  if (ballot.toText() !== text) {
    throw new EncodingError("ballot.canonical", "not in canonical form (field order, spacing or number format)");
  }
  return ballot;
}

/** The smart ballot tracker: unpadded Base64 of SHA-256 of the ballot's bytes. */
export function trackerOf(ballotText) {
  return sha256B64(ballotText);
}

/**
 * Encrypt, prove and sign one voter's choices (one list per question; see plaintextBits for
 * the two forms accepted). Returns the ballot and, per question, the nonces r of its
 * ciphertexts. `rng` replays the shared vectors' nonces in tests; by default it is libsodium's.
 */
export function makeBallotWith(election, electionHash, credential, choices, rng = randomScalar) {
  if (!Array.isArray(choices) || choices.length !== election.questions.length) {
    throw new InvalidProof(
      "choices",
      `${Array.isArray(choices) ? choices.length : 0} answers for ${election.questions.length} questions`,
    );
  }
  const secret = credentialSecret(normaliseCredential(credential), election.uuid);
  const publicCredential = g.pow(secret);
  const s0 = `${electionHash}|${publicCredential}`;
  const encrypted = election.questions.map((q, i) => encryptAnswer(q, s0, election.publicKey, choices[i], rng));
  const unsigned = new Ballot({
    electionUuid: election.uuid,
    electionHash,
    credential: publicCredential,
    answers: encrypted.map((e) => e.answer),
  });
  const signatureHash = sha256B64(compactJson(unsigned.unsignedJson()));
  const signature = signBallotHash(signatureHash, secret, rng);
  const ballot = new Ballot({ ...unsigned, signatureHash, signature });
  return { ballot, nonces: encrypted.map((e) => e.nonces) };
}

/**
 * Throw (naming the check) unless the ballot is for this election, signed by its credential
 * over its own content, and every proof holds. Whether the credential is on the list is the
 * server's check.
 */
export function checkBallot(election, electionHash, ballot) {
  if (ballot.electionUuid !== election.uuid || ballot.electionHash !== electionHash) {
    throw new InvalidProof("ballot.election", "the ballot is for another election");
  }
  if (ballot.answers.length !== election.questions.length) {
    throw new InvalidProof(
      "ballot.shape",
      `${ballot.answers.length} answers for ${election.questions.length} questions`,
    );
  }
  if (sha256B64(compactJson(ballot.unsignedJson())) !== ballot.signatureHash) {
    throw new InvalidProof("ballot.signature", "the signed hash is not the ballot's hash");
  }
  verifyBallotSignature(ballot.signatureHash, ballot.credential, ballot.signature);
  const s0 = `${electionHash}|${ballot.credential}`;
  election.questions.forEach((q, i) => checkAnswer(q, s0, election.publicKey, ballot.answers[i]));
}
