// tests/vectors/ballots.json: ballots made with the recorded nonces are byte for byte the
// recorded ones (tracker included); Belenios's ballots check; every tampered ballot is refused
// with the recorded check.

import assert from "node:assert/strict";
import { before, test } from "node:test";

import { checkBallot, makeBallotWith, parseBallot, Ballot } from "../../src/unionvote/web/static/js/protocol/ballot.js";
import { parseElection } from "../../src/unionvote/web/static/js/protocol/election.js";
import { compactJson } from "../../src/unionvote/web/static/js/protocol/encoding.js";
import { revealChoice } from "../../src/unionvote/web/static/js/protocol/audit.js";
import { makeBallot, ready, trackerOf } from "../../src/unionvote/web/static/js/protocol/index.js";
import { replay, throwsCheck, vectors } from "./support.mjs";

before(ready);

const ballots = vectors("ballots.json");

function electionOf(c) {
  const text = compactJson(c.election);
  const parsed = parseElection(text);
  assert.equal(parsed.electionHash, c.election_hash, `${c.name}: φ of the compact election`);
  return { text, ...parsed };
}

test("ballots made with the recorded nonces are the recorded bytes and tracker", () => {
  const ours = ballots.valid.filter((c) => c.nonces !== undefined);
  assert.ok(ours.length >= 4);
  for (const c of ours) {
    const { election, electionHash } = electionOf(c);
    const rng = replay(c.nonces);
    const { ballot, nonces } = makeBallotWith(election, electionHash, c.credential, c.plaintext, rng);
    assert.equal(rng.remaining(), 0, c.name);
    const text = ballot.toText();
    assert.equal(text, compactJson(c.ballot), c.name);
    assert.equal(trackerOf(text), c.tracker, c.name);
    // The nonces returned open the ciphertexts to the plaintext (with the blank flag).
    const y = election.publicKey;
    ballot.answers.forEach((answer, i) => {
      const question = election.questions[i];
      const opened = answer.choices.map((choice, j) => revealChoice(choice, y, nonces[i][j], "test"));
      const votes = c.plaintext[i];
      const expected = question.blank ? [votes.every((v) => v === 0) ? 1 : 0, ...votes] : votes;
      assert.deepEqual(opened, expected, c.name);
    });
  }
});

test("every valid ballot (ours and belenios-tool's) parses canonically and checks", () => {
  assert.ok(ballots.valid.length >= 8);
  for (const c of ballots.valid) {
    const { election, electionHash } = electionOf(c);
    const text = compactJson(c.ballot);
    const ballot = parseBallot(text);
    checkBallot(election, electionHash, ballot);
    assert.equal(trackerOf(text), c.tracker, c.name);
  }
});

test("every tampered ballot is refused with the recorded check", () => {
  assert.ok(ballots.invalid.length >= 31);
  for (const c of ballots.invalid) {
    const { election, electionHash } = electionOf(c);
    throwsCheck(assert, () => checkBallot(election, electionHash, Ballot.fromJson(c.ballot)), c.check, c.name);
  }
});

test("makeBallot (the page's call) gives a fresh valid ballot, its tracker and its audit", () => {
  const c = ballots.valid.find((v) => v.nonces !== undefined && v.election.questions.length > 1);
  const { text, election, electionHash } = electionOf(c);
  const first = makeBallot({ election: text, credential: c.credential, answers: c.plaintext });
  const second = makeBallot({ election: text, credential: c.credential, answers: c.plaintext });
  assert.notEqual(first.ballot, second.ballot, "fresh randomness each time");
  for (const made of [first, second]) {
    checkBallot(election, electionHash, parseBallot(made.ballot));
    assert.equal(made.tracker, trackerOf(made.ballot));
    assert.equal(compactJson(made.audit.ballot), made.ballot);
    assert.equal(made.audit.election, text);
  }
});

test("choices outside the question's rules are refused before anything is encrypted", () => {
  const c = ballots.valid.find((v) => v.nonces !== undefined && v.election.questions.length > 1);
  const { text } = electionOf(c);
  const cases = [
    [[[1, 1], [0, 0, 0, 0]], "choices"], // two answers to a 1-of-2 question
    [[[0, 1], [1, 1, 1, 0]], "choices"], // three of at most two
    [[[1, 0, 1], [0, 0, 0, 0]], "choices"], // blank flag with an answer
    [[[0, 2], [0, 0, 0, 0]], "choices"], // not a bit
    [[[0, 1]], "choices"], // one question missing
  ];
  for (const [answers, check] of cases) {
    throwsCheck(assert, () => makeBallot({ election: text, credential: c.credential, answers }), check, JSON.stringify(answers));
  }
  // The blank flag form is accepted: [1, 0, 0] is blank, [0, 1, 0] a vote for the first answer.
  makeBallot({ election: text, credential: c.credential, answers: [[1, 0, 0], [0, 0, 0, 0]] });
  makeBallot({ election: text, credential: c.credential, answers: [[0, 1, 0], [0, 0, 1, 0]] });
});

test("a non-canonical election text is refused (its hash would not be the record's)", () => {
  const c = ballots.valid[0];
  const spaced = JSON.stringify(c.election, null, 1);
  throwsCheck(assert, () => makeBallot({ election: spaced, credential: c.credential ?? "x", answers: [] }), "election", "indented");
});
