// The counter page of eid-verify: the holder only inserts the card.
// 1. POST /api/counter/nonce  -> a challenge bound to this session
// 2. agent.counter({nonce})   -> the agent (paired with this origin by the
//                                administrator) stands the nonce for the
//                                next card
// 3. event card-read          -> the holder is shown at once; its
//                                attestation (eid-attestation:1) goes to
// 4. POST /api/counter/attestation -> the server checks genuine, present,
//                                bound, and logs the holder in
// then a new nonce stands for the next card.
import { connect } from "/eid-agent.js";

const agentURL = document.querySelector('meta[name="eid-agent"]').content;
const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };

function showError(code, message) {
  const el = $("error");
  el.dataset.code = code;
  el.textContent = `${code}: ${message}`;
  el.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  delete $("error").dataset.code;
}

async function api(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body === undefined ? {} : body),
    credentials: "same-origin",
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error((data.error && data.error.message) || res.statusText);
    err.code = (data.error && data.error.code) || `HTTP_${res.status}`;
    throw err;
  }
  return data;
}

let client = null;
let insertedAt = 0;

// standNonce leaves a fresh nonce with the agent for the next card; a
// nonce lives 5 minutes, so it is renewed before then.
let renew = null;
async function standNonce() {
  clearTimeout(renew);
  const { nonce, expiresInSeconds } = await api("/api/counter/nonce");
  const pairing = await client.counter({ nonce });
  renew = setTimeout(() => standNonce().catch(fail), Math.max(30, expiresInSeconds - 60) * 1000);
  return pairing;
}

function fail(err) {
  showError(err.code || "ERROR", err.message || String(err));
  status("Failed.");
}

function guarantee(text, ok) {
  const li = document.createElement("li");
  li.textContent = text;
  li.className = ok ? "pass" : "fail";
  return li;
}

function clearHolder() {
  $("holder").hidden = true;
  $("empty").hidden = false;
  $("photo").hidden = true;
  $("photo").removeAttribute("src");
  $("logged-in").hidden = true;
  $("guarantees").replaceChildren();
  $("revocation").textContent = "not asked";
  for (const id of ["holder-name", "holder-birth", "holder-reader", "person-name", "person-ssin"]) $(id).textContent = "";
}

async function onCardRead(ev) {
  clearError();
  // Shown at once, from the agent: the server's verdict follows.
  const id = ev.reading.identity || {};
  $("holder-name").textContent = `${id.firstNames || ""} ${id.surname || ""}`.trim();
  $("holder-birth").textContent = id.birthDate || "";
  $("holder-reader").textContent = ev.reader;
  if (ev.reading.photo) {
    $("photo").src = `data:image/jpeg;base64,${ev.reading.photo}`;
    $("photo").hidden = false;
  }
  $("guarantees").replaceChildren(guarantee("checking…", true));
  $("holder").hidden = false;
  $("empty").hidden = true;
  $("holder").dataset.shownAfterMs = insertedAt ? String(Math.round(performance.now() - insertedAt)) : "";
  status("Checking with the server…");
  try {
    if (!ev.attestation) {
      const err = new Error(ev.attestationError ? ev.attestationError.message : "the card-read carries no attestation");
      err.code = ev.attestationError ? ev.attestationError.code : "NO_ATTESTATION";
      throw err;
    }
    const res = await api("/api/counter/attestation", { attestation: ev.attestation });
    $("guarantees").replaceChildren(
      guarantee(`genuine: the National Register signed this data`, res.genuine),
      guarantee(res.present ? `present: the card answered now (${res.presentBy})` : "present: not proven (a card before applet 1.8)", res.present),
      guarantee(res.bound ? "bound: the answer was made for this site and this visit" : "bound: not proven", res.bound),
    );
    if (res.loggedIn) {
      $("person-name").textContent = `${res.person.givenNames} ${res.person.surname}`;
      $("person-ssin").textContent = res.person.ssin;
      $("logged-in").hidden = false;
      status("Logged in.");
    } else {
      status("Identity shown; not logged in (presence not proven).");
    }
  } catch (err) {
    $("guarantees").replaceChildren(guarantee(`refused: ${err.code || "ERROR"}`, false));
    fail(err);
  } finally {
    standNonce().catch(fail);
  }
}

async function main() {
  client = await connect(agentURL);
  // card-inserted (no personal data) times the display for the tests.
  client.on("card-inserted", () => { insertedAt = performance.now(); });
  client.on("card-read", (ev) => { onCardRead(ev); });
  client.on("card-removed", () => { clearHolder(); status("Insert a card."); });
  client.on("card-revocation", (ev) => { $("revocation").textContent = ev.status + (ev.detail ? ` (${ev.detail})` : ""); });
  await client.subscribe();
  const pairing = await standNonce();
  if (!pairing.attestation) {
    showError("NOT_ATTESTING", "the agent's pairing for this site sends no attestation: the server cannot check presence");
  }
  status("Insert a card.");
  document.body.dataset.ready = "1";
}

main().catch((err) => {
  if (err.code === "CONSENT_DENIED") {
    showError(err.code, "this desk is not paired with the eID agent: its administrator pairs it in the agent's policy ([[counter]])");
    status("Not paired.");
    return;
  }
  fail(err);
});
