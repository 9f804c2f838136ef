// tests/vectors/audits.json: audited ballots (cast-or-audit). The browser's auditBallot opens
// each recorded file to its answers and refuses every altered one with the same check as
// Python's unionvote.verify.audited; makeBallot's audit passes its own check.

import assert from "node:assert/strict";
import { before, test } from "node:test";

import { compactJson } from "../../src/unionvote/web/static/js/protocol/encoding.js";
import { auditBallot, makeBallot, ready } from "../../src/unionvote/web/static/js/protocol/index.js";
import { throwsCheck, vectors } from "./support.mjs";

before(ready);

const audits = vectors("audits.json");
const ballots = vectors("ballots.json");

const call = (file) => auditBallot({ election: file.election, ballot: compactJson(file.ballot), audit: file });

test("recorded audited ballots open to their claimed answers", () => {
  assert.ok(audits.valid.length >= 4);
  for (const c of audits.valid) assert.deepEqual(call(c.file), c.file.answers, c.name);
});

test("every altered audited ballot is refused with the recorded check", () => {
  assert.ok(audits.invalid.length >= 60);
  for (const c of audits.invalid) throwsCheck(assert, () => call(c.file), c.check, c.name);
});

test("an audit is refused for another election text or another ballot than its own", () => {
  const [first, second] = audits.valid.map((c) => c.file);
  throwsCheck(assert, () => auditBallot({ election: second.election === first.election ? "{}" : second.election, ballot: compactJson(first.ballot), audit: first }), "audit.election", "election");
  throwsCheck(assert, () => auditBallot({ election: first.election, ballot: compactJson(second.ballot), audit: first }), "audit.ballot", "ballot");
});

test("makeBallot's audit opens to what was chosen, blank flag first", () => {
  for (const c of ballots.valid.filter((v) => v.nonces !== undefined)) {
    const election = compactJson(c.election);
    const made = makeBallot({ election, credential: c.credential, answers: c.plaintext });
    const answers = auditBallot({ election, ballot: made.ballot, audit: made.audit });
    const expected = c.election.questions.map((q, i) =>
      q.blank ? [c.plaintext[i].every((m) => m === 0) ? 1 : 0, ...c.plaintext[i]] : c.plaintext[i],
    );
    assert.deepEqual(answers, expected, c.name);
    assert.deepEqual(made.audit.answers, expected, c.name);
    // The audit object survives JSON (it is what the member downloads).
    assert.deepEqual(auditBallot({ election, ballot: made.ballot, audit: JSON.parse(JSON.stringify(made.audit)) }), expected);
  }
});
