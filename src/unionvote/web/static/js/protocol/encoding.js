// Encodings the specification fixes (§"Conventions"): compact JSON in the specification's
// field order, unpadded Base64, the Base58 alphabet; and strict parsing helpers. The bytes
// must be exactly those of src/unionvote/crypto/encoding.py's compact_json (Python's
// json.dumps(separators=(",", ":"), ensure_ascii=False)): the server re-serialises a ballot and
// refuses it unless the bytes are the same.

import { EncodingError } from "./errors.js";
import { GroupElement, sha256, utf8 } from "./group.js";

export const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

const INTEGER_KEY = /^(0|[1-9][0-9]*)$/;

/**
 * Compact JSON in the order the fields were built, as a string (UTF-8 when encoded).
 * Objects are plain objects (insertion order) or Maps (for keys that look like integers, which
 * plain objects would reorder). Numbers must be safe integers: the protocol writes no other.
 */
export function compactJson(value) {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "string") {
    // JSON.stringify escapes exactly what Python escapes with ensure_ascii=False: the quote,
    // the backslash, and control characters below U+0020 (\b \f \n \r \t or \u00xx).
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new EncodingError("json", `not an integer: ${value}`);
    return String(value);
  }
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return "[" + value.map(compactJson).join(",") + "]";
  if (value instanceof Map) {
    const parts = [];
    for (const [key, item] of value) parts.push(JSON.stringify(key) + ":" + compactJson(item));
    return "{" + parts.join(",") + "}";
  }
  if (typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.some((key) => INTEGER_KEY.test(key))) {
      // JavaScript puts such keys first whatever the insertion order: use a Map.
      throw new EncodingError("json", "an object with integer-like keys must be a Map");
    }
    return "{" + keys.map((key) => JSON.stringify(key) + ":" + compactJson(value[key])).join(",") + "}";
  }
  throw new EncodingError("json", `cannot write ${typeof value} as JSON`);
}

/** Standard Base64 without its `=` padding. */
export function b64Unpadded(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/=+$/, "");
}

/** Unpadded Base64 of SHA-256 (of a string's UTF-8 bytes): φ, ballot hashes and trackers. */
export function sha256B64(data) {
  return b64Unpadded(sha256(typeof data === "string" ? utf8(data) : data));
}

// -- strict parsing of the specification's JSON structures -----------------------------------

export function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Throw EncodingError(what) unless `obj` is an object with exactly these fields. */
export function expectFields(obj, what, required, optional = []) {
  if (!isObject(obj)) throw new EncodingError(what, "expected a JSON object");
  const keys = Object.keys(obj);
  const missing = required.filter((f) => !keys.includes(f));
  const extra = keys.filter((f) => !required.includes(f) && !optional.includes(f));
  if (missing.length || extra.length) {
    throw new EncodingError(
      what,
      `missing fields ${JSON.stringify(missing)}, unexpected fields ${JSON.stringify(extra)}`,
    );
  }
}

/** A group element; the identity is allowed (an empty tally's ciphertexts are (1, 1)). */
export function parseElement(value) {
  if (typeof value !== "string") throw new EncodingError("group_element", "expected a string");
  return GroupElement.fromString(value);
}

/** A public key (credential, trustee's or election's): never the identity. */
export function parseKey(value) {
  const element = parseElement(value);
  if (element.isIdentity) {
    throw new EncodingError("group_element", "a public key cannot be the identity element");
  }
  return element;
}

/** The specification's I: a small non-negative integer written as a JSON number. */
export function parseSmallInt(value, what) {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new EncodingError(what, `expected a small non-negative integer, got ${String(value).slice(0, 40)}`);
  }
  return value;
}

export function parseList(value, what) {
  if (!Array.isArray(value)) throw new EncodingError(what, "expected a list");
  return value;
}

export function parseText(value, what) {
  if (typeof value !== "string") throw new EncodingError(what, "expected a string");
  return value;
}

/** JSON.parse, turning a syntax error into EncodingError(what). */
export function parseJson(text, what) {
  if (typeof text !== "string") throw new EncodingError(what, "expected JSON text");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new EncodingError(what, `not valid JSON (${error.message})`);
  }
}

/** Compare strings by Unicode code points, as Python's sorted() does. */
export function compareCodePoints(a, b) {
  const left = Array.from(a);
  const right = Array.from(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const diff = left[i].codePointAt(0) - right[i].codePointAt(0);
    if (diff !== 0) return diff;
  }
  return left.length - right.length;
}
