// tests/vectors/proofs.json and signatures.json: every proof made with the recorded nonces is
// byte for byte the recorded one, every valid proof verifies, every altered one is refused with
// the recorded check.

import assert from "node:assert/strict";
import { before, test } from "node:test";

import { Ciphertext } from "../../src/unionvote/web/static/js/protocol/elgamal.js";
import { encryptWithNonce } from "../../src/unionvote/web/static/js/protocol/elgamal.js";
import { GroupElement, g, ready } from "../../src/unionvote/web/static/js/protocol/group.js";
import {
  Proof,
  proveBlank,
  proveDecryption,
  proveInterval,
  proveKnowledge,
  proveOverallBlank,
  signBallotHash,
  signMessage,
  verifyBallotSignature,
  verifyBlank,
  verifyDecryption,
  verifyInterval,
  verifyKnowledge,
  verifyMessageSignature,
  verifyOverallBlank,
} from "../../src/unionvote/web/static/js/protocol/proofs.js";
import { replay, throwsCheck, vectors } from "./support.mjs";

before(ready);

const proofs = vectors("proofs.json");
const signatures = vectors("signatures.json");

const point = (s) => GroupElement.fromString(s);
const ct = (obj) => Ciphertext.fromJson(obj);
const json = (ps) => ps.map((p) => p.toJson());

function verifyCase(c) {
  const check = c.check;
  switch (c.kind) {
    case "pok":
      return verifyKnowledge(point(c.public_key), Proof.fromJson(c.proof));
    case "decryption":
      return verifyDecryption(c.election_hash, point(c.public_key), point(c.alpha), point(c.factor), Proof.fromJson(c.proof));
    case "interval":
      return verifyInterval(check, c.context, point(c.public_key), ct(c.ciphertext), c.values, c.proofs.map(Proof.fromJson));
    case "blank":
      return verifyBlank(c.context, point(c.public_key), ct(c.is_blank), ct(c.total), c.proofs.map(Proof.fromJson));
    case "overall_blank":
      return verifyOverallBlank(c.context, point(c.public_key), ct(c.is_blank), ct(c.total), c.values, c.proofs.map(Proof.fromJson));
    default:
      throw new Error(`unknown kind ${c.kind}`);
  }
}

function proveCase(c) {
  const rng = replay(c.nonces);
  const y = c.public_key !== undefined ? point(c.public_key) : null;
  let made;
  switch (c.kind) {
    case "pok":
      made = proveKnowledge(BigInt(c.secret), rng).toJson();
      assert.equal(String(g.pow(BigInt(c.secret))), c.public_key);
      assert.deepEqual(made, c.proof, c.name);
      break;
    case "decryption": {
      const { factor, proof } = proveDecryption(c.election_hash, BigInt(c.secret), point(c.alpha), rng);
      assert.equal(String(factor), c.factor, c.name);
      assert.deepEqual(proof.toJson(), c.proof, c.name);
      break;
    }
    case "interval": {
      const ciphertext = encryptWithNonce(c.plaintext, y, BigInt(c.nonce));
      assert.deepEqual(ciphertext.toJson(), c.ciphertext, c.name);
      made = proveInterval(c.context, y, ciphertext, BigInt(c.nonce), c.index, c.values, rng);
      assert.deepEqual(json(made), c.proofs, c.name);
      break;
    }
    case "blank":
    case "overall_blank": {
      const flag = encryptWithNonce(c.is_blank_plaintext, y, BigInt(c.is_blank_nonce));
      const total = encryptWithNonce(c.total_plaintext, y, BigInt(c.total_nonce));
      assert.deepEqual(flag.toJson(), c.is_blank, c.name);
      assert.deepEqual(total.toJson(), c.total, c.name);
      const blank = c.is_blank_plaintext === 1;
      const nonce = BigInt(blank ? c.total_nonce : c.is_blank_nonce);
      if (c.kind === "blank") {
        made = proveBlank(c.context, y, flag, total, c.blank, nonce, rng);
      } else {
        made = proveOverallBlank(c.context, y, flag, total, c.values, c.known, BigInt(blank ? c.is_blank_nonce : c.total_nonce), rng);
      }
      assert.deepEqual(json(made), c.proofs, c.name);
      break;
    }
    default:
      throw new Error(`unknown kind ${c.kind}`);
  }
  assert.equal(rng.remaining(), 0, `${c.name}: every recorded nonce is used`);
}

test("proofs made with the recorded nonces are the recorded proofs", () => {
  const ours = proofs.valid.filter((c) => c.nonces !== undefined);
  assert.ok(ours.length >= 12);
  for (const c of ours) proveCase(c);
});

test("every valid proof verifies (ours and belenios-tool's)", () => {
  assert.ok(proofs.valid.length >= 21);
  for (const c of proofs.valid) verifyCase(c);
});

test("every altered proof is refused with the recorded check", () => {
  assert.ok(proofs.invalid.length >= 100);
  for (const c of proofs.invalid) throwsCheck(assert, () => verifyCase(c), c.check, c.name);
});

function verifySignature(c) {
  const proof = Proof.fromJson(c.signature);
  if (c.kind === "sigmsg") return verifyMessageSignature(c.message, point(c.verification_key), proof);
  return verifyBallotSignature(c.hash, point(c.credential), proof);
}

test("signatures made with the recorded nonces are the recorded ones", () => {
  const ours = signatures.valid.filter((c) => c.nonces !== undefined);
  assert.ok(ours.length >= 7);
  for (const c of ours) {
    const rng = replay(c.nonces);
    const made =
      c.kind === "sigmsg" ? signMessage(c.message, BigInt(c.signing_key), rng) : signBallotHash(c.hash, BigInt(c.credential_secret), rng);
    assert.deepEqual(made.toJson(), c.signature, c.message ?? c.hash);
    assert.equal(rng.remaining(), 0);
  }
});

test("every valid signature verifies; every altered one is refused", () => {
  for (const c of signatures.valid) verifySignature(c);
  assert.ok(signatures.invalid.length >= 72);
  for (const c of signatures.invalid) throwsCheck(assert, () => verifySignature(c), c.check, c.name);
});
