// tests/vectors/credentials.json: secret derivation, public credentials, the typed checksum.

import assert from "node:assert/strict";
import { before, test } from "node:test";

import { credentialSecret, normaliseCredential } from "../../src/unionvote/web/static/js/protocol/credentials.js";
import { checkCredential, publicCredential, ready } from "../../src/unionvote/web/static/js/protocol/index.js";
import { throwsCheck, vectors } from "./support.mjs";

before(ready);

const credentials = vectors("credentials.json");

test("Belenios credentials derive the recorded secret and public credential", () => {
  assert.ok(credentials.valid.length >= 16);
  for (const c of credentials.valid) {
    assert.equal(credentialSecret(c.credential, c.uuid).toString(), c.secret, c.credential);
    assert.equal(publicCredential(c.uuid, c.credential), c.public_credential, c.credential);
  }
});

test("unionvote's own credentials pass the typed check, with spaces and without dashes", () => {
  assert.ok(credentials.typed_valid.length >= 4);
  for (const c of credentials.typed_valid) {
    assert.equal(checkCredential(c.credential), c.credential);
    assert.equal(checkCredential(` ${c.credential.replaceAll("-", "").replace(/(.{4})/g, "$1 ")} `), c.credential);
  }
});

test("invalid credentials are refused; mistyped ones only by the typed check", () => {
  assert.ok(credentials.invalid.length >= 16);
  for (const c of credentials.invalid) {
    throwsCheck(assert, () => checkCredential(c.credential), c.check, c.why);
    if (c.typed_only) {
      assert.equal(normaliseCredential(c.credential), c.credential, c.why);
    } else {
      throwsCheck(assert, () => publicCredential("abcdefghijkmnop", c.credential), c.check, c.why);
    }
  }
});

test("a mistyped credential says so in plain words", () => {
  const text = credentials.typed_valid[0].credential;
  const wrong = text.slice(0, -1) + (text.endsWith("z") ? "y" : "z");
  assert.throws(() => checkCredential(wrong), /mistyped/);
});
