// Shared by the Node tests: the repository's paths, the shared vector files, and a replaying
// random generator for the vectors' recorded nonces.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PROTOCOL = join(ROOT, "src", "unionvote", "web", "static", "js", "protocol");

/** One of tests/vectors/*.json, the same files the Python tests read. */
export function vectors(name) {
  return JSON.parse(readFileSync(join(ROOT, "tests", "vectors", name), "utf8"));
}

/** An rng that hands out the recorded scalars in order and fails if asked for more or fewer. */
export function replay(nonces) {
  const queue = nonces.map((n) => BigInt(n));
  const rng = () => {
    if (queue.length === 0) throw new Error("the code drew more scalars than the vector recorded");
    return queue.shift();
  };
  rng.remaining = () => queue.length;
  return rng;
}

/** Assert that `fn` throws a CryptoError whose check is `check`. */
export function throwsCheck(assert, fn, check, label) {
  assert.throws(fn, (error) => {
    assert.equal(error.check, check, `${label}: threw ${error.check}: ${error.message}`);
    return true;
  }, label);
}
