// Unit tests of the client's bookkeeping: hello, id matching, progress,
// events, errors, connection loss. agent.test.mjs repeats the essentials
// against a real agent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, EidAgentError, toBase64, CLIENT_ERRORS } from "../eid-agent.js";
import { fakeOptions, defaultHello } from "./fakesocket.js";

async function connected() {
  const h = {};
  const agent = await connect("ws://127.0.0.1:1/ws", fakeOptions(h));
  return { agent, ws: h.socket };
}

test("connect sends hello for protocol 1 first and keeps its answer", async () => {
  const { agent, ws } = await connected();
  assert.deepEqual(ws.sent[0], { id: 1, type: "hello", params: { protocol: 1 } });
  assert.equal(agent.version, "9.9.9");
  assert.deepEqual(agent.features, defaultHello.features);
  assert.equal(agent.hasFeature("isi"), true);
  assert.equal(agent.hasFeature("simulator"), false);
  assert.equal(agent.origin, "http://127.0.0.1:1");
});

test("responses are matched by id, in any order", async () => {
  const { agent, ws } = await connected();
  const a = agent.read(["identity"]);
  const b = agent.readers();
  const c = agent.request("readers");
  const [ra, rb, rc] = ws.sent.slice(1);
  assert.deepEqual([ra.type, rb.type, rc.type], ["read", "readers", "readers"]);
  assert.equal(new Set([ra.id, rb.id, rc.id]).size, 3, "ids must be unique");
  assert.deepEqual(ra.params, { fields: ["identity"] });
  assert.equal("params" in rb, false, "readers takes no params");
  // Answer in reverse order, plus an answer to an id nobody asked for.
  ws.recv({ id: 999, result: { readers: ["stray"] } });
  ws.recv({ id: rc.id, result: { readers: [{ name: "C" }] } });
  ws.recv({ id: rb.id, result: { readers: [{ name: "B" }] } });
  ws.recv({ id: ra.id, result: { reading: { identity: { surname: "A" } } } });
  assert.deepEqual(await a, { identity: { surname: "A" } });
  assert.deepEqual(await b, [{ name: "B" }]);
  assert.deepEqual(await c, { readers: [{ name: "C" }] });
  // A duplicate answer to a settled id changes nothing.
  ws.recv({ id: ra.id, error: { code: "INTERNAL", message: "late" } });
});

test("errors carry the agent's code, messages and retries", async () => {
  const { agent, ws } = await connected();
  const p = agent.authenticate("n".repeat(44), { reader: "R1" });
  const req = ws.last("authenticate");
  assert.deepEqual(req.params, { nonce: "n".repeat(44), reader: "R1" });
  ws.recv({ id: req.id, error: { code: "PIN_WRONG", message: "Wrong PIN", retries: 2,
    messages: { en: "Wrong PIN", nl: "Verkeerde pincode", fr: "Code PIN erroné", de: "Falsche PIN" } } });
  const err = await p.then(() => assert.fail("resolved"), (e) => e);
  assert.ok(err instanceof EidAgentError);
  assert.ok(err instanceof Error);
  assert.equal(err.code, "PIN_WRONG");
  assert.equal(err.retries, 2);
  assert.equal(err.localized("nl-BE"), "Verkeerde pincode");
  assert.equal(err.localized("fr"), "Code PIN erroné");
  assert.equal(err.localized("ja"), "Wrong PIN");
});

test("progress events go to the request that asked, not to listeners", async () => {
  const { agent, ws } = await connected();
  const stepsA = [], stepsB = [], heard = [];
  agent.on("*", (e) => heard.push(e));
  const a = agent.read(["photo"], { onProgress: (p) => stepsA.push(p.step) });
  const b = agent.read(["card"], { onProgress: (p) => stepsB.push(p.step) });
  const [ra, rb] = ws.sent.slice(1);
  ws.recv({ event: "progress", data: { id: ra.id, step: "queued" } });
  ws.recv({ event: "progress", data: { id: rb.id, step: "reading", percent: 50 } });
  ws.recv({ event: "progress", data: { id: ra.id, step: "reading" } });
  ws.recv({ event: "progress", data: { id: 12345, step: "reading" } });
  ws.recv({ id: ra.id, result: { reading: {} } });
  ws.recv({ id: rb.id, result: { reading: {} } });
  await Promise.all([a, b]);
  assert.deepEqual(stepsA, ["queued", "reading"]);
  assert.deepEqual(stepsB, ["reading"]);
  assert.deepEqual(heard, []);
});

test("subscribe delivers card events with their name", async () => {
  const { agent, ws } = await connected();
  const got = [];
  const sub = agent.subscribe((e) => got.push(e));
  ws.recv({ id: ws.last("subscribe").id, result: { subscribed: true } });
  const off = await sub;
  ws.recv({ event: "card-inserted", data: { reader: "R", card: "belpic" } });
  ws.recv({ event: "reader-removed", data: { reader: "Q" } });
  off();
  ws.recv({ event: "card-removed", data: { reader: "R" } });
  assert.deepEqual(got, [
    { event: "card-inserted", reader: "R", card: "belpic" },
    { event: "reader-removed", reader: "Q" },
  ]);
});

test("a failed subscribe removes its handler", async () => {
  const { agent, ws } = await connected();
  const got = [];
  const sub = agent.subscribe((e) => got.push(e));
  ws.recv({ id: ws.last("subscribe").id, error: { code: "RATE_LIMITED", message: "slow down" } });
  await assert.rejects(sub, { code: "RATE_LIMITED" });
  ws.recv({ event: "card-inserted", data: { reader: "R" } });
  assert.deepEqual(got, []);
});

test("connection loss rejects every pending request with CONNECTION_CLOSED", async () => {
  const { agent, ws } = await connected();
  let closed = null;
  agent.on("close", (e) => (closed = e));
  const ps = [agent.readers(), agent.read(["identity"]), agent.signingCertificate()];
  ws.drop(1006);
  for (const p of ps) {
    await assert.rejects(p, (e) => e instanceof EidAgentError && e.code === "CONNECTION_CLOSED" && /1006/.test(e.detail));
  }
  assert.equal(closed.code, "CONNECTION_CLOSED");
  assert.equal(agent.closed, true);
  await assert.rejects(agent.readers(), { code: "CONNECTION_CLOSED" });
  assert.equal(closed.localized("de"), CLIENT_ERRORS.CONNECTION_CLOSED.de);
});

test("a request times out with TIMEOUT and a late answer is ignored", async () => {
  const { agent, ws } = await connected();
  const p = agent.readers({ timeout: 20 });
  await assert.rejects(p, { code: "TIMEOUT" });
  ws.recv({ id: ws.last("readers").id, result: { readers: [] } });
  const q = agent.readers();
  ws.recv({ id: ws.last("readers").id, result: { readers: [{ name: "ok" }] } });
  assert.deepEqual(await q, [{ name: "ok" }]);
});

test("an abort signal settles the request with ABORTED", async () => {
  const { agent } = await connected();
  const ctl = new AbortController();
  const p = agent.readers({ signal: ctl.signal });
  ctl.abort();
  await assert.rejects(p, { code: "ABORTED" });
  await assert.rejects(agent.readers({ signal: ctl.signal }), { code: "ABORTED" });
});

test("an error with id null goes to the only request in flight, else to error listeners", async () => {
  const { agent, ws } = await connected();
  const tooLarge = { code: "TOO_LARGE", message: "too large", messages: { en: "too large", nl: "te groot", fr: "trop grand", de: "zu groß" } };
  const p = agent.read(["identity"]);
  ws.recv({ id: null, error: tooLarge });
  await assert.rejects(p, { code: "TOO_LARGE" });

  const errs = [];
  agent.on("error", (e) => errs.push(e.code));
  const a = agent.readers({ timeout: 50 }), b = agent.readers({ timeout: 50 });
  ws.recv({ id: null, error: tooLarge });
  assert.deepEqual(errs, ["TOO_LARGE"]);
  await assert.rejects(a, { code: "TIMEOUT" });
  await assert.rejects(b, { code: "TIMEOUT" });
});

test("an answer that is not JSON is reported, requests carry on", async () => {
  const { agent, ws } = await connected();
  const errs = [];
  agent.on("error", (e) => errs.push(e.code));
  const p = agent.readers();
  ws.recv("{not json");
  ws.recv({ id: ws.last("readers").id, result: { readers: [] } });
  assert.deepEqual(await p, []);
  assert.deepEqual(errs, ["PROTOCOL_ERROR"]);
});

test("hello refused: connect rejects with the agent's code and closes", async () => {
  const h = {};
  const opts = fakeOptions(h, { hello: null });
  const p = connect("ws://127.0.0.1:1/ws", opts);
  await new Promise((r) => setTimeout(r, 5));
  h.socket.recv({ id: 1, error: { code: "UNSUPPORTED_PROTOCOL", message: "this agent speaks protocol 2" } });
  await assert.rejects(p, { code: "UNSUPPORTED_PROTOCOL" });
  assert.equal(h.socket.closed, true);
});

test("a hello answer from something else is PROTOCOL_ERROR", async () => {
  const h = {};
  await assert.rejects(connect("ws://127.0.0.1:1/ws", fakeOptions(h, { hello: { server: "other" } })), { code: "PROTOCOL_ERROR" });
});

test("a refused handshake without probe is AGENT_UNREACHABLE", async () => {
  const h = {};
  await assert.rejects(connect("ws://127.0.0.1:1/ws", fakeOptions(h, { refuse: true })), { code: "AGENT_UNREACHABLE" });
});

test("hello that never comes is TIMEOUT", async () => {
  const h = {};
  const opts = { ...fakeOptions(h, { hello: null }), timeout: 30 };
  await assert.rejects(connect("ws://127.0.0.1:1/ws", opts), { code: "TIMEOUT" });
});

test("sign encodes bytes as base64 and the ISI+ and simulator helpers use the lead's types", async () => {
  const { agent, ws } = await connected();
  agent.sign(new Uint8Array([1, 2, 3]), new Uint8Array(32).buffer, "SHA-256", { reader: "R" }).catch(() => {});
  assert.deepEqual(ws.last("sign").params, { certificate: "AQID", hash: toBase64(new Uint8Array(32)), hashFunction: "SHA-256", reader: "R" });
  agent.isiSubmit({ raw: "85073003328" }).catch(() => {});
  assert.deepEqual(ws.last("isi.submit").params, { raw: "85073003328" });
  agent.proofsList({ ssin: "85073003328" }).catch(() => {});
  assert.deepEqual(ws.last("proofs.list").params, { ssin: "85073003328" });
  agent.simulatorInsert("kids-1.8").catch(() => {});
  assert.deepEqual(ws.last("simulator.insert").params, { profile: "kids-1.8" });
  agent.simulatorRemove().catch(() => {});
  assert.equal("params" in ws.last("simulator.remove"), false);
  agent.readingProof("n".repeat(44), ["identity"]).catch(() => {});
  assert.deepEqual(ws.last("reading-proof").params, { nonce: "n".repeat(44), fields: ["identity"] });
  agent.close();
});

test("attest and counter send the protocol's params", async () => {
  const { agent, ws } = await connected();
  agent.attest("n".repeat(44), ["identity", "photo"], { reader: "R", withAuthentication: true }).catch(() => {});
  assert.deepEqual(ws.last("attest").params, { nonce: "n".repeat(44), fields: ["identity", "photo"], reader: "R", withAuthentication: true });
  agent.attest("n".repeat(44), ["identity"]).catch(() => {});
  assert.deepEqual(ws.last("attest").params, { nonce: "n".repeat(44), fields: ["identity"] });
  agent.counter({ nonce: "m".repeat(44) }).catch(() => {});
  assert.deepEqual(ws.last("counter").params, { nonce: "m".repeat(44) });
  agent.counter().catch(() => {});
  assert.deepEqual(ws.last("counter").params, {});
  agent.close();
});

test("toBase64 accepts text, bytes, buffers and views", () => {
  assert.equal(toBase64("QUJD"), "QUJD");
  assert.equal(toBase64(new TextEncoder().encode("ABC")), "QUJD");
  assert.equal(toBase64(new Uint8Array([0xff, 0x00]).buffer), "/wA=");
  assert.equal(toBase64(new DataView(new Uint8Array([9, 0x41, 0x42, 0x43, 9]).buffer, 1, 3)), "QUJD");
  const big = new Uint8Array(100000).fill(0x61);
  assert.equal(Buffer.from(toBase64(big), "base64").length, 100000);
  assert.throws(() => toBase64(42), TypeError);
});

test("EidAgentError without messages from the agent falls back to English", () => {
  const e = EidAgentError.fromWire({ code: "INTERNAL", message: "internal error" });
  assert.equal(e.localized("nl"), "internal error");
  assert.equal(EidAgentError.fromWire(null).code, "PROTOCOL_ERROR");
  assert.equal(new EidAgentError("TIMEOUT").localized("fr"), CLIENT_ERRORS.TIMEOUT.fr);
});
