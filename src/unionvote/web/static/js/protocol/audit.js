// Cast-or-audit ("Check the encryption"): revealing a ballot's encryption randomness so that a
// member or an observer can see that the browser encrypted what they chose. An audited ballot
// must never be cast: its randomness decrypts it. The booth makes a fresh ballot afterwards.
//
// The audit object is the audited-ballot file (docs/observer.md, "Checking an audited
// ballot"), checked in Python by src/unionvote/verify/audited.py:
//   {"format":"unionvote-audited-ballot/1","election_hash":φ,"election":<election.json text>,
//    "ballot":<the ballot>,"randomness":[[r…]…],"answers":[[m…]…]}
// randomness and answers have one entry per ciphertext of each question (the blank flag first
// where blank votes are allowed); r is a base-10 scalar, m is 0 or 1.
// With r revealed, a ciphertext (alpha, beta) encrypts m exactly when alpha = g^r and
// beta / y^r = g^m.

import { parseBallot, checkBallot } from "./ballot.js";
import { parseElection } from "./election.js";
import { compactJson, expectFields, isObject, sha256B64 } from "./encoding.js";
import { InvalidProof } from "./errors.js";
import { IDENTITY, g, parseScalar } from "./group.js";

export const AUDIT_FORMAT = "unionvote-audited-ballot/1";

/** The audited-ballot file's content for a ballot made with these nonces and answers. */
export function auditRecord({ electionText, electionHash, ballot, nonces, bits }) {
  return {
    format: AUDIT_FORMAT,
    election_hash: electionHash,
    election: electionText,
    ballot: ballot.toJson(),
    randomness: nonces.map((rs) => rs.map((r) => r.toString())),
    answers: bits,
  };
}

/** The plaintext m ∈ {0, 1} of `ciphertext` given its nonce r, or throw InvalidProof. */
export function revealChoice(ciphertext, publicKey, r, where) {
  if (!ciphertext.alpha.equals(g.pow(r))) {
    throw new InvalidProof("audit.randomness", `${where}: alpha is not g^r for the revealed r`);
  }
  const gm = ciphertext.beta.div(publicKey.pow(r));
  if (gm.equals(IDENTITY)) return 0;
  if (gm.equals(g)) return 1;
  throw new InvalidProof("audit.answers", `${where}: the ciphertext encrypts neither 0 nor 1`);
}

/**
 * Check an audited ballot and return its answers decoded from the revealed randomness: per
 * question, one 0/1 per ciphertext (the blank flag first where blank votes are allowed).
 * Throws (naming the check, the same checks as src/unionvote/verify/audited.py, in the same
 * order) if the audit is for another election or ballot, if the ballot is not valid, if the
 * randomness does not open every ciphertext, or if the claimed answers differ.
 */
export function auditBallotText(electionText, ballotText, audit) {
  expectFields(audit, "audit.file", ["format", "election_hash", "election", "ballot", "randomness", "answers"]);
  if (audit.format !== AUDIT_FORMAT) {
    throw new InvalidProof("audit.format", `not an audited ballot (${AUDIT_FORMAT})`);
  }
  if (audit.election !== electionText || sha256B64(electionText) !== audit.election_hash) {
    throw new InvalidProof("audit.election", "the audit is for another election, or its election_hash is wrong");
  }
  let parsed;
  try {
    parsed = parseElection(electionText);
  } catch (error) {
    throw new InvalidProof("audit.election", `the election: ${error.check}: ${error.message}`);
  }
  const { election, electionHash } = parsed;
  if (!isObject(audit.ballot) || compactJson(audit.ballot) !== ballotText) {
    throw new InvalidProof("audit.ballot", "the audit is for another ballot");
  }
  const ballot = parseBallot(ballotText);
  checkBallot(election, electionHash, ballot);
  const shaped = (value) =>
    Array.isArray(value) &&
    value.length === ballot.answers.length &&
    ballot.answers.every((a, i) => Array.isArray(value[i]) && value[i].length === a.choices.length);
  if (!shaped(audit.randomness) || !shaped(audit.answers)) {
    throw new InvalidProof("audit.shape", "one nonce and one answer per ciphertext of each question are needed");
  }
  return ballot.answers.map((answer, i) =>
    answer.choices.map((ciphertext, j) => {
      const where = `question ${i + 1}, ciphertext ${j + 1}`;
      let r;
      try {
        r = parseScalar(audit.randomness[i][j]);
      } catch (error) {
        throw new InvalidProof("audit.randomness", `${where}: ${error.message}`);
      }
      const m = revealChoice(ciphertext, election.publicKey, r, where);
      if (audit.answers[i][j] !== m) {
        throw new InvalidProof("audit.answers", `${where}: the ballot does not encrypt the answer claimed`);
      }
      return m;
    }),
  );
}
