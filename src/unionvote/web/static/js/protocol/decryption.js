// A trustee's partial decryption in their own browser (specification §"Partial
// decryptions"), producing the same file as `unionvote trustee decrypt`
// (src/unionvote/domain/trustee_work.py's partial_decrypt):
//   {"owner":n,"tally":partial_decryption,"groups":{"<id>":partial_decryption…}}
// partial_decryption = {"decryption_factors":[[α^x…]…],"decryption_proofs":[[proof…]…]}, the
// proof's challenge G.hash("decrypt|φ|X|", [g^w, α^w]). The private key never leaves the page.
//
// Before decrypting anything the trustee checks, as the CLI does, that the election given in
// the request hashes to its election_hash, carries its uuid, and is encrypted to the key the
// trustee's own ceremony made (the trustee list in their state file): a trustee never decrypts
// for another election.

import { Ciphertext } from "./elgamal.js";
import { parseElection } from "./election.js";
import { compactJson, compareCodePoints, expectFields, isObject, parseJson, parseKey, parseList, sha256B64 } from "./encoding.js";
import { CryptoError } from "./errors.js";
import { Q, g, randomScalar } from "./group.js";
import { proveDecryption } from "./proofs.js";
import { electionPublicKey, parseTrustees } from "./trustees.js";

export const STATE_FORMAT = "unionvote-trustee-state/1";

/** What the decryption needs of a trustee's state file: the key, the owner number, the list. */
export function readTrusteeState(text) {
  const obj = parseJson(text, "trustee.state");
  if (!isObject(obj) || obj.format !== STATE_FORMAT) {
    throw new CryptoError("trustee.state", `not a trustee state file (${STATE_FORMAT})`);
  }
  try {
    const secret = obj.secret;
    if (!isObject(secret) || !["single", "pedersen"].includes(obj.kind)) {
      throw new CryptoError("trustee.state", "the state file is damaged (kind or secret)");
    }
    if (secret.key === undefined || obj.owner === undefined || obj.trustees === undefined) {
      throw new CryptoError("trustee.state", "finish the ceremony first (`unionvote trustee finish`)");
    }
    if (typeof secret.key !== "string" || !/^[0-9]+$/.test(secret.key)) {
      throw new CryptoError("trustee.state", "the state file is damaged (a private key is written in decimal)");
    }
    const x = BigInt(secret.key);
    if (!(0n < x && x < Q)) throw new CryptoError("trustee.state", "the state file is damaged (key out of range)");
    expectFields(obj.public_key, "trustee_public_key", ["pok", "public_key"], ["signature"]);
    if (!g.pow(x).equals(parseKey(obj.public_key.public_key))) {
      throw new CryptoError("trustee.state", "the state file is damaged (the private key does not match the public key)");
    }
    if (!Number.isSafeInteger(obj.owner) || obj.owner < 1) {
      throw new CryptoError("trustee.state", "the state file is damaged (owner)");
    }
    const trustees = parseTrustees(obj.trustees);
    return { secret: x, owner: obj.owner, electionKey: electionPublicKey(trustees), trusteesJson: obj.trustees };
  } catch (error) {
    if (error instanceof CryptoError && error.check === "trustee.state") throw error;
    if (error instanceof CryptoError) {
      throw new CryptoError("trustee.state", `the state file is damaged (${error.check}: ${error.detail})`);
    }
    throw error;
  }
}

function refused(check, error, what) {
  if (!(error instanceof CryptoError)) return error;
  const detail = error.check === check ? error.detail : `${error.check}: ${error.detail}`;
  return new CryptoError(check, what ? `${what}: ${detail}` : detail);
}

function checkElection(state, uuid, electionHash, inRequest) {
  let text;
  if (typeof inRequest === "string") text = inRequest;
  else if (isObject(inRequest)) text = compactJson(inRequest);
  else {
    throw new CryptoError(
      "decrypt.election",
      "the request does not carry the election's definition (its `election` field), so its election hash cannot be checked",
    );
  }
  if (sha256B64(text) !== electionHash) {
    throw new CryptoError("decrypt.election", "the election given does not have the request's election hash");
  }
  let election;
  try {
    ({ election } = parseElection(text));
  } catch (error) {
    throw refused("decrypt.election", error);
  }
  if (election.uuid !== uuid) {
    throw new CryptoError("decrypt.election", `the request names election ${uuid}, the election is ${election.uuid}`);
  }
  if (!election.publicKey.equals(state.electionKey)) {
    throw new CryptoError(
      "decrypt.election",
      `election ${uuid} is not encrypted to the key of your ceremony: refusing to decrypt for another election`,
    );
  }
  return election;
}

function readTally(obj, shape, what) {
  try {
    const value = typeof obj === "string" ? parseJson(obj, "decrypt.request") : obj;
    const tally = parseList(value, "encrypted_tally").map((row) =>
      parseList(row, "encrypted_tally").map((c) => Ciphertext.fromJson(c, "encrypted_tally")),
    );
    if (tally.length !== shape.length || tally.some((row, i) => row.length !== shape[i])) {
      throw new CryptoError("decrypt.request", `${what} does not have the election's shape`);
    }
    return tally;
  } catch (error) {
    throw refused("decrypt.request", error, error.check === "decrypt.request" ? "" : what);
  }
}

function readGroups(obj, shape) {
  if (!Array.isArray(obj)) throw new CryptoError("decrypt.request", "groups is a list");
  const groups = obj.map((group) => {
    if (!isObject(group) || typeof group.id !== "string") {
      throw new CryptoError("decrypt.request", "each group has a string id");
    }
    if (!("encrypted_tally" in group)) {
      throw new CryptoError("decrypt.request", `group ${JSON.stringify(group.id)} has no encrypted_tally`);
    }
    return [group.id, readTally(group.encrypted_tally, shape, `group ${JSON.stringify(group.id)}`)];
  });
  if (new Set(groups.map(([id]) => id)).size !== groups.length) {
    throw new CryptoError("decrypt.request", "two groups share an id");
  }
  return groups;
}

/** partial_decryption of an encrypted tally with the private key x. */
export function computePartial(electionHash, secret, tally, rng = randomScalar) {
  const rows = tally.map((row) => row.map((c) => proveDecryption(electionHash, secret, c.alpha, rng)));
  return {
    decryption_factors: rows.map((row) => row.map((p) => String(p.factor))),
    decryption_proofs: rows.map((row) => row.map((p) => p.proof.toJson())),
  };
}

/**
 * The partial decryption file (compact JSON text) for a decryption request, from the
 * trustee's state file text. `rng` is for tests only.
 */
export function partialDecryptionText(trusteeKey, requestText, rng = randomScalar) {
  const state = readTrusteeState(trusteeKey);
  const request = parseJson(requestText, "decrypt.request");
  if (!isObject(request)) throw new CryptoError("decrypt.request", "expected a JSON object");
  const missing = ["uuid", "election_hash", "encrypted_tally", "groups"].filter((k) => !(k in request));
  if (missing.length) throw new CryptoError("decrypt.request", `missing fields ${JSON.stringify(missing)}`);
  const { uuid, election_hash: electionHash } = request;
  if (typeof uuid !== "string" || typeof electionHash !== "string") {
    throw new CryptoError("decrypt.request", "uuid and election_hash are strings");
  }
  const election = checkElection(state, uuid, electionHash, request.election);
  const shape = election.questions.map((q) => q.ciphertexts);
  const tally = readTally(request.encrypted_tally, shape, "the election's tally");
  const groups = readGroups(request.groups, shape).sort((a, b) => compareCodePoints(a[0], b[0]));
  const decrypt = (ciphertexts) => computePartial(electionHash, state.secret, ciphertexts, rng);
  return compactJson({
    owner: state.owner,
    tally: decrypt(tally),
    groups: new Map(groups.map(([id, ciphertexts]) => [id, decrypt(ciphertexts)])),
  });
}
