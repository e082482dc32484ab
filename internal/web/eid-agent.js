// eid-agent.js: the browser (and Node) client of the eid-agent bridge.
//
// One ES module, no dependencies. The wire protocol is docs/protocol.md
// (version 1): a websocket on the loopback interface, a "hello" handshake,
// requests matched to responses by id, card events after "subscribe", and
// "progress" events for the request that asked.
//
// Typical use:
//
//   import { connect } from "/eid-agent.js";
//   const agent = await connect();              // ws://127.0.0.1:8877/ws
//   const { identity } = await agent.read(["identity"]);
//
// Errors are EidAgentError: a stable `code` (the agent's, such as
// CONSENT_DENIED, or one of the client's own, such as CONNECTION_CLOSED), an
// English `message` and `messages` in en/nl/fr/de.

/** The agent's default endpoint. */
export const DEFAULT_URL = "ws://127.0.0.1:8877/ws";

/** The bridge protocol version this client speaks (docs/protocol.md). */
export const PROTOCOL = 1;

/** Default time a request may take: long enough for a PIN dialog (60 s in
 * the agent) plus the card operation. */
const DEFAULT_REQUEST_TIMEOUT = 120000;

/** Default time for the websocket handshake plus hello. */
const DEFAULT_CONNECT_TIMEOUT = 10000;

/**
 * Codes the client itself raises (never sent by the agent), with messages
 * in the agent's four languages so a page can show them like the agent's.
 */
export const CLIENT_ERRORS = Object.freeze({
  AGENT_UNREACHABLE: {
    en: "The eID agent is not running on this computer.",
    nl: "De eID-agent draait niet op deze computer.",
    fr: "L'agent eID ne fonctionne pas sur cet ordinateur.",
    de: "Der eID-Agent läuft nicht auf diesem Computer.",
  },
  HANDSHAKE_REFUSED: {
    en: "The eID agent refused this page (most often: its origin is not on the agent's allow-list, ORIGIN_NOT_ALLOWED).",
    nl: "De eID-agent weigert deze pagina (meestal: haar oorsprong staat niet op de toegelaten lijst van de agent, ORIGIN_NOT_ALLOWED).",
    fr: "L'agent eID refuse cette page (le plus souvent : son origine n'est pas autorisée par l'agent, ORIGIN_NOT_ALLOWED).",
    de: "Der eID-Agent lehnt diese Seite ab (meistens: ihr Ursprung ist nicht in der Liste des Agenten, ORIGIN_NOT_ALLOWED).",
  },
  CONNECTION_CLOSED: {
    en: "The connection to the eID agent was lost.",
    nl: "De verbinding met de eID-agent is verbroken.",
    fr: "La connexion avec l'agent eID a été perdue.",
    de: "Die Verbindung zum eID-Agenten wurde unterbrochen.",
  },
  TIMEOUT: {
    en: "The eID agent did not answer in time.",
    nl: "De eID-agent antwoordde niet op tijd.",
    fr: "L'agent eID n'a pas répondu à temps.",
    de: "Der eID-Agent hat nicht rechtzeitig geantwortet.",
  },
  ABORTED: {
    en: "The request was abandoned.",
    nl: "De aanvraag werd afgebroken.",
    fr: "La demande a été abandonnée.",
    de: "Die Anfrage wurde abgebrochen.",
  },
  PROTOCOL_ERROR: {
    en: "The eID agent answered something this page does not understand.",
    nl: "De eID-agent gaf een antwoord dat deze pagina niet begrijpt.",
    fr: "L'agent eID a répondu quelque chose que cette page ne comprend pas.",
    de: "Der eID-Agent hat etwas geantwortet, das diese Seite nicht versteht.",
  },
});

/**
 * An error from the agent (its code and messages) or from this client.
 */
export class EidAgentError extends Error {
  /**
   * @param {string} code
   * @param {string} [message] English message; defaults to the client's own for client codes
   * @param {{messages?: Record<string,string>, retries?: number, detail?: string, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    const own = CLIENT_ERRORS[code];
    super(message || (own && own.en) || code, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "EidAgentError";
    this.code = code;
    this.messages = Object.freeze({ ...(own || {}), ...(extra.messages || {}), en: (extra.messages && extra.messages.en) || this.message });
    if (extra.retries !== undefined) this.retries = extra.retries;
    if (extra.detail !== undefined) this.detail = extra.detail;
  }

  /**
   * The message in lang ("nl", "fr-BE", "de", …), falling back to English.
   * @param {string} [lang]
   */
  localized(lang) {
    const l = String(lang || "en").slice(0, 2).toLowerCase();
    return this.messages[l] || this.message;
  }

  /** Builds an EidAgentError from the agent's {code, message, messages, …}. */
  static fromWire(e) {
    if (!e || typeof e !== "object" || typeof e.code !== "string") {
      return new EidAgentError("PROTOCOL_ERROR", undefined, { detail: "error without a code" });
    }
    return new EidAgentError(e.code, typeof e.message === "string" ? e.message : e.code, {
      messages: e.messages && typeof e.messages === "object" ? e.messages : undefined,
      retries: typeof e.retries === "number" ? e.retries : undefined,
      detail: typeof e.detail === "string" ? e.detail : undefined,
    });
  }
}

// Events the agent sends after subscribe (docs/protocol.md, Operations).
const CARD_EVENTS = new Set(["reader-added", "reader-removed", "card-inserted", "card-removed"]);

/** Encodes bytes (Uint8Array / ArrayBuffer / view) as standard base64. */
export function toBase64(bytes) {
  if (typeof bytes === "string") return bytes;
  let u8;
  if (bytes instanceof Uint8Array) u8 = bytes;
  else if (bytes instanceof ArrayBuffer) u8 = new Uint8Array(bytes);
  else if (ArrayBuffer.isView(bytes)) u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  else throw new TypeError("expected base64 text, a Uint8Array or an ArrayBuffer");
  let s = "";
  for (let i = 0; i < u8.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * One connection to the agent. Create it with connect().
 */
export class EidAgentClient {
  /** @param {WebSocket} socket an open socket; hello not yet sent */
  constructor(socket, { requestTimeout = DEFAULT_REQUEST_TIMEOUT } = {}) {
    this._ws = socket;
    this._nextId = 1;
    this._pending = new Map(); // id -> {resolve, reject, onProgress, timer, cleanup}
    this._listeners = new Map(); // event name -> Set<handler>
    this._closed = null; // EidAgentError once closed
    this._requestTimeout = requestTimeout;
    /** hello's result: server, version, protocol, protocols, features, origin */
    this.hello = null;
    socket.onmessage = (ev) => this._onMessage(ev.data);
    socket.onclose = (ev) => this._onClose(ev);
    // Browsers follow an error with a close event, some other
    // implementations do not: either ends the connection (once).
    socket.onerror = () => this._onClose({ code: 1006, reason: "websocket error" });
  }

  /** The agent's version, from hello. */
  get version() { return this.hello ? this.hello.version : undefined; }
  /** The agent's features, from hello ("read", "isi", "simulator", …). */
  get features() { return this.hello ? this.hello.features.slice() : []; }
  /** The origin the agent will sign for on this connection. */
  get origin() { return this.hello ? this.hello.origin : undefined; }
  /** Whether hello listed feature. */
  hasFeature(feature) { return !!this.hello && this.hello.features.includes(feature); }
  /** True once the connection has ended. */
  get closed() { return this._closed !== null; }

  /**
   * Sends a request and resolves with its result, or rejects with an
   * EidAgentError. Responses may come in any order; they are matched by id.
   * @param {string} type
   * @param {object} [params]
   * @param {{onProgress?: (p: object) => void, timeout?: number, signal?: AbortSignal}} [opts]
   */
  request(type, params, opts = {}) {
    if (this._closed) return Promise.reject(this._closed);
    const id = this._nextId++;
    const msg = { id, type };
    if (params !== undefined) msg.params = params;
    if (opts.signal && opts.signal.aborted) return Promise.reject(new EidAgentError("ABORTED", undefined, { cause: opts.signal.reason }));
    return new Promise((resolve, reject) => {
      const timeout = opts.timeout === undefined ? this._requestTimeout : opts.timeout;
      const entry = { resolve, reject, onProgress: opts.onProgress, timer: null, cleanup: null };
      if (timeout > 0) {
        entry.timer = setTimeout(() => this._settle(id, new EidAgentError("TIMEOUT", undefined, { detail: `${type}: no answer in ${timeout} ms` })), timeout);
      }
      if (opts.signal) {
        const onAbort = () => this._settle(id, new EidAgentError("ABORTED", undefined, { cause: opts.signal.reason }));
        opts.signal.addEventListener("abort", onAbort, { once: true });
        entry.cleanup = () => opts.signal.removeEventListener("abort", onAbort);
      }
      this._pending.set(id, entry);
      try {
        this._ws.send(JSON.stringify(msg));
      } catch (err) {
        this._settle(id, new EidAgentError("CONNECTION_CLOSED", undefined, { cause: err }));
      }
    });
  }

  /** Resolves (error undefined) or rejects the pending request id once. */
  _settle(id, error, result) {
    const p = this._pending.get(id);
    if (!p) return false;
    this._pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (p.cleanup) p.cleanup();
    if (error) p.reject(error);
    else p.resolve(result);
    return true;
  }

  _onMessage(data) {
    if (typeof data !== "string") return; // the agent sends text frames only
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this._emit("error", new EidAgentError("PROTOCOL_ERROR", undefined, { detail: "message is not JSON" }));
      return;
    }
    if (!msg || typeof msg !== "object") return;
    if (typeof msg.event === "string") {
      if (msg.event === "progress") {
        // Sent only to the connection that made the request, with its id.
        const p = msg.data && this._pending.get(msg.data.id);
        if (p && p.onProgress) {
          try { p.onProgress(msg.data); } catch (err) { reportLater(err); }
        }
        return;
      }
      this._emit(msg.event, msg.data);
      if (CARD_EVENTS.has(msg.event)) this._emit("*", { event: msg.event, ...(msg.data || {}) });
      return;
    }
    if (!("id" in msg)) return;
    if (msg.id === null) {
      // The agent could not read a message's id (too large, not JSON). With
      // one request in flight it can only be that one; otherwise nobody can
      // tell, so the page hears it as an "error" event.
      const err = EidAgentError.fromWire(msg.error);
      if (this._pending.size === 1) {
        const [only] = this._pending.keys();
        this._settle(only, err);
      } else {
        this._emit("error", err);
      }
      return;
    }
    if (msg.error) this._settle(msg.id, EidAgentError.fromWire(msg.error));
    else this._settle(msg.id, undefined, msg.result);
  }

  _onClose(ev) {
    if (this._closed) return;
    const detail = `websocket closed (${ev && ev.code}${ev && ev.reason ? " " + ev.reason : ""})`;
    this._closed = new EidAgentError("CONNECTION_CLOSED", undefined, { detail });
    for (const id of [...this._pending.keys()]) this._settle(id, this._closed);
    this._emit("close", this._closed);
  }

  _emit(name, data) {
    const set = this._listeners.get(name);
    if (!set) return;
    for (const h of [...set]) {
      try { h(data); } catch (err) { reportLater(err); }
    }
  }

  /**
   * Listens to an event: a card event name, "*" (every card event, with
   * `event` added), "close" or "error". Returns a function that stops.
   */
  on(name, handler) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(handler);
    return () => { const s = this._listeners.get(name); if (s) s.delete(handler); };
  }

  /** Closes the connection; pending requests reject with CONNECTION_CLOSED. */
  close() {
    try { this._ws.close(1000); } catch { /* already closing */ }
    this._onClose({ code: 1000, reason: "closed by the page" });
  }

  // ---- typed helpers (docs/protocol.md, Operations) ----

  /** The readers and what they hold. */
  async readers(opts) {
    return (await this.request("readers", undefined, opts)).readers;
  }

  /**
   * Subscribes to card and reader events; handler gets {event, reader, card?}.
   * Resolves, once the agent confirmed, to a function that stops the handler.
   */
  async subscribe(handler, opts) {
    const off = handler ? this.on("*", handler) : () => {};
    try {
      await this.request("subscribe", undefined, opts);
    } catch (err) {
      off();
      throw err;
    }
    return off;
  }

  /** Reads the named Reading JSON members (docs/reading-json.md). */
  async read(fields, opts = {}) {
    const params = { fields: [...fields] };
    if (opts.reader) params.reader = opts.reader;
    return (await this.request("read", params, opts)).reading;
  }

  /** A Web eID authentication token for nonce, signed for this page's origin. */
  authenticate(nonce, opts = {}) {
    const params = { nonce };
    if (opts.reader) params.reader = opts.reader;
    return this.request("authenticate", params, opts);
  }

  /** The signing certificate (base64 DER) and the algorithms it supports. */
  signingCertificate(opts = {}) {
    const params = {};
    if (opts.reader) params.reader = opts.reader;
    return this.request("signing-certificate", params, opts);
  }

  /** Signs hash (base64 or bytes) with the signing key. */
  sign(certificate, hash, hashFunction, opts = {}) {
    const params = { certificate: toBase64(certificate), hash: toBase64(hash), hashFunction };
    if (opts.reader) params.reader = opts.reader;
    return this.request("sign", params, opts);
  }

  /** A reading-proof record of fields, bound to this origin and nonce. The
   * proof holds the card number and the national number: consent covers
   * "card" and "identity" besides fields. */
  async readingProof(nonce, fields, opts = {}) {
    const params = { nonce, fields: [...fields] };
    if (opts.reader) params.reader = opts.reader;
    return (await this.request("reading-proof", params, opts)).proof;
  }

  /**
   * A presence attestation (eid-attestation:1) of fields (identity,
   * address, photo) for the server's nonce, bound to this page's origin;
   * verify it on the server with verify.AttestationVerifier. Needs feature
   * "attest". opts.withAuthentication adds the authentication key (PIN).
   */
  async attest(nonce, fields, opts = {}) {
    const params = { nonce, fields: [...fields] };
    if (opts.reader) params.reader = opts.reader;
    if (opts.withAuthentication) params.withAuthentication = true;
    return (await this.request("attest", params, opts)).attestation;
  }

  /**
   * Counter mode (an application the administrator paired): the agent
   * pushes "card-read" ({reader, reading, attestation?,
   * attestationError?}) for each inserted card, "card-removed" when it
   * goes, "card-revocation" ({reader, status, detail?}) after. Call again
   * with a new nonce after each card-read to leave one standing for the
   * next card's attestation. Resolves to the pairing: {fields,
   * attestation, revocation}. Needs feature "counter".
   */
  counter(opts = {}) {
    const params = {};
    if (opts.nonce) params.nonce = opts.nonce;
    return this.request("counter", params, opts);
  }

  /** Submits an ISI+ reading: {raw} from a scanner or {manual: {...}}. Needs feature "isi". */
  isiSubmit(input, opts) {
    return this.request("isi.submit", input, opts);
  }

  /** Lists this caller's reading proofs from the agent's journal
   * ({all: true}: every caller's, with the administrator's "proofs-all"). */
  proofsList(query, opts) {
    return this.request("proofs.list", query, opts);
  }

  /** Inserts a virtual card of profile in the simulated reader. Needs feature "simulator". */
  simulatorInsert(profile, opts) {
    return this.request("simulator.insert", profile ? { profile } : {}, opts);
  }

  /** Removes the simulated card. Needs feature "simulator". */
  simulatorRemove(opts) {
    return this.request("simulator.remove", undefined, opts);
  }
}

function reportLater(err) {
  // A throwing handler must not break the client's bookkeeping; surface it
  // asynchronously like an uncaught error.
  setTimeout(() => { throw err; }, 0);
}

/** http(s) URL of the agent that answered ws(s) url, for the probe. */
function httpURL(url) {
  const u = new URL(url);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  return u.href;
}

/**
 * Why a websocket did not open. A browser hides the refused handshake's
 * status and body from scripts (docs/protocol.md: no CORS headers), so the
 * client asks a no-cors fetch of the same URL: an (opaque) answer means the
 * agent is there and refused this page; a network error means nothing is
 * listening.
 */
async function diagnose(url, probe, timeout) {
  if (!probe || typeof fetch !== "function") return new EidAgentError("AGENT_UNREACHABLE");
  const ctl = typeof AbortController === "function" ? new AbortController() : null;
  const timer = ctl ? setTimeout(() => ctl.abort(), Math.min(timeout, 3000)) : null;
  try {
    await fetch(httpURL(url), {
      mode: "no-cors", cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
      signal: ctl ? ctl.signal : undefined,
    });
    return new EidAgentError("HANDSHAKE_REFUSED", undefined, { detail: `${url} answered but refused the websocket` });
  } catch {
    return new EidAgentError("AGENT_UNREACHABLE", undefined, { detail: `nothing answered at ${url}` });
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Opens a connection and does the hello handshake.
 * @param {string} [url]
 * @param {{timeout?: number, requestTimeout?: number, createSocket?: (url: string) => WebSocket, probe?: boolean}} [opts]
 * @returns {Promise<EidAgentClient>}
 */
export async function connect(url = DEFAULT_URL, opts = {}) {
  const timeout = opts.timeout === undefined ? DEFAULT_CONNECT_TIMEOUT : opts.timeout;
  const create = opts.createSocket || ((u) => new WebSocket(u));
  const started = Date.now();
  let ws;
  try {
    ws = create(url);
  } catch (err) {
    // A malformed URL, or a page CSP that forbids it.
    throw new EidAgentError("AGENT_UNREACHABLE", undefined, { detail: String(err && err.message), cause: err });
  }
  const opened = await new Promise((resolve) => {
    let timer = null;
    const done = (ok) => {
      if (timer) clearTimeout(timer);
      ws.onopen = ws.onclose = ws.onerror = null;
      resolve(ok);
    };
    if (timeout > 0) timer = setTimeout(() => { try { ws.close(); } catch { /* ignore */ } done("timeout"); }, timeout);
    ws.onopen = () => done(true);
    ws.onclose = () => done(false);
    // Browsers follow an error with close; Node 20's WebSocket may not.
    ws.onerror = () => done(false);
  });
  if (opened === "timeout") throw new EidAgentError("TIMEOUT", undefined, { detail: `no websocket to ${url} within ${timeout} ms` });
  if (!opened) throw await diagnose(url, opts.probe !== false, timeout);

  const client = new EidAgentClient(ws, { requestTimeout: opts.requestTimeout });
  const left = timeout > 0 ? Math.max(1, timeout - (Date.now() - started)) : 0;
  let hello;
  try {
    hello = await client.request("hello", { protocol: PROTOCOL }, { timeout: left });
  } catch (err) {
    client.close();
    throw err;
  }
  if (!hello || hello.server !== "eid-agent" || !Array.isArray(hello.features)) {
    client.close();
    throw new EidAgentError("PROTOCOL_ERROR", undefined, { detail: "hello answer is not eid-agent's" });
  }
  client.hello = hello;
  return client;
}

/**
 * Captures keyboard-wedge barcode scans: a scanner "types" its payload much
 * faster than a person and ends it with Enter. A burst of at least minLength
 * characters, each within maxInterKeyMs of the previous, followed by a
 * terminator key within maxInterKeyMs, is a scan; onScan gets the raw
 * string. Slower (human) typing is left alone. When the burst went into a
 * text field, the field gets its previous value back, and the terminator's
 * default action (submitting a form) is prevented.
 *
 * @param {EventTarget} target an element, or document for the whole page
 * @param {(raw: string) => void} onScan
 * @param {{maxInterKeyMs?: number, minLength?: number, terminators?: string[], restoreInput?: boolean}} [opts]
 * @returns {() => void} stops capturing
 */
export function captureScan(target, onScan, opts = {}) {
  const maxGap = opts.maxInterKeyMs === undefined ? 30 : opts.maxInterKeyMs;
  const minLength = opts.minLength === undefined ? 8 : opts.minLength;
  const terminators = opts.terminators || ["Enter"];
  const restore = opts.restoreInput !== false;
  let buf = "";
  let last = -Infinity;
  let field = null; // the text field the burst started in, and its value then
  let before = "";

  const reset = () => { buf = ""; field = null; before = ""; };

  let stopped = false;
  const onKey = (ev) => {
    if (stopped) return;
    const t = typeof ev.timeStamp === "number" && ev.timeStamp > 0 ? ev.timeStamp : Date.now();
    const gap = t - last;
    last = t;
    if (ev.isComposing || ev.ctrlKey || ev.metaKey || ev.altKey) { reset(); return; }
    if (terminators.includes(ev.key)) {
      if (buf.length >= minLength && gap <= maxGap) {
        const raw = buf;
        if (restore && field && typeof field.value === "string") field.value = before;
        reset();
        if (typeof ev.preventDefault === "function") ev.preventDefault();
        onScan(raw);
        return;
      }
      reset();
      return;
    }
    if (typeof ev.key !== "string" || ev.key.length !== 1) {
      // Shift and other modifiers come between a scanner's characters
      // (upper case, symbols); other named keys end any burst.
      if (ev.key !== "Shift" && ev.key !== "CapsLock") reset();
      return;
    }
    if (gap > maxGap) {
      reset();
      const el = ev.target;
      if (el && typeof el.value === "string") { field = el; before = el.value; }
    }
    buf += ev.key;
  };
  // Capture phase: see the keys before the page's own handlers.
  target.addEventListener("keydown", onKey, true);
  return () => {
    // The flag too: some EventTarget implementations (Node's) do not
    // remove capture-phase listeners.
    stopped = true;
    target.removeEventListener("keydown", onKey, true);
  };
}
