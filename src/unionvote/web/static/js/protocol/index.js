// unionvote's protocol for the browser booth and the trustee page (Belenios v1, Ed25519),
// over libsodium.js. The public surface is exactly these functions; the modules beside this
// one hold the protocol's concepts (group, encoding, credentials, elgamal, proofs, answers,
// election, ballot, audit, trustees, decryption, ceremony).
//
// Errors thrown are CryptoError (errors.js) with `check` (a stable name, the same as the
// Python side's: "credential", "choices", "ballot.signature", "audit.answers", …) and an
// English `message`. No function logs anything: private credentials, randomness and choices
// stay in the caller's hands.

import { auditBallotText, auditRecord } from "./audit.js";
import { makeBallotWith, trackerOf as ballotTracker } from "./ballot.js";
import { checkBallot } from "./ballot.js";
import { describeState, finishStep, newCertificate, newSingleKey, polynomialStep, verificationKeyStep } from "./ceremony.js";
import { normaliseCredential, publicCredentialKey, typedCredential } from "./credentials.js";
import { partialDecryptionText } from "./decryption.js";
import { parseElection } from "./election.js";
import { ready as sodiumReady } from "./group.js";
import { plaintextBits } from "./answers.js";

/** Wait for libsodium; call once before anything else. */
export async function ready() {
  await sodiumReady();
}

/**
 * A credential as the member typed it (spaces ignored, dashes optional): returns it
 * normalised (XXXXX-XXXXXX-XXXXX-XXXXXX); throws Error(message) with check "credential" if it
 * is not 22 Base58 characters or its checksum fails (a typing mistake).
 */
export function checkCredential(text) {
  return typedCredential(text);
}

/** The public credential g^x of a private credential for election `uuid`, as its point string
 * (Python's PublicCredential.to_json() for an unweighted credential). */
export function publicCredential(uuid, text) {
  return String(publicCredentialKey(normaliseCredential(text), uuid));
}

/**
 * Encrypt, prove and sign a ballot.
 * election: election.json's text exactly as served; credential: the private credential text;
 * answers: per question, one 0/1 per answer (all zero is a blank vote where blank is allowed),
 * or, for a blank-allowed question, the blank flag followed by one 0/1 per answer.
 * Returns { ballot: the canonical ballot text to POST, tracker, audit }, where audit is the
 * audited-ballot file's content (a plain object; JSON.stringify it to save it). It reveals the
 * vote: show or download it only when the member chooses "Check the encryption", and never
 * cast a ballot whose audit was shown (make a new one).
 */
export function makeBallot({ election, credential, answers }) {
  const { election: parsed, electionHash } = parseElection(election);
  const { ballot, nonces } = makeBallotWith(parsed, electionHash, credential, answers);
  checkBallot(parsed, electionHash, ballot); // what the server will check, before sending
  const text = ballot.toText();
  const bits = parsed.questions.map((q, i) => plaintextBits(q, answers[i]));
  return {
    ballot: text,
    tracker: ballotTracker(text),
    audit: auditRecord({ electionText: election, electionHash, ballot, nonces, bits }),
  };
}

/**
 * Check an audited ballot: the ballot is valid for the election and the revealed randomness
 * opens every ciphertext. Returns the answers decoded from the randomness: per question, one
 * 0/1 per ciphertext (the blank flag first where blank votes are allowed). Throws (check
 * "audit.*" or "ballot.*") if anything does not match, including the audit's claimed answers.
 */
export function auditBallot({ election, ballot, audit }) {
  return auditBallotText(election, ballot, audit);
}

/** The tracker of a ballot text: unpadded Base64 of SHA-256 of its bytes. */
export function trackerOf(ballotString) {
  return ballotTracker(ballotString);
}

/**
 * The trustee's partial decryption file, exactly as `unionvote trustee decrypt` writes it
 * (the proofs use fresh randomness), from the trustee's state file text and the committee's
 * decryption request text.
 */
export function partialDecryption({ trusteeKey, request }) {
  return partialDecryptionText(trusteeKey, request);
}

// -- the key ceremony, a trustee's side (ceremony.js) ----------------------------------------
// Each step takes the trustee's state file text and returns { state, message }: the new state
// file text (byte for byte what the CLI writes; it holds the trustee's private keys — offer it
// for download, never upload it) and the message for the committee (compact JSON, as the CLI
// writes it), so a trustee can switch between the browser and `unionvote trustee …` anywhere.

/** `unionvote trustee init`: { name, index, size = 3, threshold = 2 } → { state, message: certificate }. */
export function trusteeInit({ name, index, size = 3, threshold = 2 }) {
  return newCertificate({ name, index, size, threshold });
}

/** `unionvote trustee single-key`: { name } → { state, message: ["Single", public key] }. */
export function trusteeSingleKey({ name }) {
  return newSingleKey({ name });
}

/** `unionvote trustee polynomial`: { state, certificates } → { state, message: polynomial }. */
export function trusteePolynomial({ state, certificates }) {
  return polynomialStep({ state, certificates });
}

/** `unionvote trustee verification-key`: { state, vinput } → { state, message: verification key }. */
export function trusteeVerificationKey({ state, vinput }) {
  return verificationKeyStep({ state, vinput });
}

/** `unionvote trustee finish`: { state, trustees } → { state, message: null, owner, fingerprint, electionKey }. */
export function trusteeFinish({ state, trustees }) {
  return finishStep({ state, trustees });
}

/** `unionvote trustee show`: what a state file holds (no secrets) and its next step. */
export function trusteeShow(state) {
  return describeState(state);
}
