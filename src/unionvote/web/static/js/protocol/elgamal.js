// Exponential ElGamal over the election key (specification §"Homomorphic answers").
// A choice m is encrypted as (alpha, beta) = (g^r, y^r · g^m); the product of ciphertexts
// encrypts the sum of their plaintexts.

import { expectFields, parseElement } from "./encoding.js";
import { IDENTITY, g, gPower } from "./group.js";

export class Ciphertext {
  /** alpha = g^r (the pad), beta = y^r · g^m. */
  constructor(alpha, beta) {
    this.alpha = alpha;
    this.beta = beta;
  }

  mul(other) {
    return new Ciphertext(this.alpha.mul(other.alpha), this.beta.mul(other.beta));
  }

  pow(k) {
    return new Ciphertext(this.alpha.pow(k), this.beta.pow(k));
  }

  equals(other) {
    return this.alpha.equals(other.alpha) && this.beta.equals(other.beta);
  }

  toJson() {
    return { alpha: String(this.alpha), beta: String(this.beta) };
  }

  static fromJson(obj, what = "ciphertext") {
    expectFields(obj, what, ["alpha", "beta"]);
    return new Ciphertext(parseElement(obj.alpha), parseElement(obj.beta));
  }
}

/** The neutral ciphertext (1, 1). */
export const ZERO_CIPHERTEXT = new Ciphertext(IDENTITY, IDENTITY);

/** (g^r, y^r · g^m) with the nonce r given. */
export function encryptWithNonce(m, publicKey, r) {
  return new Ciphertext(g.pow(r), publicKey.pow(r).mul(gPower(m)));
}

/** The product of a non-empty list of ciphertexts. */
export function product(ciphertexts) {
  return ciphertexts.slice(1).reduce((total, c) => total.mul(c), ciphertexts[0]);
}
