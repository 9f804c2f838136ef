// tests/vectors/encoding.json and hashes.json: point strings, scalars, proof objects, compact
// JSON and G.hash, byte for byte as the Python side.

import assert from "node:assert/strict";
import { before, test } from "node:test";

import { b64Unpadded, compactJson, sha256B64 } from "../../src/unionvote/web/static/js/protocol/encoding.js";
import { GroupElement, g, hashToScalar, parseScalar, ready, sha256Hex } from "../../src/unionvote/web/static/js/protocol/group.js";
import { Proof } from "../../src/unionvote/web/static/js/protocol/proofs.js";
import { throwsCheck, vectors } from "./support.mjs";

before(ready);

const encoding = vectors("encoding.json");
const hashes = vectors("hashes.json");

test("valid points: g^k has the recorded string, which decodes back", () => {
  const cases = encoding.valid.filter((c) => c.kind === "point");
  assert.ok(cases.length >= 7);
  for (const c of cases) {
    assert.equal(String(g.pow(BigInt(c.scalar))), c.point, `g^${c.scalar}`);
    assert.equal(String(GroupElement.fromString(c.point)), c.point);
  }
});

test("invalid point strings are refused with group_element", () => {
  const cases = encoding.invalid.filter((c) => c.kind === "point");
  assert.ok(cases.length >= 19);
  for (const c of cases) throwsCheck(assert, () => GroupElement.fromString(c.text), c.check, c.why);
});

test("scalars: canonical base-10 below q only", () => {
  for (const c of encoding.valid.filter((c) => c.kind === "scalar")) {
    assert.equal(parseScalar(c.text), BigInt(c.value));
  }
  const invalid = encoding.invalid.filter((c) => c.kind === "scalar");
  assert.ok(invalid.length >= 14);
  for (const c of invalid) throwsCheck(assert, () => parseScalar(c.text), c.check, c.why);
});

test("proof objects: exactly {challenge, response} as strings", () => {
  for (const c of encoding.valid.filter((c) => c.kind === "proof")) {
    assert.deepEqual(Proof.fromJson(c.json).toJson(), c.json);
  }
  for (const c of encoding.invalid.filter((c) => c.kind === "proof")) {
    throwsCheck(assert, () => Proof.fromJson(c.json), c.check, c.why);
  }
});

test("compact JSON is Python's bytes, and its Base64 SHA-256 matches", () => {
  const cases = encoding.valid.filter((c) => c.kind === "json");
  assert.ok(cases.length >= 7);
  for (const c of cases) {
    assert.equal(compactJson(c.value), c.compact, c.why);
    assert.equal(sha256B64(c.compact), c.sha256_b64, c.why);
  }
});

test("control characters and quotes are escaped as Python escapes them", () => {
  assert.equal(compactJson({ a: "\u001f\t\"\\/é\u007f" }), '{"a":"\\u001f\\t\\"\\\\/é\u007f"}');
  assert.equal(compactJson(new Map([["2", 1], ["10", 2]])), '{"2":1,"10":2}');
  assert.throws(() => compactJson({ 2: 1 }), /Map/);
  assert.equal(b64Unpadded(new Uint8Array([255, 254])), "//4");
});

test("G.hash: the recorded SHA-256 and its reduction mod q", () => {
  assert.ok(hashes.valid.length >= 7);
  for (const c of hashes.valid) {
    const text = c.prefix + c.elements.join(",");
    assert.equal(sha256Hex(text), c.sha256_hex, c.why);
    const elements = c.elements.map((e) => GroupElement.fromString(e));
    assert.equal(hashToScalar(c.prefix, elements).toString(), c.scalar, c.why);
  }
  for (const c of hashes.invalid) {
    throwsCheck(assert, () => hashToScalar(c.prefix, c.elements.map((e) => GroupElement.fromString(e))), c.check, c.why);
  }
});
