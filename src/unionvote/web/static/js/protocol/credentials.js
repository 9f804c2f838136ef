// Voter credentials (specification §"Credentials"), as src/unionvote/crypto/credentials.py.
//
// A private credential is XXXXX-XXXXXX-XXXXX-XXXXXX: 22 Base58 characters. Ours draw 21 at
// random and make the last a checksum of them (53 − (n mod 53), n the 21 characters read in
// base 58), so that the booth can say "you mistyped your credential" before making a ballot.
// Any 22 characters are still a credential where the protocol needs one (Belenios-made
// credentials have no checksum); `typedCredential` is the strict entry point for what a member
// types. Its secret is x = int(SHA256hex("derive_credential|uuid|0|c") ‖
// SHA256hex("derive_credential|uuid|1|c"), 16) mod q, the dashes included in c; the public
// credential is g^x. The text of a private credential is never logged.

import { BASE58_ALPHABET } from "./encoding.js";
import { EncodingError } from "./errors.js";
import { Q, g, sha256Hex } from "./group.js";

const GROUPS = [5, 6, 5, 6];
const LENGTH = 22;

function checksumCharacter(digits) {
  let n = 0n;
  for (const ch of digits) n = n * 58n + BigInt(BASE58_ALPHABET.indexOf(ch));
  return BASE58_ALPHABET[53 - Number(n % 53n)];
}

function withDashes(raw) {
  const parts = [];
  let start = 0;
  for (const size of GROUPS) {
    parts.push(raw.slice(start, start + size));
    start += size;
  }
  return parts.join("-");
}

/** Any 22-character credential (surrounding spaces and dashes ignored), with its dashes. */
export function normaliseCredential(text) {
  if (typeof text !== "string") throw new EncodingError("credential", "a credential is text");
  const raw = text.trim().replaceAll("-", "");
  if (raw.length !== LENGTH || [...raw].some((ch) => !BASE58_ALPHABET.includes(ch))) {
    throw new EncodingError(
      "credential",
      "a credential is 22 letters and digits like XXXXX-XXXXXX-XXXXX-XXXXXX",
    );
  }
  return withDashes(raw);
}

/** Whether the last character is the checksum of the first 21 (unionvote's credentials). */
export function checksumOk(credential) {
  const raw = credential.replaceAll("-", "");
  return checksumCharacter(raw.slice(0, -1)) === raw.slice(-1);
}

/**
 * A credential as a member typed it from a unionvote letter or email: spaces anywhere are
 * ignored and the checksum must hold. Returns the normalised text.
 */
export function typedCredential(text) {
  if (typeof text !== "string") throw new EncodingError("credential", "a credential is text");
  const credential = normaliseCredential(text.split(/\s+/).join(""));
  if (!checksumOk(credential)) {
    throw new EncodingError("credential", "the credential is mistyped: please check each character again");
  }
  return credential;
}

/** secret(c) = x for the election `uuid` (a BigInt in Z_q). */
export function credentialSecret(credential, uuid) {
  const text = normaliseCredential(credential);
  const halves = [0, 1].map((i) => sha256Hex(`derive_credential|${uuid}|${i}|${text}`));
  return BigInt("0x" + halves.join("")) % Q;
}

/** The public credential g^x (a GroupElement). */
export function publicCredentialKey(credential, uuid) {
  return g.pow(credentialSecret(credential, uuid));
}
