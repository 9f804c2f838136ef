// tests/vectors/threshold.json: the election sub-key of a Pedersen item (what a trustee's
// browser needs to check that an election is encrypted to their ceremony's key), and each
// recorded key share matches its published verification key.

import assert from "node:assert/strict";
import { before, test } from "node:test";

import { g, ready } from "../../src/unionvote/web/static/js/protocol/group.js";
import { electionPublicKey, parseTrustees } from "../../src/unionvote/web/static/js/protocol/trustees.js";
import { vectors } from "./support.mjs";

before(ready);

const threshold = vectors("threshold.json");

test("the sub-key of each Pedersen item is the product of the first commitments", () => {
  assert.ok(threshold.valid.length >= 3);
  for (const c of threshold.valid) {
    const [item] = parseTrustees([c.trustee_item]);
    assert.equal(item.size, c.size);
    assert.equal(String(item.subKey), c.sub_key, c.name);
    assert.equal(String(electionPublicKey([item])), c.sub_key, c.name);
  }
});

test("each recorded key share S_j gives its verification key g^S_j", () => {
  for (const c of threshold.valid.filter((v) => v.private_shares_TEST_ONLY)) {
    c.private_shares_TEST_ONLY.forEach((share, j) => {
      assert.equal(String(g.pow(BigInt(share))), c.trustee_item[1].verification_keys[j].public_key, `${c.name} ${j + 1}`);
    });
  }
});
