// The trustee's page: make the partial decryption in this browser.
//
// The trustee's key file is read with a file input that belongs to no form, on this device
// only; it is never sent. The decryption request is fetched from this site, the partial
// decryption is computed by the protocol module (the same format `unionvote trustee decrypt`
// writes), and only that result is uploaded, by the page's ordinary upload form, so the
// server checks it and answers with a page.
import { ready, partialDecryption } from "/static/js/protocol/index.js";

const section = document.getElementById("in-browser");

function message(key) {
  const template = document.getElementById("browser-messages");
  const found = template && template.content.querySelector(`[data-key="${key}"]`);
  return found ? found.textContent : key;
}

function say(text) {
  document.getElementById("browser-status").textContent = text;
}

async function makeAndUpload() {
  const input = document.getElementById("trustee-key");
  const file = input.files && input.files[0];
  if (!file) {
    say(message("choose"));
    input.focus();
    return;
  }
  const button = document.getElementById("make-partial");
  button.disabled = true;
  say(message("working"));
  try {
    const [trusteeKey, response] = await Promise.all([
      file.text(),
      fetch(`/trustee/stages/${encodeURIComponent(section.dataset.stage)}/decryption-request.json`, {
        credentials: "same-origin",
      }),
    ]);
    if (!response.ok) {
      throw new Error(`${response.status} ${response.statusText}`);
    }
    const request = await response.text();
    await ready();
    const partial = partialDecryption({ trusteeKey, request });
    say(message("uploading"));
    document.getElementById("partial-text").value = partial;
    document.getElementById("browser-upload").submit();
  } catch (error) {
    say(`${message("failed")} ${error && error.message ? error.message : error}`);
    button.disabled = false;
  }
}

if (section) {
  document.getElementById("make-partial").addEventListener("click", () => {
    makeAndUpload();
  });
}
