// The booth page: the member types their credential (checked here, never sent), chooses,
// reviews, and casts. The ballot is encrypted, proved and signed on this device by the
// protocol modules (./protocol/index.js); only the ballot goes to the server, and "Your vote
// is recorded" is shown only after the server answers 201 (the ballot is durably stored).
// "Check the encryption" makes a ballot, reveals its randomness and shows what it decrypts
// to — that ballot is never cast; the member then reviews and casts a fresh one.
// Nothing here logs or stores the credential or the choices.

import { auditBallot, checkCredential, makeBallot, ready } from "./protocol/index.js";

const booth = document.getElementById("booth");
const stage = booth.dataset.stage;
const csrf = booth.dataset.csrf;
const $ = (id) => document.getElementById(id);
const messages = {};
for (const span of $("booth-messages").content.querySelectorAll("[data-key]")) {
  messages[span.dataset.key] = span.textContent;
}

let electionText = null;
let credential = null; // normalised credential text, kept in this page's memory only
let answers = null; // per question, one 0/1 per answer (all zero: blank)
let auditDownloadUrl = null;

function showError(text) {
  const box = $("booth-error");
  box.textContent = text;
  box.hidden = !text;
  if (text) box.focus?.();
}

function say(text) {
  $("booth-status").textContent = text;
}

function show(sectionId) {
  for (const id of ["step-review", "step-audit", "step-receipt"]) {
    $(id).hidden = id !== sectionId;
  }
  const lockedChoice = sectionId !== null;
  $("choices").hidden = sectionId === "step-audit" || sectionId === "step-receipt";
  $("step-credential").hidden = sectionId === "step-receipt";
  for (const input of $("choices").querySelectorAll("input")) input.disabled = lockedChoice;
  $("review").disabled = lockedChoice;
  if (sectionId) $(sectionId).focus();
}

async function loadElection() {
  if (electionText !== null) return electionText;
  const response = await fetch(`/api/stages/${encodeURIComponent(stage)}/election`, {
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  electionText = await response.text();
  return electionText;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON: fall through to the status line
  }
  return `${response.status} ${response.statusText}`;
}

function readCredential() {
  const input = $("credential");
  const feedback = $("credential-feedback");
  const text = input.value.trim();
  if (!text) {
    feedback.textContent = messages["credential-missing"];
    feedback.className = "feedback bad";
    input.setAttribute("aria-invalid", "true");
    return null;
  }
  try {
    const normalised = checkCredential(text);
    feedback.textContent = messages["credential-ok"];
    feedback.className = "feedback ok";
    input.removeAttribute("aria-invalid");
    return normalised;
  } catch {
    feedback.textContent = messages["credential-bad"];
    feedback.className = "feedback bad";
    input.setAttribute("aria-invalid", "true");
    return null;
  }
}

function readChoices() {
  const result = [];
  const labels = [];
  for (const fieldset of $("choices").querySelectorAll("fieldset.question")) {
    const min = Number(fieldset.dataset.min);
    const max = Number(fieldset.dataset.max);
    const blankAllowed = fieldset.dataset.blank === "true";
    const inputs = [...fieldset.querySelectorAll("input")];
    const answerInputs = inputs.filter((i) => i.value !== "blank");
    const blankInput = inputs.find((i) => i.value === "blank");
    const chosen = answerInputs.filter((i) => i.checked);
    const blank = blankInput !== undefined && blankInput.checked;
    if (blank && chosen.length > 0) throw new Error(messages["blank-alone"]);
    if (!blank) {
      if (chosen.length === 0 && !(min === 0)) throw new Error(messages["choose-one"]);
      if (chosen.length > max) throw new Error(messages["too-many"]);
      if (chosen.length < min && !(blankAllowed && chosen.length === 0)) {
        throw new Error(messages["too-few"]);
      }
    }
    result.push(answerInputs.map((i) => (i.checked ? 1 : 0)));
    labels.push({
      question: fieldset.querySelector("legend").textContent,
      chosen: chosen.length ? chosen.map((i) => i.dataset.label) : [messages.blank],
    });
  }
  return { result, labels };
}

function fillList(list, items) {
  list.replaceChildren();
  for (const item of items) {
    const li = document.createElement("li");
    const strong = document.createElement("strong");
    strong.textContent = `${item.question}: `;
    li.append(strong, document.createTextNode(item.chosen.join(", ")));
    list.append(li);
  }
}

function review(event) {
  event.preventDefault();
  showError("");
  credential = readCredential();
  if (credential === null) {
    $("credential").focus();
    return;
  }
  try {
    const { result, labels } = readChoices();
    answers = result;
    fillList($("review-list"), labels);
    show("step-review");
  } catch (error) {
    showError(error.message);
  }
}

function change() {
  answers = null;
  show(null);
  $("choices").querySelector("input")?.focus();
}

async function cast() {
  showError("");
  const castButton = $("cast");
  castButton.disabled = true;
  try {
    const election = await loadElection();
    say(messages.encrypting);
    await ready();
    const made = makeBallot({ election, credential, answers });
    say(messages.sending);
    let response;
    try {
      response = await fetch(`/api/stages/${encodeURIComponent(stage)}/ballots`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: made.ballot,
      });
    } catch {
      throw new Error(messages.network);
    }
    if (response.status !== 201 && response.status !== 200) {
      throw new Error(await errorMessage(response));
    }
    const body = await response.json();
    $("tracker").textContent = body.tracker;
    $("find-link").href = `/stages/${encodeURIComponent(stage)}/find?tracker=${encodeURIComponent(body.tracker)}`;
    $("receipt-replaced").hidden = !body.replaced_earlier_ballot;
    $("receipt-replay").hidden = !body.already_recorded;
    $("receipt-replay").textContent = body.already_recorded ? body.message : "";
    say(messages.recorded);
    answers = null;
    show("step-receipt");
  } catch (error) {
    say("");
    showError(error.message || messages.failed);
  } finally {
    castButton.disabled = false;
  }
}

async function audit() {
  showError("");
  try {
    const election = await loadElection();
    say(messages.encrypting);
    await ready();
    const made = makeBallot({ election, credential, answers });
    const decoded = auditBallot({ election, ballot: made.ballot, audit: made.audit });
    const items = [];
    const fieldsets = [...$("choices").querySelectorAll("fieldset.question")];
    decoded.forEach((bits, q) => {
      const fieldset = fieldsets[q];
      const blankAllowed = fieldset.dataset.blank === "true";
      const labels = [...fieldset.querySelectorAll("input")]
        .filter((i) => i.value !== "blank")
        .map((i) => i.dataset.label);
      const answerBits = blankAllowed ? bits.slice(1) : bits;
      const chosen = labels.filter((_, i) => answerBits[i] === 1);
      items.push({
        question: fieldset.querySelector("legend").textContent,
        chosen: chosen.length ? chosen : [messages.blank],
      });
    });
    fillList($("audit-list"), items);
    const text = JSON.stringify(made.audit, null, 2);
    $("audit-json").textContent = text;
    $("audit-tracker").textContent = made.tracker;
    if (auditDownloadUrl) URL.revokeObjectURL(auditDownloadUrl);
    auditDownloadUrl = URL.createObjectURL(new Blob([text + "\n"], { type: "application/json" }));
    $("audit-download").href = auditDownloadUrl;
    say("");
    show("step-audit");
  } catch (error) {
    say("");
    showError(error.message || messages.failed);
  }
}

function backFromAudit() {
  // The audited ballot is discarded: casting makes a fresh one with fresh randomness.
  $("audit-json").textContent = "";
  show("step-review");
}

$("review").addEventListener("click", review);
$("change").addEventListener("click", change);
$("cast").addEventListener("click", cast);
$("audit").addEventListener("click", audit);
$("audit-back").addEventListener("click", backFromAudit);
$("credential").addEventListener("change", () => {
  if ($("credential").value.trim()) readCredential();
});
$("booth-error").tabIndex = -1;
// The page serves "Review my choice" disabled: it works only once this script is ready.
$("review").disabled = booth.dataset.phase !== "voting";
