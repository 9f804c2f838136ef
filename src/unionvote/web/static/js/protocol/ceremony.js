// A trustee's side of the key ceremony in their own browser: the same steps, the same state
// file and the same messages as `unionvote trustee init | single-key | polynomial |
// verification-key | finish` (src/unionvote/domain/trustee_work.py over crypto/threshold.py),
// so that a trustee can begin in the browser and go on with the CLI, or the other way round.
//
// Each step takes the trustee's state file text (and the committee's file for that step) and
// returns { state, message }: the new state file text, byte for byte what the CLI writes
// (indented JSON + "\n"; it holds the private keys: the page offers it for download only, to
// the trustee), and the message to send to the committee (compact JSON, as the CLI writes it;
// it holds nothing private: shares for other trustees are sealed to them). `finish` sends
// nothing (message null) and says the owner number, the trustee list's fingerprint and the
// election key.
//
// The private channel (crypto/threshold.py's _seal/_open): a share is signed with the sender's
// PKI key as {"recipient", "message"}, then sealed to the recipient's encryption key E with an
// ElGamal key agreement (α = g^r, key SHA-256("unionvote-channel-v1|" ‖ E^r as RFC 8032
// bytes)) and XChaCha20-Poly1305 (associated data: α's string form, a random 24-byte nonce).
//
// Randomness: libsodium only (crypto_core_ed25519_scalar_random for scalars, randombytes_*
// for the seed and the nonces). Errors are CryptoError with the CLI's check names
// ("trustee.state", "ceremony.parameters", "ceremony.step", "ceremony.certificates",
// "ceremony.vinput", "trustee.list", "trustee.finish").

import { BASE58_ALPHABET, compactJson, isObject, parseJson } from "./encoding.js";
import { CryptoError, EncodingError, InvalidProof } from "./errors.js";
import { GroupElement, Q, bytesToBigInt, bytesToHex, g, hexToBytes, lib, randomScalar, sha256, sha256Hex, utf8 } from "./group.js";
import { Proof, verifyMessageSignature } from "./proofs.js";
import {
  certKeysFromCert,
  certKeysMessage,
  certsSignatureMessage,
  coefexpsMessage,
  createTrusteePublicKey,
  electionPublicKey,
  keyOwners,
  parseSignedMessage,
  parseTrusteePublicKey,
  readCoefexps,
  readTrusteeItems,
  signMessageWith,
  signedMessageJson,
  thresholdShareKey,
  trusteePublicKeyJson,
} from "./trustees.js";

export const STATE_FORMAT = "unionvote-trustee-state/1";
const SEED_LENGTH = 22;

// -- the state file ---------------------------------------------------------------------------

function refused(check, error, what = "") {
  if (!(error instanceof CryptoError)) return error;
  const detail = error.check === check ? error.detail : `${error.check}: ${error.detail}`;
  return new CryptoError(check, what ? `${what}: ${detail}` : detail);
}

function positive(value) {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new EncodingError("trustee.state", `expected a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkSeed(seed) {
  if (typeof seed !== "string" || seed.length !== SEED_LENGTH || [...seed].some((ch) => !BASE58_ALPHABET.includes(ch))) {
    throw new EncodingError("ceremony.seed", "a seed is 22 Base58 characters");
  }
  return seed;
}

/** The PKI of one ceremony from its seed: signing key from "sk|seed", decryption key "dk|seed". */
function ceremonyKeys(seed) {
  const derive = (text) => bytesToBigInt(sha256(text)) % Q;
  const signingKey = derive(`sk|${checkSeed(seed)}`);
  const decryptionKey = derive(`dk|${seed}`);
  return {
    seed,
    signingKey,
    decryptionKey,
    verification: g.pow(signingKey),
    encryption: g.pow(decryptionKey),
  };
}

function readState(text) {
  const obj = parseJson(text, "trustee.state");
  if (!isObject(obj) || obj.format !== STATE_FORMAT) {
    throw new CryptoError("trustee.state", `not a trustee state file (${STATE_FORMAT})`);
  }
  try {
    const { kind, name, secret } = obj;
    if (!["single", "pedersen"].includes(kind) || typeof name !== "string") {
      throw new EncodingError("trustee.state", `unknown kind ${JSON.stringify(kind)}`);
    }
    if (!isObject(secret)) throw new EncodingError("trustee.state", "no secret");
    const ceremony = "ceremony" in obj ? obj.ceremony : { size: 1, threshold: 1, index: 1 };
    if (!isObject(ceremony)) throw new EncodingError("trustee.state", "ceremony is an object");
    let privateKey = null;
    if (secret.key !== undefined) {
      if (typeof secret.key !== "string" || !/^[0-9]+$/.test(secret.key)) {
        throw new EncodingError("trustee.state", "a private key is written in decimal");
      }
      privateKey = BigInt(secret.key);
      if (!(0n < privateKey && privateKey < Q)) {
        throw new EncodingError("private_key", "not a non-zero scalar below q");
      }
    }
    const state = {
      kind,
      name,
      privateKey,
      keys: "seed" in secret ? ceremonyKeys(secret.seed) : null,
      size: positive(ceremony.size),
      threshold: positive(ceremony.threshold),
      index: positive(ceremony.index),
      certificate: "certificate" in obj ? parseSignedMessage(obj.certificate) : null,
      certificates: "certificates" in obj ? parseArray(obj.certificates).map(parseSignedMessage) : [],
      publicKey: "public_key" in obj ? parseTrusteePublicKey(obj.public_key) : null,
      trustees: "trustees" in obj ? readTrusteeItems(obj.trustees) : [],
      owner: "owner" in obj ? positive(obj.owner) : null,
    };
    if (kind === "pedersen" && (state.keys === null || state.certificate === null)) {
      throw new EncodingError("trustee.state", "a Pedersen trustee's state holds ceremony keys and a certificate");
    }
    if (kind === "single" && (state.privateKey === null || state.publicKey === null)) {
      throw new EncodingError("trustee.state", "a single trustee's state holds a key pair");
    }
    if (
      (state.privateKey === null) !== (state.publicKey === null) ||
      (state.privateKey !== null && !g.pow(state.privateKey).equals(state.publicKey.publicKey))
    ) {
      throw new EncodingError("trustee.state", "the private key does not match the public key");
    }
    if ((state.owner === null) !== (state.trustees.length === 0)) {
      throw new EncodingError("trustee.state", "the trustee list and the owner number go together");
    }
    return state;
  } catch (error) {
    if (error instanceof CryptoError) {
      const detail = error.check === "trustee.state" ? error.detail : `${error.check}: ${error.detail}`;
      throw new CryptoError("trustee.state", `the state file is damaged (${detail})`);
    }
    throw error;
  }
}

function parseArray(value) {
  if (!Array.isArray(value)) throw new EncodingError("trustee.state", "expected a list");
  return value;
}

/** The state file's text, exactly as TrusteeState.to_bytes() writes it. */
function writeState(state) {
  const obj = { format: STATE_FORMAT, kind: state.kind, name: state.name };
  if (state.kind === "pedersen") obj.ceremony = { size: state.size, threshold: state.threshold, index: state.index };
  const secret = {};
  if (state.keys !== null) secret.seed = state.keys.seed;
  if (state.privateKey !== null) secret.key = state.privateKey.toString();
  obj.secret = secret;
  if (state.certificate !== null) obj.certificate = signedMessageJson(state.certificate);
  if (state.certificates.length) obj.certificates = state.certificates.map(signedMessageJson);
  if (state.publicKey !== null) obj.public_key = trusteePublicKeyJson(state.publicKey);
  if (state.owner !== null) {
    obj.trustees = state.trustees.map((item) => item.json);
    obj.owner = state.owner;
  }
  return JSON.stringify(obj, null, 2) + "\n";
}

/** The last step done, as TrusteeState.step. */
function stepOf(state) {
  if (state.owner !== null) return "finished";
  if (state.kind === "single") return "key";
  if (state.privateKey !== null) return "verification-key";
  return state.certificates.length ? "polynomial" : "certificate";
}

/** SHA-256 (hex) of the trustee list in compact JSON: the record's setup names this hash. */
function fingerprint(items) {
  return sha256Hex(compactJson(items.map((item) => item.json)));
}

// -- a single trustee -------------------------------------------------------------------------

function nonZeroScalar(rng) {
  let x = 0n;
  while (x === 0n) x = rng();
  return x;
}

/** `unionvote trustee single-key`: a key of one's own; the message is ["Single", key]. */
export function newSingleKey({ name }, rng = randomScalar) {
  if (typeof name !== "string") throw new CryptoError("trustee.name", "a trustee's name is text");
  const privateKey = nonZeroScalar(rng);
  const publicKey = createTrusteePublicKey(privateKey, null, rng);
  const state = emptyState("single", name);
  Object.assign(state, { privateKey, publicKey });
  return { state: writeState(state), message: compactJson(["Single", trusteePublicKeyJson(publicKey)]) };
}

function emptyState(kind, name) {
  return {
    kind,
    name,
    privateKey: null,
    keys: null,
    size: 1,
    threshold: 1,
    index: 1,
    certificate: null,
    certificates: [],
    publicKey: null,
    trustees: [],
    owner: null,
  };
}

// -- the Pedersen ceremony: step 1 ------------------------------------------------------------

function randomSeed() {
  const sodium = lib();
  let seed = "";
  for (let i = 0; i < SEED_LENGTH; i++) seed += BASE58_ALPHABET[sodium.randombytes_uniform(58)];
  return seed;
}

/** `unionvote trustee init`: fresh ceremony keys and the certificate to send. */
export function newCertificate({ name, size = 3, threshold = 2, index }, rng = randomScalar, seed = randomSeed()) {
  if (typeof name !== "string") throw new CryptoError("trustee.name", "a trustee's name is text");
  for (const value of [size, threshold, index]) {
    if (!Number.isSafeInteger(value)) throw new CryptoError("ceremony.parameters", `${value} is not a whole number`);
  }
  if (!(1 <= threshold && threshold <= size)) {
    throw new CryptoError("ceremony.parameters", `a threshold of ${threshold} of ${size} trustees`);
  }
  if (!(1 <= index && index <= size)) throw new CryptoError("ceremony.parameters", `trustee number ${index} of ${size}`);
  const keys = ceremonyKeys(seed);
  const message = certKeysMessage({ size, threshold, index, verification: keys.verification, encryption: keys.encryption });
  const certificate = signMessageWith(message, keys.signingKey, rng);
  const state = emptyState("pedersen", name);
  Object.assign(state, { keys, size, threshold, index, certificate });
  return { state: writeState(state), message: compactJson(signedMessageJson(certificate)) };
}

function pedersenKeys(state) {
  if (state.kind !== "pedersen" || state.keys === null) {
    throw new CryptoError("trustee.state", "this is not a threshold (Pedersen) trustee's state");
  }
  return state.keys;
}

/** Every certificate's keys, each for this ceremony and its number; no key used twice. */
function checkCerts(certs, threshold) {
  const keys = certs.map((c) => certKeysFromCert(c, "ceremony.cert"));
  keys.forEach((k, i) => {
    if (k.size !== certs.length || k.threshold !== threshold || k.index !== i + 1) {
      throw new InvalidProof("ceremony.cert", `certificate ${i + 1} has the wrong context`);
    }
  });
  if (new Set(keys.map((k) => String(k.verification))).size !== keys.length) {
    throw new InvalidProof("ceremony.cert", "two certificates share a key");
  }
  return keys;
}

// -- the private channel ----------------------------------------------------------------------

function channelKey(shared) {
  return sha256(concat(utf8("unionvote-channel-v1|"), shared.bytes));
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function seal(message, signingKey, recipient, rng) {
  const sodium = lib();
  const inner = compactJson({ recipient: String(recipient), message });
  const signed = signMessageWith(inner, signingKey, rng);
  const r = rng();
  const alpha = g.pow(r);
  const nonce = sodium.randombytes_buf(24);
  const box = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    utf8(compactJson(signedMessageJson(signed))),
    utf8(String(alpha)),
    null,
    nonce,
    channelKey(recipient.pow(r)),
  );
  return compactJson({ alpha: String(alpha), nonce: bytesToHex(nonce), box: bytesToHex(box) });
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function open(sealed, keys, sender, check) {
  let signed;
  let inner;
  try {
    const envelope = JSON.parse(sealed);
    const alpha = GroupElement.fromString(envelope.alpha);
    if (typeof envelope.box !== "string" || typeof envelope.nonce !== "string" || !HEX.test(envelope.box) || !HEX.test(envelope.nonce)) {
      throw new Error("hex");
    }
    const plain = lib().crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      hexToBytes(envelope.box),
      utf8(String(alpha)),
      hexToBytes(envelope.nonce),
      channelKey(alpha.pow(keys.decryptionKey)),
    );
    signed = parseSignedMessage(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain)));
    inner = JSON.parse(signed.message);
  } catch {
    throw new InvalidProof(check, "a sealed message could not be opened");
  }
  verifyMessageSignature(signed.message, sender.verification, signed.signature, check);
  if (!isObject(inner) || inner.recipient !== String(keys.encryption)) {
    throw new InvalidProof(check, "a sealed message was meant for another trustee");
  }
  if (typeof inner.message !== "string") throw new InvalidProof(check, "a sealed message has no text");
  return inner.message;
}

// -- step 2: the polynomial -------------------------------------------------------------------

function readCertificates(text) {
  const obj = parseJson(text, "ceremony.certificates");
  if (!Array.isArray(obj) || obj.length === 0) {
    throw new CryptoError("ceremony.certificates", "expected a non-empty list of certificates");
  }
  try {
    return obj.map(parseSignedMessage);
  } catch (error) {
    throw refused("ceremony.certificates", error);
  }
}

function evaluate(coefficients, x) {
  let value = 0n;
  for (const a of [...coefficients].reverse()) value = (value * BigInt(x) + a) % Q;
  return value;
}

const sameJson = (a, b) => compactJson(a.map(signedMessageJson)) === compactJson(b.map(signedMessageJson));

/**
 * `unionvote trustee polynomial`: from every trustee's certificate (the committee's
 * certificates file), a fresh polynomial; the message holds its signed commitments and one
 * sealed share per trustee. The state keeps the certificates (no coefficient is kept).
 */
export function polynomialStep({ state: stateText, certificates }, rng = randomScalar) {
  const state = readState(stateText);
  const keys = pedersenKeys(state);
  const step = stepOf(state);
  if (step !== "certificate" && step !== "polynomial") {
    throw new CryptoError("ceremony.step", `this trustee is past step 2 (at "${step}")`);
  }
  const certs = readCertificates(certificates);
  if (certs.length !== state.size) {
    throw new CryptoError("ceremony.certificates", `${certs.length} certificates for ${state.size} trustees`);
  }
  if (state.certificates.length && !sameJson(state.certificates, certs)) {
    throw new CryptoError("ceremony.certificates", "these are not the certificates of your earlier step 2");
  }
  if (certs[state.index - 1].message !== state.certificate.message) {
    throw new CryptoError("ceremony.certificates", `certificate number ${state.index} is not yours: check your trustee number`);
  }
  let message;
  try {
    const certKeys = checkCerts(certs, state.threshold);
    if (!certKeys[state.index - 1].verification.equals(keys.verification)) {
      throw new InvalidProof("ceremony.cert", `certificate ${state.index} is not this trustee's`);
    }
    const coefficients = Array.from({ length: state.threshold }, () => rng());
    const commitments = coefficients.map((a) => g.pow(a));
    const sealed = certKeys.map((k, j) => seal(evaluate(coefficients, j + 1).toString(), keys.signingKey, k.encryption, rng));
    const certsJson = certs.map(signedMessageJson);
    message = {
      index: state.index,
      coefexps: signedMessageJson(signMessageWith(coefexpsMessage(commitments), keys.signingKey, rng)),
      signature: signMessageWith(certsSignatureMessage(certsJson, commitments), keys.signingKey, rng).signature.toJson(),
      sealed_shares: sealed,
    };
  } catch (error) {
    throw refused("ceremony.certificates", error);
  }
  state.certificates = certs;
  return { state: writeState(state), message: compactJson(message) };
}

// -- step 3: the key share --------------------------------------------------------------------

function readVinput(text) {
  const obj = parseJson(text, "ceremony.vinput");
  if (!isObject(obj) || !["coefexps", "signatures", "sealed_shares"].every((k) => Array.isArray(obj[k]))) {
    throw new EncodingError("ceremony.vinput", "not a vinput");
  }
  return {
    coefexps: obj.coefexps.map(parseSignedMessage),
    signatures: obj.signatures.map((s) => Proof.fromJson(s)),
    sealedShares: obj.sealed_shares.map(String),
  };
}

/**
 * `unionvote trustee verification-key`: check every share the others sent (the committee's
 * vinput file for this trustee) against its sender's commitments, and sum them into this
 * trustee's key share S_j (kept in the state). The message is g^{S_j}, proven and signed.
 */
export function verificationKeyStep({ state: stateText, vinput }, rng = randomScalar) {
  const state = readState(stateText);
  const keys = pedersenKeys(state);
  const step = stepOf(state);
  if (step !== "polynomial" && step !== "verification-key") {
    throw new CryptoError("ceremony.step", `step 3 follows step 2 (this trustee is at "${step}")`);
  }
  let privateKey;
  let publicKey;
  try {
    const routed = readVinput(vinput);
    const certs = state.certificates;
    const certKeys = checkCerts(certs, state.threshold);
    if (!certKeys[state.index - 1].verification.equals(keys.verification)) {
      throw new InvalidProof("ceremony.cert", `certificate ${state.index} is not this trustee's`);
    }
    const n = certs.length;
    if (routed.coefexps.length !== n || routed.signatures.length !== n || routed.sealedShares.length !== n) {
      throw new InvalidProof("ceremony.vinput", "the routed input has the wrong size");
    }
    const certsJson = certs.map(signedMessageJson);
    let total = 0n;
    certKeys.forEach((sender, i) => {
      const coefexps = routed.coefexps[i];
      verifyMessageSignature(coefexps.message, sender.verification, coefexps.signature, "ceremony.coefexps");
      const commitments = readCoefexps(signedMessageJson(coefexps));
      if (commitments.length !== state.threshold) {
        throw new InvalidProof("ceremony.coefexps", `trustee ${sender.index}: wrong degree`);
      }
      verifyMessageSignature(
        certsSignatureMessage(certsJson, commitments),
        sender.verification,
        routed.signatures[i],
        "ceremony.signature",
      );
      const text = open(routed.sealedShares[i], keys, sender, "ceremony.share");
      if (!/^[0-9]+$/.test(text) || BigInt(text) >= Q) {
        throw new InvalidProof("ceremony.share", `trustee ${sender.index} sent a malformed share`);
      }
      const share = BigInt(text);
      if (!g.pow(share).equals(thresholdShareKey([commitments], state.index))) {
        throw new InvalidProof("ceremony.share", `the share from trustee ${sender.index} does not match its commitments`);
      }
      total = (total + share) % Q;
    });
    if (total === 0n) throw new EncodingError("private_key", "not a non-zero scalar below q");
    privateKey = total;
    publicKey = createTrusteePublicKey(privateKey, keys.signingKey, rng);
  } catch (error) {
    throw refused("ceremony.vinput", error);
  }
  if (state.publicKey !== null && !state.publicKey.publicKey.equals(publicKey.publicKey)) {
    throw new CryptoError("ceremony.vinput", "this input gives another key share than your earlier step 3");
  }
  Object.assign(state, { privateKey, publicKey });
  return { state: writeState(state), message: compactJson(trusteePublicKeyJson(publicKey)) };
}

// -- the end: the final trustee list ----------------------------------------------------------

function readTrusteeList(text) {
  const obj = parseJson(text, "trustee.list");
  let items;
  try {
    items = readTrusteeItems(obj);
  } catch (error) {
    throw refused("trustee.list", error);
  }
  if (electionPublicKey(items).isIdentity) throw new CryptoError("trustee.list", "the trustees' keys cancel out");
  return items;
}

function ownOwner(state, items) {
  const ownKey = state.publicKey.publicKey;
  const owners = keyOwners(items);
  const found = [];
  items.forEach((item, itemIndex) => {
    const members = owners.filter(([, i]) => i === itemIndex).map(([owner]) => owner);
    if (item.kind === "Single") {
      if (state.kind === "single" && item.key.publicKey.equals(ownKey)) found.push(members[0]);
    } else if (
      state.kind === "pedersen" &&
      item.size === state.size &&
      item.threshold === state.threshold &&
      item.certs[state.index - 1].message === state.certificate.message &&
      item.verificationKeys[state.index - 1].publicKey.equals(ownKey)
    ) {
      found.push(members[state.index - 1]);
    }
  });
  if (found.length === 0) throw new CryptoError("trustee.finish", "your key is not in this trustee list");
  if (found.length > 1) throw new CryptoError("trustee.finish", "your key appears more than once in this list");
  return found[0];
}

/**
 * `unionvote trustee finish`: check the committee's final public trustee list in full and find
 * this trustee's key in it. Returns { state, message: null, owner, fingerprint, electionKey }.
 */
export function finishStep({ state: stateText, trustees }) {
  const state = readState(stateText);
  const step = stepOf(state);
  if (!["key", "verification-key", "finished"].includes(step) || state.publicKey === null) {
    throw new CryptoError("ceremony.step", `the ceremony is not done yet (at "${step}")`);
  }
  const items = readTrusteeList(trustees);
  if (state.owner !== null && fingerprint(items) !== fingerprint(state.trustees)) {
    throw new CryptoError(
      "trustee.finish",
      `this state already belongs to the trustee list with fingerprint ${fingerprint(state.trustees)}`,
    );
  }
  state.owner = ownOwner(state, items);
  state.trustees = items;
  return {
    state: writeState(state),
    message: null,
    owner: state.owner,
    fingerprint: fingerprint(items),
    electionKey: String(electionPublicKey(items)),
  };
}

/**
 * What a state file holds, never its secrets (`unionvote trustee show`), and the next step:
 * { kind, name, step, next, size, threshold, index, owner, fingerprint, electionKey }.
 * next is "polynomial", "verification-key", "finish" or "decrypt".
 */
export function describeState(stateText) {
  const state = readState(stateText);
  const step = stepOf(state);
  const next = { certificate: "polynomial", polynomial: "verification-key", "verification-key": "finish", key: "finish", finished: "decrypt" }[step];
  const finished = state.owner !== null;
  return {
    kind: state.kind,
    name: state.name,
    step,
    next,
    size: state.size,
    threshold: state.threshold,
    index: state.index,
    owner: state.owner,
    fingerprint: finished ? fingerprint(state.trustees) : null,
    electionKey: finished ? String(electionPublicKey(state.trustees)) : null,
  };
}

/** The state file re-read and re-written (tests: the text is the same as the CLI's). */
export function normaliseState(stateText) {
  return writeState(readState(stateText));
}
