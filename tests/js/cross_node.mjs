// The Node side of tests/js/test_cross.py: reads one JSON command on stdin, runs the browser's
// protocol API (index.js) and writes the answer as JSON on stdout.
//   {"op":"ballots","election":text,"jobs":[{"credential","answers"}…]} → [{ballot,tracker,audit}…]
//   {"op":"audit","election":text,"ballot":text,"audit":obj}            → answers
//   {"op":"partial","trusteeKey":text,"request":text}                  → the file's text
//   {"op":"credential","uuid","text"}                                   → public credential
//   {"op":"trustee","step":"init|single-key|polynomial|verification-key|finish|show","args":{…}}
//                                      → the step's answer ({state, message, …}), as index.js's
// An error is written as {"error":{"check","message"}} with exit code 1.

import {
  auditBallot,
  makeBallot,
  partialDecryption,
  publicCredential,
  ready,
  trusteeFinish,
  trusteeInit,
  trusteePolynomial,
  trusteeShow,
  trusteeSingleKey,
  trusteeVerificationKey,
} from "../../src/unionvote/web/static/js/protocol/index.js";

const TRUSTEE_STEPS = {
  init: trusteeInit,
  "single-key": trusteeSingleKey,
  polynomial: trusteePolynomial,
  "verification-key": trusteeVerificationKey,
  finish: trusteeFinish,
  show: (args) => trusteeShow(args.state),
};

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const command = JSON.parse(Buffer.concat(chunks).toString("utf8"));

await ready();
try {
  let answer;
  switch (command.op) {
    case "ballots":
      answer = command.jobs.map((job) => makeBallot({ election: command.election, credential: job.credential, answers: job.answers }));
      break;
    case "audit":
      answer = auditBallot({ election: command.election, ballot: command.ballot, audit: command.audit });
      break;
    case "partial":
      answer = partialDecryption({ trusteeKey: command.trusteeKey, request: command.request });
      break;
    case "credential":
      answer = publicCredential(command.uuid, command.text);
      break;
    case "trustee":
      if (!(command.step in TRUSTEE_STEPS)) throw new Error(`unknown step ${command.step}`);
      answer = TRUSTEE_STEPS[command.step](command.args);
      break;
    default:
      throw new Error(`unknown op ${command.op}`);
  }
  process.stdout.write(JSON.stringify({ answer }));
} catch (error) {
  process.stdout.write(JSON.stringify({ error: { check: error.check ?? null, message: error.message } }));
  process.exitCode = 1;
}
