// The demo page: connects to the agent that served it, lists readers and
// live card events, reads and authenticates the card (the token is
// validated by the page's own server, POST /demo/verify), and, when the
// agent offers them, the ISI+ input and the simulator controls.
//
// Plain DOM, textContent only (nothing the card or agent says is parsed as
// HTML); the page's CSP allows no inline script or style.
import { connect, captureScan, EidAgentError } from "/eid-agent.js";

// ---- language: labels in en/nl/fr, errors in the agent's language ----

const LABELS = {
  nl: {
    skip: "Naar de inhoud", title: "eid-agent demo", agent: "Agent", reconnect: "Opnieuw verbinden",
    connecting: "verbinden…", connected: "verbonden", closed: "verbinding verbroken", failed: "geen verbinding",
    readers: "Kaartlezers", chooseReader: "Te gebruiken lezer", noReaders: "Geen kaartlezer gevonden.",
    events: "Kaartgebeurtenissen", card: "Kaart", readCard: "Kaart lezen", autoRead: "Lezen zodra een kaart ingestoken wordt",
    name: "Naam", birthDate: "Geboortedatum", nationalNumber: "Rijksregisternummer", cardNumber: "Kaartnummer",
    validity: "Geldig", address: "Adres", integrity: "Integriteitscontroles", check: "Controle", verdict: "Resultaat",
    authentication: "Authenticatie", authenticate: "Authenticeren", issuer: "Uitgever", algorithm: "Algoritme",
    checksPassed: "Geslaagde controles", scanLabel: "Scan een ISI+-kaart (klik in dit veld en scan)",
    scanHelp: "Een barcodescanner in toetsenbordmodus typt snel en eindigt met Enter.", manualEntry: "Manuele invoer",
    reason: "Reden voor manuele invoer", reason1: "Niet van toepassing", reason2: "Document zonder chip",
    reason3: "Kaartlezer niet beschikbaar", reason4: "Uitgestelde controle (geen geldig document)",
    reason5: "Uitgestelde controle (vergeten te lezen)", reason6: "Geen koppeling tussen programma's",
    lastName: "Naam", firstName: "Voornaam", submit: "Versturen", simulator: "Simulator", profile: "Kaartprofiel",
    insert: "Kaart insteken", remove: "Kaart verwijderen", shortcuts: "Sneltoetsen: i steekt in, r verwijdert (buiten tekstvelden).",
    noCard: "geen kaart", belpic: "Belgische eID", unknownCard: "onbekende kaart", reading: "Kaart lezen…",
    cardRemoved: "Kaart verwijderd.", cardInserted: "Kaart ingestoken.", verifying: "Token controleren…",
    pin: "Geef uw pincode in het venster van de agent.", queued: "Wachten op de lezer…", signing: "Ondertekenen…",
    nonce: "Uitdaging ophalen…", verified: "Geverifieerd", sent: "Doorgegeven aan de agent…", accepted: "Ontvangen door de agent.",
    "reader-added": "lezer aangesloten", "reader-removed": "lezer verwijderd", "card-inserted": "kaart ingestoken", "card-removed": "kaart verwijderd",
  },
  fr: {
    skip: "Aller au contenu", title: "Démo eid-agent", agent: "Agent", reconnect: "Reconnecter",
    connecting: "connexion…", connected: "connecté", closed: "connexion perdue", failed: "pas de connexion",
    readers: "Lecteurs", chooseReader: "Lecteur à utiliser", noReaders: "Aucun lecteur de carte trouvé.",
    events: "Événements de carte", card: "Carte", readCard: "Lire la carte", autoRead: "Lire dès qu'une carte est insérée",
    name: "Nom", birthDate: "Date de naissance", nationalNumber: "Numéro de registre national", cardNumber: "Numéro de carte",
    validity: "Valable", address: "Adresse", integrity: "Contrôles d'intégrité", check: "Contrôle", verdict: "Résultat",
    authentication: "Authentification", authenticate: "S'authentifier", issuer: "Émetteur", algorithm: "Algorithme",
    checksPassed: "Contrôles réussis", scanLabel: "Scannez une carte ISI+ (cliquez dans ce champ puis scannez)",
    scanHelp: "Un lecteur de codes-barres en mode clavier tape vite et termine par Entrée.", manualEntry: "Saisie manuelle",
    reason: "Motif de la saisie manuelle", reason1: "Sans objet", reason2: "Document sans puce",
    reason3: "Lecteur de carte indisponible", reason4: "Vérification différée (pas de document valable)",
    reason5: "Vérification différée (oubli de lecture)", reason6: "Absence d'interconnexion entre logiciels",
    lastName: "Nom", firstName: "Prénom", submit: "Envoyer", simulator: "Simulateur", profile: "Profil de carte",
    insert: "Insérer la carte", remove: "Retirer la carte", shortcuts: "Raccourcis : i insère, r retire (hors des champs de texte).",
    noCard: "pas de carte", belpic: "eID belge", unknownCard: "carte inconnue", reading: "Lecture de la carte…",
    cardRemoved: "Carte retirée.", cardInserted: "Carte insérée.", verifying: "Vérification du jeton…",
    pin: "Entrez votre code PIN dans la fenêtre de l'agent.", queued: "En attente du lecteur…", signing: "Signature…",
    nonce: "Obtention du défi…", verified: "Vérifié", sent: "Transmis à l'agent…", accepted: "Reçu par l'agent.",
    "reader-added": "lecteur branché", "reader-removed": "lecteur débranché", "card-inserted": "carte insérée", "card-removed": "carte retirée",
  },
  en: {
    skip: "Skip to content", title: "eid-agent demo", agent: "Agent", reconnect: "Reconnect",
    connecting: "connecting…", connected: "connected", closed: "connection lost", failed: "not connected",
    readers: "Readers", chooseReader: "Reader to use", noReaders: "No card reader found.",
    events: "Card events", card: "Card", readCard: "Read card", autoRead: "Read when a card is inserted",
    name: "Name", birthDate: "Birth date", nationalNumber: "National number", cardNumber: "Card number",
    validity: "Valid", address: "Address", integrity: "Integrity checks", check: "Check", verdict: "Verdict",
    authentication: "Authentication", authenticate: "Authenticate", issuer: "Issuer", algorithm: "Algorithm",
    checksPassed: "Checks passed", scanLabel: "Scan an ISI+ card (focus this field, then scan)",
    scanHelp: "A barcode scanner in keyboard mode types fast and ends with Enter.", manualEntry: "Manual entry",
    reason: "Reason for manual entry", reason1: "Not applicable", reason2: "Document without chip",
    reason3: "Card reader unavailable", reason4: "Deferred verification (no valid document)",
    reason5: "Deferred verification (forgot to read)", reason6: "Software interconnection missing",
    lastName: "Last name", firstName: "First name", submit: "Submit", simulator: "Simulator", profile: "Card profile",
    insert: "Insert card", remove: "Remove card", shortcuts: "Shortcuts: i inserts, r removes (outside text fields).",
    noCard: "no card", belpic: "Belgian eID", unknownCard: "unknown card", reading: "Reading the card…",
    cardRemoved: "Card removed.", cardInserted: "Card inserted.", verifying: "Verifying the token…",
    pin: "Enter your PIN in the agent's dialog.", queued: "Waiting for the reader…", signing: "Signing…",
    nonce: "Getting a challenge…", verified: "Verified", sent: "Sent to the agent…", accepted: "Received by the agent.",
    "reader-added": "reader added", "reader-removed": "reader removed", "card-inserted": "card inserted", "card-removed": "card removed",
  },
};

const params = new URLSearchParams(location.search);
// ?lang= overrides the browser's language (handy for tests and screenshots).
const requested = (params.get("lang") || navigator.language || "en").slice(0, 2).toLowerCase();
const lang = LABELS[requested] ? requested : "en";
const L = LABELS[lang];
document.documentElement.lang = lang;
for (const el of document.querySelectorAll("[data-i18n]")) {
  const text = L[el.dataset.i18n];
  if (text) el.textContent = text;
}
document.title = L.title;

const $ = (id) => document.getElementById(id);

// ---- where the agent is ----

// The agent serves this page: it is at this page's own host and port,
// and nowhere else. ?agent= may only name that same place; anything else
// (another port, another name for this machine) is refused and nothing
// is connected: a link could otherwise hand a program listening on
// another local port everything this page sends (ISI+ scans, typed
// national numbers). The page's CSP allows only its own host too.
const AGENT_URL_REFUSED = {
  en: "This page talks only to the eID agent that served it: the ?agent= address in its link is refused.",
  nl: "Deze pagina spreekt alleen met de eID-agent die haar aanbood: het ?agent=-adres in de link wordt geweigerd.",
  fr: "Cette page ne parle qu'à l'agent eID qui l'a servie : l'adresse ?agent= de son lien est refusée.",
  de: "Diese Seite spricht nur mit dem eID-Agenten, der sie ausgeliefert hat: die ?agent=-Adresse im Link wird abgelehnt.",
};

// The agent admits its own page only with the page key it put in this
// page's address when the browser opened it (?key=, drawn at each start of
// the agent; docs/protocol.md, "The agent's own pages"). It is taken out
// of the address bar at once (nothing to copy, bookmark or leak) and sent
// only on this page's own websocket.
const pageKey = params.get("key");
if (pageKey !== null) {
  const clean = new URL(location.href);
  clean.searchParams.delete("key");
  history.replaceState(history.state, "", clean.pathname + clean.search + clean.hash);
}

function agentURL() {
  const own = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  const withKey = pageKey ? own + "?key=" + encodeURIComponent(pageKey) : own;
  const fromQuery = params.get("agent");
  if (fromQuery === null) return withKey;
  let named = null;
  try {
    named = new URL(fromQuery).href;
  } catch {
    // not a URL: refused below
  }
  if (named === new URL(own).href) return withKey;
  throw new EidAgentError("AGENT_URL_REFUSED", AGENT_URL_REFUSED.en, {
    messages: AGENT_URL_REFUSED,
    detail: `?agent= must be ${own}`,
  });
}

// ---- state ----

let agent = null;
let selectedReader = null; // reader name
let readerChosen = false; // the user picked it: events do not change it
let readers = [];
let busy = false;

function showError(err) {
  const box = $("error");
  if (!err) {
    box.hidden = true;
    return;
  }
  const e = err instanceof EidAgentError ? err : new EidAgentError("INTERNAL", String(err && err.message || err));
  $("error-code").textContent = e.code;
  $("error-message").textContent = e.localized(lang) + (e.code === "PIN_WRONG" && e.retries !== undefined ? ` (${e.retries})` : "");
  box.hidden = false;
  box.dataset.code = e.code;
}

function setConn(state, version) {
  const el = $("conn-state");
  el.dataset.state = state;
  el.textContent = L[state];
  $("agent-version").textContent = version ? `eid-agent ${version}` : "";
  $("reconnect").hidden = state === "connected" || state === "connecting";
  for (const id of ["read", "authenticate", "sim-insert", "sim-remove"]) $(id).disabled = state !== "connected";
}

function logEvent(ev) {
  const li = document.createElement("li");
  const time = new Date().toLocaleTimeString(lang);
  li.textContent = `${time} ${L[ev.event] || ev.event}: ${ev.reader}`;
  li.dataset.event = ev.event;
  $("events").prepend(li);
  while ($("events").children.length > 50) $("events").lastChild.remove();
}

function describeCard(r) {
  if (r.card === "belpic") return r.appletVersion ? `${L.belpic} (applet ${r.appletVersion})` : L.belpic;
  if (r.card === "unknown") return L.unknownCard;
  return L.noCard;
}

function renderReaders() {
  const ul = $("readers");
  ul.replaceChildren();
  $("no-readers").hidden = readers.length > 0;
  if (!readers.some((r) => r.name === selectedReader)) {
    readerChosen = false;
    const withCard = readers.filter((r) => r.card === "belpic");
    selectedReader = withCard.length === 1 ? withCard[0].name : (readers[0] && readers[0].name) || null;
  }
  readers.forEach((r, i) => {
    const li = document.createElement("li");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "reader";
    input.id = `reader-${i}`;
    input.value = r.name;
    input.checked = r.name === selectedReader;
    input.addEventListener("change", () => { selectedReader = r.name; readerChosen = true; });
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.textContent = `${r.name} — ${describeCard(r)}`;
    li.dataset.reader = r.name;
    li.dataset.card = r.card;
    li.append(input, " ", label);
    ul.append(li);
  });
}

async function refreshReaders() {
  readers = await agent.readers();
  renderReaders();
}

// ---- reading ----

function clearHolder() {
  $("holder").hidden = true;
  $("photo").removeAttribute("src");
  $("photo").alt = "";
  for (const id of ["h-name", "h-birth", "h-nn", "h-cardnr", "h-validity", "h-address"]) $(id).textContent = "";
  $("integrity").replaceChildren();
}

function progressText(p) {
  return L[p.step] || p.step;
}

async function readCard() {
  if (!agent || busy) return;
  busy = true;
  showError(null);
  $("card-state").textContent = L.reading;
  try {
    const opts = { onProgress: (p) => { $("card-state").textContent = progressText(p); } };
    if (selectedReader) opts.reader = selectedReader;
    const reading = await agent.read(["card", "identity", "address", "photo", "integrity"], opts);
    showReading(reading);
    $("card-state").textContent = "";
  } catch (err) {
    $("card-state").textContent = "";
    showError(err);
  } finally {
    busy = false;
  }
}

function showReading(r) {
  const id = r.identity || {}, card = r.card || {}, addr = r.address || {};
  $("h-name").textContent = [id.firstNames, id.thirdInitial, id.surname].filter(Boolean).join(" ");
  $("h-birth").textContent = id.birthDate || "";
  $("h-nn").textContent = id.nationalNumber || "";
  $("h-cardnr").textContent = card.cardNumber || "";
  $("h-validity").textContent = card.validFrom || card.validUntil ? `${card.validFrom || "?"} – ${card.validUntil || "?"}` : "";
  $("h-address").textContent = [addr.streetAndNumber, [addr.zip, addr.municipality].filter(Boolean).join(" ")].filter(Boolean).join(", ");
  if (r.photo) {
    $("photo").src = `data:image/jpeg;base64,${r.photo}`;
    $("photo").alt = `${L.name}: ${$("h-name").textContent}`;
  }
  const tbody = $("integrity");
  tbody.replaceChildren();
  for (const [k, v] of Object.entries(r.integrity || {})) {
    if (k.endsWith("Detail")) continue;
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = k;
    const td = document.createElement("td");
    td.textContent = v;
    td.className = `verdict-${v}`;
    const detail = r.integrity[`${k}Detail`];
    if (detail) td.title = detail;
    tr.dataset.check = k;
    tr.append(th, td);
    tbody.append(tr);
  }
  $("holder").hidden = false;
}

// ---- authentication ----

async function postJSON(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  const data = await resp.json();
  if (!resp.ok) {
    const e = data && data.error ? data.error : { code: "INTERNAL", message: `HTTP ${resp.status}` };
    throw new EidAgentError(e.code, e.message);
  }
  return data;
}

async function authenticate() {
  if (!agent || busy) return;
  busy = true;
  showError(null);
  $("auth-result").hidden = true;
  const state = $("auth-state");
  try {
    state.textContent = L.nonce;
    const { nonce } = await postJSON("/demo/nonce");
    const opts = { onProgress: (p) => { state.textContent = progressText(p); } };
    if (selectedReader) opts.reader = selectedReader;
    state.textContent = L.pin;
    const token = await agent.authenticate(nonce, opts);
    state.textContent = L.verifying;
    const res = await postJSON("/demo/verify", { nonce, token });
    $("a-name").textContent = [res.person.givenNames, res.person.surname].filter(Boolean).join(" ");
    $("a-ssin").textContent = res.person.ssin;
    $("a-issuer").textContent = res.issuer;
    $("a-alg").textContent = res.algorithm;
    $("a-ocsp").textContent = res.ocsp;
    const ul = $("a-checks");
    ul.replaceChildren(...res.checks.map((c) => {
      const li = document.createElement("li");
      li.textContent = c;
      return li;
    }));
    state.textContent = L.verified;
    $("auth-result").hidden = false;
  } catch (err) {
    state.textContent = "";
    showError(err);
  } finally {
    busy = false;
  }
}

// ---- ISI+ ----

async function submitISI(input) {
  showError(null);
  $("isi-state").textContent = L.sent;
  $("isi-result").hidden = true;
  try {
    const res = await agent.isiSubmit(input);
    $("isi-state").textContent = L.accepted;
    $("isi-result").textContent = JSON.stringify(res, null, 2);
    $("isi-result").hidden = false;
  } catch (err) {
    $("isi-state").textContent = "";
    showError(err);
  }
}

// A scanner types its keys a few ms apart; behind a remote desktop or in a
// busy virtual machine the browser may see them further apart. ?scanGap=MS
// (20 to 500) widens the gap a burst may have and still count as a scan.
const scanGap = Math.min(500, Math.max(20, Number(new URLSearchParams(location.search).get("scanGap")) || 30));
captureScan($("isi-scan"), (raw) => {
  if (agent && agent.hasFeature("isi")) submitISI({ raw });
}, { maxInterKeyMs: scanGap });

$("isi-manual").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!agent) return;
  const f = new FormData(ev.target);
  const manual = {};
  for (const [k, v] of f.entries()) if (typeof v === "string" && v.trim() !== "") manual[k] = v.trim();
  submitISI({ manual });
});

// ---- simulator ----

async function simulator(op) {
  if (!agent || !agent.hasFeature("simulator")) return;
  showError(null);
  try {
    if (op === "insert") await agent.simulatorInsert($("sim-profile").value);
    else await agent.simulatorRemove();
  } catch (err) {
    showError(err);
  }
}

$("sim-insert").addEventListener("click", () => simulator("insert"));
$("sim-remove").addEventListener("click", () => simulator("remove"));

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
  const t = ev.target;
  if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
  if (!agent || !agent.hasFeature("simulator")) return;
  if (ev.key === "i") { ev.preventDefault(); simulator("insert"); }
  if (ev.key === "r") { ev.preventDefault(); simulator("remove"); }
});

// ---- connection ----

async function onCardEvent(ev) {
  logEvent(ev);
  try {
    await refreshReaders();
  } catch (err) {
    showError(err);
  }
  if (ev.event === "card-inserted") {
    if (!readerChosen && !readers.some((r) => r.name === selectedReader && r.card === "belpic")) {
      selectedReader = ev.reader;
      renderReaders();
    }
    if (ev.reader === selectedReader) {
      $("card-state").textContent = L.cardInserted;
      if ($("auto-read").checked) readCard();
    }
  }
  if (ev.event === "card-removed" && ev.reader === selectedReader) {
    clearHolder();
    $("auth-result").hidden = true;
    $("auth-state").textContent = "";
    $("card-state").textContent = L.cardRemoved;
  }
}

async function start() {
  setConn("connecting");
  showError(null);
  try {
    agent = await connect(agentURL());
  } catch (err) {
    agent = null;
    setConn("failed");
    showError(err);
    return;
  }
  setConn("connected", agent.version);
  $("isi").hidden = !agent.hasFeature("isi");
  $("simulator").hidden = !agent.hasFeature("simulator");
  agent.on("close", (err) => {
    agent = null;
    setConn("closed");
    showError(err);
  });
  try {
    await agent.subscribe(onCardEvent);
    await refreshReaders();
  } catch (err) {
    showError(err);
  }
  document.body.dataset.ready = "true";
}

$("read").addEventListener("click", readCard);
$("authenticate").addEventListener("click", authenticate);
$("reconnect").addEventListener("click", start);
start();
