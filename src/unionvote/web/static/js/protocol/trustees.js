// The trustees structure (specification §"Trustees", §"Threshold parameters"), as much of
// src/unionvote/crypto/trustees.py as a trustee's browser needs to decrypt: its items, their
// sub-keys, and the election key y = ∏ sub-keys.
// ["Single", trustee_public_key]: the sub-key is the public key.
// ["Pedersen", threshold_parameters]: the sub-key is ∏_z A_{z,0}, the first commitment of each
// trustee's polynomial (from its signed coefexps message).

import { compactJson, expectFields, parseElement, parseJson, parseKey, parseList, parseSmallInt } from "./encoding.js";
import { EncodingError, InvalidProof } from "./errors.js";
import { GROUP_NAME, IDENTITY, Q, g, randomScalar } from "./group.js";
import { Proof, proveKnowledge, signMessage, verifyKnowledge, verifyMessageSignature } from "./proofs.js";

function readCoefexps(signed) {
  expectFields(signed, "signed_msg", ["message", "signature"]);
  const obj = parseJson(signed.message, "trustees.pedersen.coefexps");
  expectFields(obj, "trustees.pedersen.coefexps", ["coefexps"]);
  if (!Array.isArray(obj.coefexps) || obj.coefexps.length === 0) {
    throw new EncodingError("trustees.pedersen.coefexps", "expected a non-empty list");
  }
  return obj.coefexps.map(parseElement);
}

/** The items of a trustees structure, each { kind, subKey, size, body } (shape checked). */
export function parseTrustees(obj) {
  if (!Array.isArray(obj) || obj.length === 0) {
    throw new EncodingError("trustees", "expected a non-empty list of trustee items");
  }
  return obj.map((entry) => {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new EncodingError("trustees", "each item is [kind, parameters]");
    }
    const [kind, body] = entry;
    if (kind === "Single") {
      expectFields(body, "trustee_public_key", ["pok", "public_key"], ["signature"]);
      return { kind, size: 1, subKey: parseKey(body.public_key), body };
    }
    if (kind === "Pedersen") {
      expectFields(body, "trustees.pedersen", ["threshold", "certs", "coefexps", "signatures", "verification_keys"]);
      parseSmallInt(body.threshold, "trustees.pedersen");
      const coefexps = parseList(body.coefexps, "trustees.pedersen");
      const subKey = coefexps.reduce((key, signed) => key.mul(readCoefexps(signed)[0]), IDENTITY);
      return { kind, size: parseList(body.certs, "trustees.pedersen").length, subKey, body };
    }
    throw new EncodingError("trustees", `unknown trustee kind ${JSON.stringify(String(kind).slice(0, 40))}`);
  });
}

/** y = ∏_τ y_τ (§"Filling in the trustees structure"). */
export function electionPublicKey(items) {
  return items.reduce((key, item) => key.mul(item.subKey), IDENTITY);
}

// -- the public objects of the key ceremony, parsed canonically and checked in full -----------
// (src/unionvote/crypto/trustees.py's SignedMessage, CertKeys, TrusteePublicKey and
// PedersenTrustees.check; the trustee's finish step checks the final list with these.)

/** signed_msg {message, signature}: returns {message, signature: Proof}. */
export function parseSignedMessage(obj) {
  expectFields(obj, "signed_msg", ["message", "signature"]);
  if (typeof obj.message !== "string") throw new EncodingError("signed_msg", "message must be a string");
  return { message: obj.message, signature: Proof.fromJson(obj.signature) };
}

export function signedMessageJson(signed) {
  return { message: signed.message, signature: signed.signature.toJson() };
}

export function signMessageWith(message, signingKey, rng = randomScalar) {
  return { message, signature: signMessage(message, signingKey, rng) };
}

/** trustee_public_key {pok, public_key, signature?}: returns {pok, publicKey, signature|null}. */
export function parseTrusteePublicKey(obj) {
  expectFields(obj, "trustee_public_key", ["pok", "public_key"], ["signature"]);
  const signature = "signature" in obj ? Proof.fromJson(obj.signature) : null;
  return { pok: Proof.fromJson(obj.pok), publicKey: parseKey(obj.public_key), signature };
}

export function trusteePublicKeyJson(key) {
  const obj = { pok: key.pok.toJson(), public_key: String(key.publicKey) };
  if (key.signature !== null) obj.signature = key.signature.toJson();
  return obj;
}

/** X = g^x with its proof of knowledge and, in a threshold group, X signed by the PKI key. */
export function createTrusteePublicKey(secret, signingKey = null, rng = randomScalar) {
  const publicKey = g.pow(secret);
  const pok = proveKnowledge(secret, rng);
  const signature = signingKey === null ? null : signMessage(String(publicKey), signingKey, rng);
  return { pok, publicKey, signature };
}

/** cert_keys' message: the canonical compact JSON a certificate signs. */
export function certKeysMessage({ size, threshold, index, verification, encryption }) {
  return compactJson({
    context: { group: GROUP_NAME, size, threshold, index },
    verification: String(verification),
    encryption: String(encryption),
  });
}

/** Read a certificate and check it is signed by the verification key it carries. */
export function certKeysFromCert(cert, check = "trustees.cert") {
  let obj;
  try {
    obj = JSON.parse(cert.message);
  } catch {
    throw new EncodingError(check, "the certificate message is not JSON");
  }
  expectFields(obj, check, ["context", "verification", "encryption"]);
  const context = obj.context;
  expectFields(context, check, ["group", "size", "threshold", "index"]);
  if (context.group !== GROUP_NAME) {
    throw new EncodingError(check, `group ${JSON.stringify(context.group)}, not ${GROUP_NAME}`);
  }
  const keys = {
    size: parseSmallInt(context.size, check),
    threshold: parseSmallInt(context.threshold, check),
    index: parseSmallInt(context.index, check),
    verification: parseKey(obj.verification),
    encryption: parseKey(obj.encryption),
  };
  if (certKeysMessage(keys) !== cert.message) {
    throw new EncodingError(check, "the certificate message is not in canonical form");
  }
  verifyMessageSignature(cert.message, keys.verification, cert.signature, check);
  return keys;
}

/** ``certs_sig|`` followed by the compact ``certs`` structure (§"Polynomials"). */
export function certsSignatureMessage(certsJson, coefexps) {
  return "certs_sig|" + compactJson({ certs: certsJson, coefexps: coefexps.map(String) });
}

/** The serialized raw_coefexps that a coefexps signed message carries. */
export function coefexpsMessage(coefexps) {
  return compactJson({ coefexps: coefexps.map(String) });
}

export { readCoefexps };

/** g^{S_j} = ∏_i ∏_k A_{ik}^{j^k}: trustee j's public share, from the commitments alone. */
export function thresholdShareKey(allCoefexps, index) {
  let key = IDENTITY;
  for (const exps of allCoefexps) {
    let power = 1n;
    for (const a of exps) {
      key = key.mul(a.pow(power));
      power = (power * BigInt(index)) % Q;
    }
  }
  return key;
}

/**
 * A trustees structure parsed canonically and checked as a verifier checks it (every proof
 * and signature; PedersenTrustees.check). Returns items
 * {kind: "Single", key} or {kind: "Pedersen", threshold, certs, coefexps, signatures,
 * verificationKeys}, each with `size`, `subKey` and `json` (its canonical JSON value).
 */
export function readTrusteeItems(obj) {
  if (!Array.isArray(obj) || obj.length === 0) {
    throw new EncodingError("trustees", "expected a non-empty list of trustee items");
  }
  return obj.map((entry) => {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new EncodingError("trustees", "each item is [kind, parameters]");
    }
    const [kind, body] = entry;
    if (kind === "Single") {
      const key = parseTrusteePublicKey(body);
      verifyKnowledge(key.publicKey, key.pok, "trustees.single.pok");
      return { kind, size: 1, key, subKey: key.publicKey, json: ["Single", trusteePublicKeyJson(key)] };
    }
    if (kind === "Pedersen") {
      expectFields(body, "trustees.pedersen", ["threshold", "certs", "coefexps", "signatures", "verification_keys"]);
      const item = {
        kind,
        threshold: parseSmallInt(body.threshold, "trustees.pedersen"),
        certs: parseList(body.certs, "trustees.pedersen").map(parseSignedMessage),
        coefexps: parseList(body.coefexps, "trustees.pedersen").map(parseSignedMessage),
        signatures: parseList(body.signatures, "trustees.pedersen").map((s) => Proof.fromJson(s)),
        verificationKeys: parseList(body.verification_keys, "trustees.pedersen").map(parseTrusteePublicKey),
      };
      item.size = item.certs.length;
      checkPedersen(item);
      item.subKey = item.coefexps.reduce((key, signed) => key.mul(readCoefexps(signed)[0]), IDENTITY);
      item.json = [
        "Pedersen",
        {
          threshold: item.threshold,
          certs: item.certs.map(signedMessageJson),
          coefexps: item.coefexps.map(signedMessageJson),
          signatures: item.signatures.map((s) => s.toJson()),
          verification_keys: item.verificationKeys.map(trusteePublicKeyJson),
        },
      ];
      return item;
    }
    throw new EncodingError("trustees", `unknown trustee kind ${JSON.stringify(String(kind).slice(0, 40))}`);
  });
}

/** Every check a verifier makes on threshold parameters (§"Threshold parameters"). */
export function checkPedersen(item) {
  const m = item.certs.length;
  if (!(1 <= item.threshold && item.threshold <= m)) {
    throw new InvalidProof("trustees.pedersen.threshold", `${item.threshold} of ${m}`);
  }
  for (const [name, list] of [
    ["coefexps", item.coefexps],
    ["signatures", item.signatures],
    ["verification_keys", item.verificationKeys],
  ]) {
    if (list.length !== m) throw new InvalidProof("trustees.pedersen.shape", `${list.length} ${name} for ${m} certs`);
  }
  const keys = item.certs.map((c) => certKeysFromCert(c, "trustees.pedersen.cert"));
  keys.forEach((k, i) => {
    if (k.size !== m || k.threshold !== item.threshold || k.index !== i + 1) {
      throw new InvalidProof("trustees.pedersen.cert", `certificate ${i + 1} has the wrong context`);
    }
  });
  const certsJson = item.certs.map(signedMessageJson);
  const all = keys.map((k, i) => {
    const coefexps = item.coefexps[i];
    verifyMessageSignature(coefexps.message, k.verification, coefexps.signature, "trustees.pedersen.coefexps");
    const exps = readCoefexps(signedMessageJson(coefexps));
    if (exps.length !== item.threshold) {
      throw new InvalidProof(
        "trustees.pedersen.coefexps",
        `trustee ${i + 1} has ${exps.length} coefficients for threshold ${item.threshold}`,
      );
    }
    verifyMessageSignature(certsSignatureMessage(certsJson, exps), k.verification, item.signatures[i], "trustees.pedersen.signature");
    return exps;
  });
  keys.forEach((k, i) => {
    const vk = item.verificationKeys[i];
    verifyKnowledge(vk.publicKey, vk.pok, "trustees.pedersen.verification_key.pok");
    if (vk.signature === null) {
      throw new InvalidProof("trustees.pedersen.verification_key.signature", `verification key ${i + 1} is not signed`);
    }
    verifyMessageSignature(String(vk.publicKey), k.verification, vk.signature, "trustees.pedersen.verification_key.signature");
    if (!vk.publicKey.equals(thresholdShareKey(all, i + 1))) {
      throw new InvalidProof(
        "trustees.pedersen.verification_key",
        `verification key ${i + 1} does not match the polynomials' commitments`,
      );
    }
  });
}

/** For each owner (1-based, in order): [owner, item index, the public key it decrypts with]. */
export function keyOwners(items) {
  const owners = [];
  items.forEach((item, itemIndex) => {
    if (item.kind === "Single") owners.push([owners.length + 1, itemIndex, item.key.publicKey]);
    else {
      const first = owners.length + 1;
      item.verificationKeys.forEach((vk, z) => owners.push([first + z, itemIndex, vk.publicKey]));
    }
  });
  return owners;
}
