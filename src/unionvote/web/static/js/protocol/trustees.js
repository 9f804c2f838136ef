// The trustees structure (specification §"Trustees", §"Threshold parameters"), as much of
// src/unionvote/crypto/trustees.py as a trustee's browser needs to decrypt: its items, their
// sub-keys, and the election key y = ∏ sub-keys.
// ["Single", trustee_public_key]: the sub-key is the public key.
// ["Pedersen", threshold_parameters]: the sub-key is ∏_z A_{z,0}, the first commitment of each
// trustee's polynomial (from its signed coefexps message).

import { expectFields, parseElement, parseJson, parseKey, parseList, parseSmallInt } from "./encoding.js";
import { EncodingError } from "./errors.js";
import { IDENTITY } from "./group.js";

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
