// The trustee's key ceremony in the browser (ceremony.js): a whole 2-of-3 ceremony and a single
// key run in JavaScript, the committee's routing done here as services/trustees.py does it; the
// final list checked in full (tests/vectors/threshold.json's invalid items refused with their
// check); every step's refusals. Cross-language runs are in test_ceremony_cross.py.

import assert from "node:assert/strict";
import { before, test } from "node:test";

import {
  partialDecryption,
  ready,
  trusteeFinish,
  trusteeInit,
  trusteePolynomial,
  trusteeShow,
  trusteeSingleKey,
  trusteeVerificationKey,
} from "../../src/unionvote/web/static/js/protocol/index.js";
import { normaliseState } from "../../src/unionvote/web/static/js/protocol/ceremony.js";
import { g } from "../../src/unionvote/web/static/js/protocol/group.js";
import { readTrusteeItems } from "../../src/unionvote/web/static/js/protocol/trustees.js";
import { throwsCheck, vectors } from "./support.mjs";

before(ready);

/** What the committee's server routes to trustee j (1-based) for step 3. */
function vinputFor(polynomials, j) {
  return JSON.stringify({
    coefexps: polynomials.map((p) => p.coefexps),
    signatures: polynomials.map((p) => p.signature),
    sealed_shares: polynomials.map((p) => p.sealed_shares[j - 1]),
  });
}

function ceremony(size = 3, threshold = 2) {
  const started = Array.from({ length: size }, (_, i) => trusteeInit({ name: `T${i + 1}`, index: i + 1, size, threshold }));
  const certificates = JSON.stringify(started.map((s) => JSON.parse(s.message)));
  const stepped = started.map((s) => trusteePolynomial({ state: s.state, certificates }));
  const polynomials = stepped.map((s) => JSON.parse(s.message));
  const shared = stepped.map((s, i) => trusteeVerificationKey({ state: s.state, vinput: vinputFor(polynomials, i + 1) }));
  const single = trusteeSingleKey({ name: "Server" });
  const list = [
    JSON.parse(single.message),
    [
      "Pedersen",
      {
        threshold,
        certs: JSON.parse(certificates),
        coefexps: polynomials.map((p) => p.coefexps),
        signatures: polynomials.map((p) => p.signature),
        verification_keys: shared.map((s) => JSON.parse(s.message)),
      },
    ],
  ];
  return { started, certificates, stepped, polynomials, shared, single, trustees: JSON.stringify(list) };
}

test("a 2-of-3 ceremony and a single key run end to end; each trustee finds its owner number", () => {
  const c = ceremony();
  assert.deepEqual(c.shared.map((s) => trusteeShow(s.state).step), ["verification-key", "verification-key", "verification-key"]);
  const finished = [c.single, ...c.shared].map((s) => trusteeFinish({ state: s.state, trustees: c.trustees }));
  assert.deepEqual(finished.map((f) => f.owner), [1, 2, 3, 4]);
  assert.equal(new Set(finished.map((f) => f.fingerprint)).size, 1);
  assert.equal(new Set(finished.map((f) => f.electionKey)).size, 1);
  for (const f of finished) {
    assert.equal(f.message, null);
    const shown = trusteeShow(f.state);
    assert.equal(shown.step, "finished");
    assert.equal(shown.next, "decrypt");
    assert.equal(shown.fingerprint, f.fingerprint);
    assert.equal(normaliseState(f.state), f.state);
    assert.ok(f.state.endsWith("}\n"));
  }
  // Lagrange: any two key shares give the group's key (the shares are a real 2-of-3 sharing).
  const shares = finished.slice(1).map((f) => BigInt(JSON.parse(f.state).secret.key));
  const groupKey = readTrusteeItems(JSON.parse(c.trustees))[1].subKey;
  const Q = 2n ** 252n + 27742317777372353535851937790883648493n;
  const inv = (a) => {
    let [r0, r1, s0, s1] = [((a % Q) + Q) % Q, Q, 1n, 0n];
    while (r1 !== 0n) {
      const q = r0 / r1;
      [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
    }
    return ((s0 % Q) + Q) % Q;
  };
  for (const [i, j] of [[1, 2], [1, 3], [2, 3]]) {
    const li = (BigInt(j) * inv(BigInt(j - i))) % Q;
    const lj = (BigInt(i) * inv(BigInt(i - j))) % Q;
    const secret = (((shares[i - 1] * li + shares[j - 1] * lj) % Q) + Q) % Q;
    assert.ok(g.pow(secret).equals(groupKey), `trustees ${i} and ${j}`);
  }
  // Finishing twice with the same list is harmless; another list is refused.
  assert.equal(trusteeFinish({ state: finished[1].state, trustees: c.trustees }).state, finished[1].state);
  const other = ceremony();
  throwsCheck(assert, () => trusteeFinish({ state: finished[1].state, trustees: other.trustees }), "trustee.finish", "another list");
  throwsCheck(assert, () => trusteeFinish({ state: c.shared[0].state, trustees: other.trustees }), "trustee.finish", "not in it");
});

test("the state never leaks into a message, and the messages have the CLI's form", () => {
  const c = ceremony();
  const secrets = [c.single, ...c.shared].flatMap((s) => Object.values(JSON.parse(s.state).secret));
  assert.equal(secrets.length, 1 + 2 * 3);
  const messages = [c.single, ...c.started, ...c.stepped, ...c.shared].map((s) => s.message);
  for (const secret of secrets) for (const m of messages) assert.ok(!m.includes(secret));
  for (const m of messages) assert.equal(JSON.stringify(JSON.parse(m)), m); // compact
  assert.deepEqual(Object.keys(c.polynomials[0]), ["index", "coefexps", "signature", "sealed_shares"]);
  assert.deepEqual(Object.keys(JSON.parse(c.shared[0].message)), ["pok", "public_key", "signature"]);
  assert.deepEqual(JSON.parse(c.single.message)[0], "Single");
  assert.deepEqual(Object.keys(JSON.parse(c.single.message)[1]), ["pok", "public_key"]);
});

test("each step refuses what does not belong to it, naming the check", () => {
  const c = ceremony();
  const t1 = c.started[0].state;
  throwsCheck(assert, () => trusteeInit({ name: "x", index: 4, size: 3, threshold: 2 }), "ceremony.parameters", "index");
  throwsCheck(assert, () => trusteeInit({ name: "x", index: 1, size: 3, threshold: 4 }), "ceremony.parameters", "threshold");
  throwsCheck(assert, () => trusteePolynomial({ state: "{}", certificates: c.certificates }), "trustee.state", "not a state");
  throwsCheck(assert, () => trusteePolynomial({ state: c.single.state, certificates: c.certificates }), "trustee.state", "single");
  const two = JSON.stringify(JSON.parse(c.certificates).slice(0, 2));
  throwsCheck(assert, () => trusteePolynomial({ state: t1, certificates: two }), "ceremony.certificates", "too few");
  const swapped = JSON.parse(c.certificates);
  [swapped[0], swapped[1]] = [swapped[1], swapped[0]];
  throwsCheck(assert, () => trusteePolynomial({ state: t1, certificates: JSON.stringify(swapped) }), "ceremony.certificates", "not mine");
  throwsCheck(
    assert,
    () => trusteePolynomial({ state: c.started[2].state, certificates: JSON.stringify(swapped) }),
    "ceremony.certificates",
    "wrong context",
  );
  const other = ceremony();
  throwsCheck(assert, () => trusteePolynomial({ state: c.stepped[0].state, certificates: other.certificates }), "ceremony.certificates", "not the earlier ones");
  throwsCheck(assert, () => trusteePolynomial({ state: c.shared[0].state, certificates: c.certificates }), "ceremony.step", "past step 2");
  throwsCheck(assert, () => trusteeVerificationKey({ state: t1, vinput: vinputFor(c.polynomials, 1) }), "ceremony.step", "before step 2");
  // A share sealed for trustee 2 routed to trustee 1.
  throwsCheck(assert, () => trusteeVerificationKey({ state: c.stepped[0].state, vinput: vinputFor(c.polynomials, 2) }), "ceremony.vinput", "misrouted");
  // A share that does not match its sender's commitments: trustee 3's polynomial from another run.
  const mixed = c.polynomials.slice(0, 2).concat([other.polynomials[2]]);
  throwsCheck(assert, () => trusteeVerificationKey({ state: c.stepped[0].state, vinput: vinputFor(mixed, 1) }), "ceremony.vinput", "mixed");
  throwsCheck(assert, () => trusteeFinish({ state: c.stepped[0].state, trustees: c.trustees }), "ceremony.step", "not done");
  throwsCheck(assert, () => trusteeFinish({ state: c.single.state, trustees: "[]" }), "trustee.list", "empty list");
  // Step 3 again with the same input gives the same key share (a fresh proof).
  const again = trusteeVerificationKey({ state: c.shared[0].state, vinput: vinputFor(c.polynomials, 1) });
  assert.equal(JSON.parse(again.message).public_key, JSON.parse(c.shared[0].message).public_key);
  // A damaged state file says so.
  const damaged = JSON.parse(c.shared[0].state);
  damaged.secret.key = "12345";
  throwsCheck(assert, () => trusteeShow(JSON.stringify(damaged)), "trustee.state", "key and public key");
});

test("an unfinished state cannot decrypt", () => {
  const c = ceremony();
  throwsCheck(assert, () => partialDecryption({ trusteeKey: c.shared[0].state, request: "{}" }), "trustee.state", "unfinished");
});

test("the final list is checked in full: threshold.json's invalid items are refused", () => {
  const c = ceremony();
  const single = JSON.parse(c.single.message);
  const threshold = vectors("threshold.json");
  assert.ok(threshold.invalid.length >= 20);
  for (const v of threshold.invalid) {
    assert.throws(
      () => trusteeFinish({ state: c.single.state, trustees: JSON.stringify([single, v.trustee_item]) }),
      (error) => {
        assert.equal(error.check, "trustee.list", v.name);
        assert.ok(error.message.startsWith(`${v.check}:`), `${v.name}: ${error.message}`);
        return true;
      },
      v.name,
    );
  }
  for (const v of threshold.valid) {
    const done = trusteeFinish({ state: c.single.state, trustees: JSON.stringify([single, v.trustee_item]) });
    assert.equal(done.owner, 1, v.name);
  }
});
