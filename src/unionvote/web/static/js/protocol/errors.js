// The protocol's exceptions: checks throw, they never return a boolean.
//
// Every error carries `check`, a stable name for what failed, the same names the Python side
// uses (src/unionvote/crypto/errors.py): "group_element", "scalar", "ballot.signature", ...
// `message` is a plain English sentence; pages translate by `check`.

export class CryptoError extends Error {
  constructor(check, detail) {
    super(detail);
    this.name = "CryptoError";
    this.check = check;
    this.detail = detail;
  }

  toString() {
    return `${this.check}: ${this.detail}`;
  }
}

/** A value is not in the form the specification requires (a point, a scalar, a string). */
export class EncodingError extends CryptoError {
  constructor(check, detail) {
    super(check, detail);
    this.name = "EncodingError";
  }
}

/** A zero-knowledge proof, a signature or a revealed randomness does not verify. */
export class InvalidProof extends CryptoError {
  constructor(check, detail) {
    super(check, detail);
    this.name = "InvalidProof";
  }
}
