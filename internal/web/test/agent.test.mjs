// The client against a real eid-agent (started by web/e2e_test.go
// TestNodeClientAgainstAgent, with a virtual card in a lab reader). Node's
// WebSocket lets the test set the Origin header a browser would send.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, EidAgentError } from "../eid-agent.js";

const URL_ = process.env.EID_AGENT_URL;
const ORIGIN = process.env.EID_AGENT_ORIGIN;
const READER = process.env.EID_READER;
const NN = process.env.EID_EXPECT_NN;
if (!URL_ || !ORIGIN || !READER || !NN) {
  throw new Error("run through go test ./web -run TestNodeClientAgainstAgent (EID_AGENT_URL etc. unset)");
}

const withOrigin = (origin) => ({ createSocket: (u) => new WebSocket(u, { headers: { Origin: origin } }) });

let agent;
before(async () => { agent = await connect(URL_, withOrigin(ORIGIN)); });
after(() => agent && agent.close());

test("hello: version, features and the origin the agent signs for", () => {
  assert.equal(agent.hello.server, "eid-agent");
  assert.equal(agent.hello.protocol, 1);
  assert.ok(agent.features.includes("read"));
  assert.equal(agent.origin, ORIGIN);
});

test("readers lists the lab reader holding the card", async () => {
  const rs = await agent.readers();
  const r = rs.find((x) => x.name === READER);
  assert.ok(r, `reader ${READER} in ${JSON.stringify(rs)}`);
  assert.equal(r.card, "belpic");
});

test("concurrent requests each get their own answer (id matching on the real agent)", async () => {
  const reads = [
    agent.read(["identity"], { reader: READER }),
    agent.readers(),
    agent.read(["card"], { reader: READER }),
    agent.request("no-such-operation").catch((e) => e),
    agent.readers(),
    agent.read(["integrity", "identity"], { reader: READER }),
  ];
  const [id, rs1, card, unknown, rs2, both] = await Promise.all(reads);
  assert.deepEqual(Object.keys(id), ["identity"]);
  assert.equal(id.identity.nationalNumber, NN);
  assert.ok(Array.isArray(rs1) && Array.isArray(rs2));
  assert.deepEqual(Object.keys(card), ["card"]);
  assert.match(card.card.cardNumber, /^\d{12}$/);
  assert.ok(unknown instanceof EidAgentError);
  assert.equal(unknown.code, "UNKNOWN_TYPE");
  assert.deepEqual(Object.keys(both).sort(), ["identity", "integrity"]);
  assert.equal(both.integrity.identity, "valid");
  assert.equal(both.integrity.rrnChain, "trusted");
});

test("progress events reach the request that asked", async () => {
  const steps = [];
  await agent.read(["identity"], { reader: READER, onProgress: (p) => steps.push(p.step) });
  // Progress is optional per the protocol; when sent it must name a step.
  for (const s of steps) assert.equal(typeof s, "string");
});

test("agent errors carry code and messages in four languages", async () => {
  const err = await agent.read(["feilds"]).catch((e) => e);
  assert.ok(err instanceof EidAgentError);
  assert.equal(err.code, "BAD_REQUEST");
  for (const l of ["en", "nl", "fr", "de"]) assert.ok(err.messages[l], `message in ${l}`);
  assert.notEqual(err.localized("nl"), err.localized("fr"));

  const denied = await agent.read(["address"], { reader: READER }).catch((e) => e);
  assert.equal(denied.code, "CONSENT_DENIED", "address was not granted to this origin");

  const noReader = await agent.read(["identity"], { reader: "no such reader" }).catch((e) => e);
  assert.equal(noReader.code, "READER_NOT_FOUND");
});

test("an origin the agent does not allow: HANDSHAKE_REFUSED", async () => {
  const err = await connect(URL_, withOrigin("http://127.0.0.1:2")).catch((e) => e);
  assert.ok(err instanceof EidAgentError);
  assert.equal(err.code, "HANDSHAKE_REFUSED");
  assert.match(err.localized("fr"), /ORIGIN_NOT_ALLOWED/);
});

test("nothing listening: AGENT_UNREACHABLE", async () => {
  const port = process.env.EID_CLOSED_PORT;
  const err = await connect(`ws://127.0.0.1:${port}/ws`, withOrigin(ORIGIN)).catch((e) => e);
  assert.equal(err.code, "AGENT_UNREACHABLE");
});

test("closing rejects what is pending with CONNECTION_CLOSED", async () => {
  const a = await connect(URL_, withOrigin(ORIGIN));
  const pending = a.read(["identity"], { reader: READER });
  a.close();
  await assert.rejects(pending, { code: "CONNECTION_CLOSED" });
  await assert.rejects(a.readers(), { code: "CONNECTION_CLOSED" });
});
