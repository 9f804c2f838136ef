// The group Ed25519 as Belenios uses it (specification §"Elliptic curves", "Ed25519").
//
// Group arithmetic comes only from libsodium (libsodium-wrappers-sumo). This module adds what
// the protocol needs around it, as src/unionvote/crypto/group.py does:
// - Belenios's string form of a point: 64 lowercase hex digits of the big-endian integer whose
//   little-endian bytes are the RFC 8032 encoding (the RFC 8032 bytes, reversed, in hex);
// - the subgroup check on every decoded point;
// - the identity element, which libsodium's checks and multiplications refuse but which the
//   protocol produces (the product of no ciphertexts) and allows;
// - G.hash: SHA-256 over a prefix and comma-separated elements, read big-endian, mod q.
// Scalars of Z_q are BigInt values in [0, q); their arithmetic goes through libsodium's
// crypto_core_ed25519_scalar_* on 32-byte little-endian encodings.

import _sodium from "libsodium-wrappers-sumo";

import { EncodingError } from "./errors.js";

export const GROUP_NAME = "Ed25519";

/** q, the order of g: 2^252 + 27742317777372353535851937790883648493. */
export const Q = 2n ** 252n + 27742317777372353535851937790883648493n;

let sodium = null;

/** Wait for libsodium's WebAssembly; every other function needs it. */
export async function ready() {
  await _sodium.ready;
  sodium = _sodium;
}

/** libsodium, once `ready()` has resolved. */
export function lib() {
  if (sodium === null) {
    throw new Error("the protocol is not ready: await ready() first");
  }
  return sodium;
}

// -- bytes, hex and scalars ------------------------------------------------------------------

const HEX64 = /^[0-9a-f]{64}$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

export function bytesToHex(bytes) {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

export function hexToBytes(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** A big-endian byte string read as a non-negative integer. */
export function bytesToBigInt(bytes) {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** The 32-byte little-endian encoding of a scalar in [0, 2^256). */
export function scalarToBytes(k) {
  const bytes = new Uint8Array(32);
  let rest = k;
  for (let i = 0; i < 32; i++) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

function bytesToScalar(bytes) {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  return value;
}

export function utf8(text) {
  return new TextEncoder().encode(text);
}

export function sha256(data) {
  return lib().crypto_hash_sha256(typeof data === "string" ? utf8(data) : data);
}

export function sha256Hex(data) {
  return bytesToHex(sha256(data));
}

/** a + b mod q */
export function scalarAdd(a, b) {
  return bytesToScalar(lib().crypto_core_ed25519_scalar_add(scalarToBytes(a), scalarToBytes(b)));
}

/** a − b mod q */
export function scalarSub(a, b) {
  return bytesToScalar(lib().crypto_core_ed25519_scalar_sub(scalarToBytes(a), scalarToBytes(b)));
}

/** a · b mod q */
export function scalarMul(a, b) {
  return bytesToScalar(lib().crypto_core_ed25519_scalar_mul(scalarToBytes(a), scalarToBytes(b)));
}

/** A uniform non-zero scalar of Z_q from libsodium's generator (the browser's CSPRNG). */
export function randomScalar() {
  return bytesToScalar(lib().crypto_core_ed25519_scalar_random());
}

/** A scalar written in base 10 (the specification's Z_q), refusing anything not canonical. */
export function parseScalar(text) {
  if (typeof text !== "string" || !DECIMAL.test(text)) {
    throw new EncodingError("scalar", `not a base-10 number: ${JSON.stringify(String(text).slice(0, 80))}`);
  }
  const value = BigInt(text);
  if (value >= Q) {
    throw new EncodingError("scalar", `out of range (not below q): ${text.slice(0, 80)}`);
  }
  return value;
}

// -- group elements --------------------------------------------------------------------------

const IDENTITY_BYTES = (() => {
  const bytes = new Uint8Array(32);
  bytes[0] = 1;
  return bytes;
})();

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A point of the prime-order subgroup of Ed25519, or the identity. Immutable; made only by
 * `fromString` / `fromBytes` (which check membership) or by the group law.
 * Notation as in the specification: `a.mul(b)` is the group law, `a.div(b)` its inverse,
 * `a.pow(k)` exponentiation by a scalar.
 */
export class GroupElement {
  constructor(rfc8032) {
    this.bytes = rfc8032;
    this._string = null;
  }

  /** Decode the 32-byte RFC 8032 encoding, checking it is in the prime-order subgroup. */
  static fromBytes(rfc8032) {
    if (rfc8032.length !== 32) {
      throw new EncodingError("group_element", `${rfc8032.length} bytes instead of 32`);
    }
    if (sameBytes(rfc8032, IDENTITY_BYTES)) return IDENTITY;
    if (!lib().crypto_core_ed25519_is_valid_point(rfc8032)) {
      throw new EncodingError("group_element", "not a point of the prime-order subgroup of Ed25519");
    }
    return new GroupElement(Uint8Array.from(rfc8032));
  }

  /** Decode Belenios's string form (64 hex digits, big-endian) and check membership. */
  static fromString(text) {
    if (typeof text !== "string" || !HEX64.test(text)) {
      throw new EncodingError(
        "group_element",
        `not 64 lowercase hexadecimal digits: ${JSON.stringify(String(text).slice(0, 80))}`,
      );
    }
    const element = GroupElement.fromBytes(hexToBytes(text).reverse());
    if (element !== IDENTITY) element._string = text;
    return element;
  }

  /** Belenios's string form. */
  toString() {
    if (this._string === null) this._string = bytesToHex(Uint8Array.from(this.bytes).reverse());
    return this._string;
  }

  equals(other) {
    return other instanceof GroupElement && sameBytes(this.bytes, other.bytes);
  }

  get isIdentity() {
    return sameBytes(this.bytes, IDENTITY_BYTES);
  }

  mul(other) {
    return new GroupElement(lib().crypto_core_ed25519_add(this.bytes, other.bytes));
  }

  div(other) {
    return new GroupElement(lib().crypto_core_ed25519_sub(this.bytes, other.bytes));
  }

  /** this^k for a scalar k (BigInt; reduced mod q). */
  pow(k) {
    const exponent = ((k % Q) + Q) % Q;
    // libsodium refuses a zero scalar and the identity (their product is the identity).
    if (exponent === 0n || this.isIdentity) return IDENTITY;
    const scalar = scalarToBytes(exponent);
    if (sameBytes(this.bytes, BASE_BYTES)) {
      return new GroupElement(lib().crypto_scalarmult_ed25519_base_noclamp(scalar));
    }
    return new GroupElement(lib().crypto_scalarmult_ed25519_noclamp(scalar, this.bytes));
  }

  inverse() {
    return IDENTITY.div(this);
  }
}

export const IDENTITY = new GroupElement(IDENTITY_BYTES);

// The standard base point (y = 4/5, x even): its RFC 8032 encoding, so that g needs no libsodium.
const BASE_BYTES = hexToBytes("5866666666666666666666666666666666666666666666666666666666666666");

/** Belenios's g. */
export const g = new GroupElement(BASE_BYTES);

const smallPowers = new Map();

/**
 * g^m for the small plaintexts the proofs divide by (0/1, min..max), computed once each: an
 * encryption multiplies by g^m, and computing it there would cost nothing for m = 0 and a
 * multiplication otherwise, a time that tells the choice.
 */
export function gPower(m) {
  let power = smallPowers.get(m);
  if (power === undefined) {
    power = g.pow(BigInt(m));
    if (smallPowers.size < 1024) smallPowers.set(m, power);
  }
  return power;
}

/**
 * Belenios's G.hash: SHA-256 of `prefix` followed by the comma-separated elements (their
 * string forms), read as a 256-bit big-endian number, reduced mod q.
 */
export function hashToScalar(prefix, elements) {
  const text = prefix + elements.map(String).join(",");
  return bytesToBigInt(sha256(text)) % Q;
}
