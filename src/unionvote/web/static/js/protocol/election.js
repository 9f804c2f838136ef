// The election entry (specification §"Elections"), as src/unionvote/record/messages.py's
// Election and Question: a strict parse of election.json that also insists the text is
// canonical (re-serialising the parsed value gives the same text), as belenios-tool does.

import {
  BASE58_ALPHABET,
  compactJson,
  expectFields,
  parseJson,
  parseKey,
  parseList,
  parseSmallInt,
  parseText,
  sha256B64,
} from "./encoding.js";
import { EncodingError } from "./errors.js";
import { GROUP_NAME } from "./group.js";

/** question_h: a homomorphic question; `blank` is written only when true. */
export class Question {
  constructor({ question, answers, min, max, blank = false }) {
    this.question = question;
    this.answers = answers;
    this.min = min;
    this.max = max;
    this.blank = blank;
    if (!(0 <= min && min <= max && max <= answers.length)) {
      throw new EncodingError("question", `need 0 ≤ min ≤ max ≤ answers, got ${min}, ${max}`);
    }
  }

  /** How many ciphertexts an answer has: one per choice, and the blank flag first if allowed. */
  get ciphertexts() {
    return this.answers.length + (this.blank ? 1 : 0);
  }

  toJson() {
    const obj = { answers: [...this.answers] };
    if (this.blank) obj.blank = true;
    obj.min = this.min;
    obj.max = this.max;
    obj.question = this.question;
    return obj;
  }

  static fromJson(obj) {
    const what = "election.question";
    expectFields(obj, what, ["answers", "min", "max", "question"], ["blank"]);
    const answers = parseList(obj.answers, what).map((a) => parseText(a, what));
    if ("blank" in obj && obj.blank !== true) {
      throw new EncodingError(what, "blank is written only when true");
    }
    const fields = {
      question: parseText(obj.question, what),
      answers,
      min: parseSmallInt(obj.min, what),
      max: parseSmallInt(obj.max, what),
      blank: obj.blank === true,
    };
    if (answers.length === 0) throw new EncodingError(what, "a question needs at least one answer");
    return new Question(fields);
  }
}

/** election: the questions, the key and the identity of one election. */
export class Election {
  constructor({ uuid, name, description, publicKey, questions, administrator, credentialAuthority }) {
    if (uuid.length < 14 || [...uuid].some((ch) => !BASE58_ALPHABET.includes(ch))) {
      throw new EncodingError("election.uuid", "a uuid is at least 14 Base58 characters");
    }
    if (questions.length === 0) {
      throw new EncodingError("election.questions", "an election has at least one question");
    }
    Object.assign(this, { uuid, name, description, publicKey, questions, administrator, credentialAuthority });
  }

  toJson() {
    const obj = {
      version: 1,
      description: this.description,
      name: this.name,
      group: GROUP_NAME,
      public_key: String(this.publicKey),
      questions: this.questions.map((q) => q.toJson()),
      uuid: this.uuid,
    };
    if (this.administrator !== undefined) obj.administrator = this.administrator;
    if (this.credentialAuthority !== undefined) obj.credential_authority = this.credentialAuthority;
    return obj;
  }

  static fromJson(obj) {
    const what = "election";
    expectFields(
      obj,
      what,
      ["version", "description", "name", "group", "public_key", "questions", "uuid"],
      ["administrator", "credential_authority"],
    );
    if (obj.version !== 1) throw new EncodingError("election.version", `version ${JSON.stringify(obj.version)}, not 1`);
    if (obj.group !== GROUP_NAME) {
      throw new EncodingError("election.group", `group ${JSON.stringify(obj.group)}, not ${GROUP_NAME}`);
    }
    return new Election({
      administrator: "administrator" in obj ? parseText(obj.administrator, what) : undefined,
      credentialAuthority: "credential_authority" in obj ? parseText(obj.credential_authority, what) : undefined,
      uuid: parseText(obj.uuid, what),
      name: parseText(obj.name, what),
      description: parseText(obj.description, what),
      publicKey: parseKey(obj.public_key),
      questions: parseList(obj.questions, what).map((q) => Question.fromJson(q)),
    });
  }
}

/**
 * election.json's text (exactly as served) → { election, electionHash }, where electionHash is
 * φ = unpadded Base64 of SHA-256 of its UTF-8 bytes. Refuses a non-canonical text, since its
 * hash would not be the record's.
 */
export function parseElection(text) {
  const election = Election.fromJson(parseJson(text, "election"));
  if (compactJson(election.toJson()) !== text) {
    throw new EncodingError("election", "not in canonical form (field order, spacing or number format)");
  }
  return { election, electionHash: sha256B64(text) };
}
