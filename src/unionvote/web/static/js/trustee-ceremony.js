// The trustee's side of the key ceremony, in this browser.
//
// The page says which step the trustee is at (the server knows it from the messages it has
// stored). This script reads the trustee's state file with a file input that belongs to no
// form (it is never sent), fetches the committee's input for the step from this site, runs the
// step with the protocol module (the same state file and message `unionvote trustee` writes),
// and offers the NEW state file as a download. Only once the trustee has downloaded it and
// ticked "I have saved …" can the message (public, or sealed to the other trustees) be sent,
// by the page's ordinary form, so that the server checks it and answers with a page.
import {
  ready,
  trusteeFinish,
  trusteeInit,
  trusteePolynomial,
  trusteeShow,
  trusteeSingleKey,
  trusteeVerificationKey,
} from "/static/js/protocol/index.js";

const root = document.getElementById("ceremony");
let objectUrl = null;
let unsaved = false;

function text(key) {
  const template = document.getElementById("ceremony-messages");
  const found = template && template.content.querySelector(`[data-key="${key}"]`);
  return found ? found.textContent : key;
}

function say(message) {
  document.getElementById("ceremony-status").textContent = message;
}

async function committeeInput() {
  const response = await fetch(root.dataset.input, { credentials: "same-origin" });
  const body = await response.text();
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      detail = JSON.parse(body).error.message;
    } catch {
      // not a JSON refusal: keep the status line
    }
    throw new Error(detail);
  }
  return body;
}

async function readState() {
  const input = document.getElementById("state-file");
  const file = input && input.files && input.files[0];
  if (!file) {
    return null;
  }
  return file.text();
}

async function runStep() {
  const step = root.dataset.step;
  const needsState = Boolean(document.getElementById("state-file"));
  const state = needsState ? await readState() : null;
  if (needsState && state === null) {
    say(text("choose"));
    document.getElementById("state-file").focus();
    return;
  }
  const button = document.getElementById("run-step");
  button.disabled = true;
  say(text("working"));
  try {
    const input = root.dataset.input ? await committeeInput() : null;
    await ready();
    let made;
    if (step === "init") {
      made = trusteeInit({
        name: root.dataset.name,
        index: Number(root.dataset.index),
        size: Number(root.dataset.size),
        threshold: Number(root.dataset.threshold),
      });
    } else if (step === "single-key") {
      made = trusteeSingleKey({ name: root.dataset.name });
    } else if (step === "polynomial") {
      made = trusteePolynomial({ state, certificates: input });
    } else if (step === "verification-key") {
      made = trusteeVerificationKey({ state, vinput: input });
    } else if (step === "finish") {
      made = trusteeFinish({ state, trustees: input });
      if (root.dataset.fingerprint && made.fingerprint !== root.dataset.fingerprint) {
        throw new Error(text("fingerprint"));
      }
    } else {
      throw new Error(step);
    }
    trusteeShow(made.state); // the new state file reads back (a last check before it is saved)
    offer(made);
  } catch (error) {
    say(`${text("failed")} ${error && error.message ? error.message : error}`);
    button.disabled = false;
  }
}

function offer(made) {
  if (objectUrl) {
    URL.revokeObjectURL(objectUrl);
  }
  objectUrl = URL.createObjectURL(new Blob([made.state], { type: "application/json" }));
  const link = document.getElementById("state-download");
  link.href = objectUrl;
  link.download = root.dataset.filename;
  const form = document.getElementById("send-form");
  if (form) {
    document.getElementById("message-text").value = made.message;
  }
  if (made.owner !== undefined && made.owner !== null) {
    document.getElementById("finish-done").dataset.owner = String(made.owner);
  }
  unsaved = true;
  const checkbox = document.getElementById("state-saved");
  checkbox.checked = false;
  checkbox.disabled = true;
  document.getElementById("save-state").hidden = false;
  say(text("made"));
  document.getElementById("save-heading").focus();
}

function downloaded() {
  document.getElementById("state-saved").disabled = false;
}

function confirmed() {
  const saved = document.getElementById("state-saved").checked;
  unsaved = !saved;
  const form = document.getElementById("send-form");
  if (form) {
    form.hidden = !saved;
    document.getElementById("send-message").disabled = !saved;
    if (saved) {
      say(text("saved"));
    }
  } else {
    const done = document.getElementById("finish-done");
    done.hidden = !saved;
    if (saved) {
      say(text("finished").replace("{owner}", done.dataset.owner || ""));
    }
  }
}

if (root) {
  document.getElementById("run-step").addEventListener("click", () => {
    runStep();
  });
  document.getElementById("state-download").addEventListener("click", downloaded);
  document.getElementById("state-saved").addEventListener("change", confirmed);
  const form = document.getElementById("send-form");
  if (form) {
    form.addEventListener("submit", (event) => {
      if (unsaved || !document.getElementById("message-text").value) {
        event.preventDefault();
        say(text("unsaved"));
      }
    });
  }
  window.addEventListener("beforeunload", (event) => {
    if (unsaved) {
      event.preventDefault();
      event.returnValue = text("unsaved");
    }
  });
}
