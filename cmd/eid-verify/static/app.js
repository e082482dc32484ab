// The login page of eid-verify: the whole integration on the browser side.
// 1. POST /api/nonce        -> a one-time challenge bound to this session
// 2. agent.authenticate     -> the agent signs it with the card (PIN in the
//                              agent's own dialog, never in this page)
// 3. POST /api/login        -> the server verifies the Web eID token
// and for a verified identity read:
// 1. agent.read(["bundle"]) -> the card's signed files
// 2. POST /api/identity     -> the server checks the National Register's
//                              signatures over them
import { connect } from "/eid-agent.js";

const agentURL = document.querySelector('meta[name="eid-agent"]').content;
const $ = (id) => document.getElementById(id);

function status(text) {
  $("status").textContent = text;
}

function showError(code, message) {
  const el = $("error");
  el.dataset.code = code;
  el.textContent = `${code}: ${message}`;
  el.hidden = false;
  status("Failed.");
}

function clearError() {
  const el = $("error");
  el.hidden = true;
  el.textContent = "";
  delete el.dataset.code;
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
async function agent() {
  if (client && !client.closed) return client;
  status("Connecting to the eID agent…");
  client = await connect(agentURL);
  // Keep the reader list current as cards come and go (no personal data),
  // at most once per burst of events: the agent rate-limits requests.
  let pending = null;
  client.subscribe(() => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refreshReaders().catch(() => {}); }, 500);
  }).catch(() => {});
  return client;
}

// The reader list: with several cards inserted the agent cannot guess
// (AMBIGUOUS_READER), so the user picks one.
async function refreshReaders() {
  const readers = await (await agent()).readers();
  const select = $("reader");
  const keep = select.value; // read after the wait: the user may have chosen meanwhile
  const options = [select.options[0]];
  for (const r of readers.filter((x) => x.card === "belpic")) {
    const o = document.createElement("option");
    o.value = r.name;
    o.textContent = r.appletVersion ? `${r.name} (eID, applet ${r.appletVersion})` : `${r.name} (eID)`;
    options.push(o);
  }
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function readerOption() {
  const name = $("reader").value;
  return name ? { reader: name } : {};
}

function list(el, items) {
  el.replaceChildren(...items.map(({ text, ok }) => {
    const li = document.createElement("li");
    li.textContent = text;
    li.className = ok ? "pass" : "fail";
    return li;
  }));
}

function showLogin(login) {
  const p = login.person;
  $("person-name").textContent = `${p.givenNames} ${p.surname}`.trim() || p.commonName;
  $("person-ssin").textContent = p.ssin;
  $("person-issuer").textContent = login.issuer || "?";
  $("person-ocsp").textContent = login.ocsp;
  list($("checks"), login.checks.map((c) => ({ text: c, ok: true })));
  $("who").hidden = false;
  $("login").hidden = true;
  $("logout").hidden = false;
  status("Logged in.");
}

async function busy(button, work) {
  button.disabled = true;
  clearError();
  try {
    await work();
  } catch (err) {
    showError(err.code || "ERROR", err.message || String(err));
    if (err.code === "AMBIGUOUS_READER") refreshReaders().catch(() => {});
  } finally {
    button.disabled = false;
  }
}

$("login").addEventListener("click", () => busy($("login"), async () => {
  status("Asking the server for a challenge…");
  const { nonce } = await api("/api/nonce");
  const c = await agent();
  status("Confirm with your PIN in the eID agent's window…");
  const token = await c.authenticate(nonce, {
    ...readerOption(),
    onProgress: (p) => { if (p.step === "pin") status("Enter your PIN in the eID agent's window…"); },
  });
  status("The server is checking the token…");
  showLogin(await api("/api/login", { token }));
}));

$("logout").addEventListener("click", () => busy($("logout"), async () => {
  await api("/api/logout");
  $("who").hidden = true;
  $("login").hidden = false;
  $("logout").hidden = true;
  status("Logged out.");
}));

$("read-identity").addEventListener("click", () => busy($("read-identity"), async () => {
  const c = await agent();
  status("Reading the card…");
  const reading = await c.read(["bundle"], readerOption());
  if (!reading || !reading.bundle) {
    const err = new Error("the agent sent no identity bundle (an agent too old for this service?)");
    err.code = "NO_BUNDLE";
    throw err;
  }
  status("The server is checking the National Register's signatures…");
  const res = await api("/api/identity", { bundle: reading.bundle });
  const r = res.reading;
  $("identity-name").textContent = `${r.identity.firstNames} ${r.identity.surname}`;
  $("identity-ssin").textContent = r.identity.nationalNumber;
  $("identity-birth").textContent = `${r.identity.birthDate}, ${r.identity.birthPlace}`;
  $("identity-address").textContent = r.address ? `${r.address.streetAndNumber}, ${r.address.zip} ${r.address.municipality}` : "(not read)";
  $("identity-card").textContent = `${r.card.cardNumber}, valid ${r.card.validFrom} to ${r.card.validUntil}`;
  $("identity-match").textContent = res.matchesLogin === null ? "(nobody logged in)" : (res.matchesLogin ? "yes" : "NO");
  if (r.photo) {
    $("photo").src = `data:image/jpeg;base64,${r.photo}`;
    $("photo").hidden = false;
  }
  list($("identity-checks"), res.checks.map((c) => ({
    text: `${c.name}: ${c.verdict}${c.detail ? ` (${c.detail})` : ""}`,
    ok: c.verdict === "valid" || c.verdict === "trusted" || c.verdict === "missing",
  })));
  $("identity").hidden = false;
  status("Identity verified.");
}));

// The agent may not be running yet: the buttons connect again.
refreshReaders().then(() => status("Ready.")).catch((err) => status(`eID agent not reached (${err.code || err}); start it and try again.`));

// Already logged in (page reload)?
fetch("/api/session", { credentials: "same-origin" })
  .then((r) => r.json())
  .then((s) => { if (s.loggedIn) showLogin(s.login); })
  .catch(() => {});
