// End-to-end run of the demo page in headless Chromium against a real
// eid-agent, driven by web/e2e_test.go. The Go test owns the card: this
// script asks it to insert and remove the virtual card through a small
// control server (EID_CONTROL), and hands it the Web eID token the page
// sent to /demo/verify so the Go side can validate it independently.
//
// Environment: EID_PAGE (the agent's demo page), EID_REFUSED_PAGE (the same
// page from a server whose origin the agent does not allow; its /ws leads
// to the agent), EID_FOREIGN_AGENT (a ws:// URL on another loopback port,
// where the Go test counts every connection), EID_READER (the lab reader),
// EID_EXPECT_NN (the card's national number), EID_CONTROL, EID_SHOTS
// (optional folder for screenshots).
import assert from "node:assert/strict";
import { launch, step, need } from "./browser.mjs";

const PAGE = need("EID_PAGE");
const REFUSED = need("EID_REFUSED_PAGE");
const FOREIGN = need("EID_FOREIGN_AGENT");
const withParam = (url, kv) => url + (url.includes("?") ? "&" : "?") + kv;
const READER = need("EID_READER");
const NN = need("EID_EXPECT_NN");
const CONTROL = need("EID_CONTROL");
const SHOTS = process.env.EID_SHOTS;

async function control(path, body) {
  const r = await fetch(CONTROL + path, { method: "POST", body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`control ${path}: HTTP ${r.status} ${await r.text()}`);
}

const b = await launch();
const { page } = b;
const shot = async (name) => { if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true }); };
const text = (sel) => page.locator(sel).textContent();
let verifyBody = null;
page.on("request", (req) => {
  if (req.url().endsWith("/demo/verify")) verifyBody = req.postData();
});

try {
  // 1. The page connects and lists the lab reader, empty.
  // scanGap: see step 4.
  await page.goto(PAGE + (PAGE.includes("?") ? "&" : "?") + "scanGap=150");
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  assert.equal(await page.getAttribute("#conn-state", "data-state"), "connected");
  assert.match(await text("#agent-version"), /^eid-agent \S+/);
  const reader = page.locator(`#readers li[data-reader="${READER}"]`);
  await reader.waitFor();
  assert.equal(await reader.getAttribute("data-card"), "none");
  await reader.locator("input[type=radio]").check();
  step(`connected to ${await text("#agent-version")}; reader ${READER} listed, empty`);
  await shot("1-connected");

  // 2. Insert the card: the event arrives, the page reads it by itself.
  await control("/insert");
  await page.waitForSelector(`#events li[data-event="card-inserted"]`, { timeout: 15000 });
  await page.waitForFunction((nn) => document.getElementById("h-nn").textContent === nn, NN, { timeout: 30000 });
  assert.equal(await page.isVisible("#holder"), true);
  assert.notEqual((await text("#h-name")).trim(), "");
  assert.match(await text("#h-birth"), /^\d{4}(-\d\d){0,2}$/);
  assert.match(await text("#h-cardnr"), /^\d{12}$/);
  assert.match(await text("#h-validity"), /^\d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d$/);
  assert.match(await page.getAttribute("#photo", "src"), /^data:image\/jpeg;base64,\/9j\//);
  for (const check of ["identity", "address", "photo", "nationalNumber", "cardNumber"]) {
    assert.equal(await text(`#integrity tr[data-check="${check}"] td`), "valid", `integrity ${check}`);
  }
  if ((await text(`#integrity tr[data-check="rrnChain"] td`)) !== "trusted") {
    // Diagnose: which RRN certificate did the card give?
    const info = await page.evaluate(async (reader) => {
      const { connect } = await import("/eid-agent.js");
      const a = await connect(`ws://${location.host}/ws`);
      try {
        const r = await a.read(["certificates", "integrity"], { reader });
        return { rrn: (r.certificates?.rrn || "").slice(-60), root: (r.certificates?.root || "").slice(-60), integ: r.integrity };
      } catch (e) { return { err: e.code }; } finally { a.close(); }
    }, READER);
    console.log("diag:", JSON.stringify(info));
  }
  assert.equal(await text(`#integrity tr[data-check="rrnChain"] td`), "trusted",
    await page.getAttribute(`#integrity tr[data-check="rrnChain"] td`, "title"));
  assert.equal(await reader.getAttribute("data-card"), "belpic");
  step(`card read: ${await text("#h-name")}, NN ${NN}, integrity valid, RRN chain trusted`);
  await shot("2-read");

  // The explicit button reads again (same result).
  await page.click("#read");
  await page.waitForFunction(() => document.getElementById("card-state").textContent === "", null, { timeout: 30000 });
  assert.equal(await text("#h-nn"), NN);

  // 3. Authenticate: nonce from the page's server, token from the agent
  // (PIN through the test's pinentry), verified by /demo/verify.
  await page.click("#authenticate");
  await page.waitForSelector("#auth-result:not([hidden])", { timeout: 60000 });
  assert.equal(await text("#a-ssin"), NN);
  const checks = await page.locator("#a-checks li").allTextContents();
  for (const c of ["nonce", "format", "signature", "validity", "key-usage", "chain"]) {
    assert.ok(checks.includes(c), `check ${c} in ${checks}`);
  }
  assert.equal(await page.isVisible("#error"), false);
  assert.ok(verifyBody, "the page posted the token");
  await control("/token", JSON.parse(verifyBody));
  step(`authenticated: ${await text("#a-name")} (${await text("#a-alg")}); checks ${checks.join(",")}`);
  await shot("3-authenticated");

  // 4. Keyboard-wedge capture in the real browser: a burst at 5 ms per key
  // plus Enter is one scan; the same text typed at 400 ms per key is not.
  // The gap limit is GAP ms (the page's ?scanGap setting, for scanners
  // behind remote desktops): a loaded 2-core CI machine delivers 5 ms
  // keystrokes up to ~60 ms apart, so the default 30 ms would make this
  // test about the machine's load. A burst that still arrives with a gap
  // over GAP is retried (up to 5 times) and never counts whole.
  const GAP = 150;
  await page.evaluate(async (gap) => {
    const { captureScan } = await import("/eid-agent.js");
    const input = document.createElement("input");
    input.id = "scan-probe";
    input.setAttribute("aria-label", "scan probe");
    document.body.append(input);
    window.__scans = [];
    window.__stamps = [];
    input.addEventListener("keydown", (e) => window.__stamps.push(e.timeStamp), true);
    captureScan(input, (raw) => window.__scans.push(raw), { maxInterKeyMs: gap });
  }, GAP);
  await page.focus("#scan-probe");
  let burst = null;
  for (let attempt = 1; attempt <= 5 && !burst; attempt++) {
    await page.evaluate(() => { window.__scans.length = 0; window.__stamps.length = 0; document.getElementById("scan-probe").value = ""; });
    await page.keyboard.type("ISI+85073003328", { delay: 5 });
    await page.keyboard.press("Enter");
    const r = await page.evaluate(() => {
      const s = window.__stamps;
      let max = 0;
      for (let i = 1; i < s.length; i++) max = Math.max(max, s[i] - s[i - 1]);
      return { scans: [...window.__scans], maxGap: max, keys: s.length };
    });
    if (r.maxGap <= GAP) {
      assert.deepEqual(r.scans, ["ISI+85073003328"], `burst with max gap ${r.maxGap.toFixed(1)} ms`);
      burst = r;
    } else {
      step(`keyboard-wedge: attempt ${attempt} had a ${r.maxGap.toFixed(1)} ms gap (machine busy), scans ${JSON.stringify(r.scans)}`);
      // The whole burst must not count; what follows the gap is itself a
      // fast burst and may count if long enough, so only a tail of it may
      // appear.
      assert.ok(!r.scans.includes("ISI+85073003328"), `a burst with a gap over ${GAP} ms must not count whole`);
      for (const sc of r.scans) assert.ok("ISI+85073003328".endsWith(sc), `scan ${sc} is not a tail of the burst`);
    }
  }
  assert.ok(burst, `no burst within ${GAP} ms gaps in 5 attempts`);
  assert.equal(await page.inputValue("#scan-probe"), "", "the scan's keys were taken out of the field");
  await page.evaluate(() => { window.__scans.length = 0; });
  await page.keyboard.type("typed by hand", { delay: 400 });
  await page.keyboard.press("Enter");
  assert.deepEqual(await page.evaluate(() => window.__scans), [], "human typing is no scan");
  assert.equal(await page.inputValue("#scan-probe"), "typed by hand");
  step(`keyboard-wedge: 5 ms burst captured once (max gap ${burst.maxGap.toFixed(1)} ms over ${burst.keys} keys), 400 ms typing ignored`);

  // 5. ISI+ through the agent, only when it offers the feature.
  const features = await page.evaluate(async () => {
    const { connect } = await import("/eid-agent.js");
    const a = await connect(`ws://${location.host}/ws`);
    const f = a.features;
    a.close();
    return f;
  });
  if (features.includes("isi")) {
    assert.equal(await page.isVisible("#isi"), true);
    await page.focus("#isi-scan");
    await page.keyboard.type("85073003328", { delay: 5 });
    await page.keyboard.press("Enter");
    await page.waitForSelector("#isi-result:not([hidden]), #error:not([hidden])", { timeout: 15000 });
    assert.equal(await page.isVisible("#error"), false, `ISI+ scan refused: ${await text("#error")}`);
    const res = JSON.parse(await text("#isi-result"));
    assert.equal(JSON.stringify(res).includes("85073003328"), true, "the agent's answer names the scanned SSIN");
    assert.equal(await page.inputValue("#isi-scan"), "");
    step(`ISI+: scan reached the agent (isi.submit answered ${JSON.stringify(res).slice(0, 120)}...)`);
    console.log("isi: submitted");
  } else {
    assert.equal(await page.isVisible("#isi"), false, "ISI+ panel hidden without the feature");
    step(`ISI+: agent features ${features.join(",")} lack "isi"; scan-to-agent assertion not run`);
    console.log("isi: feature absent");
  }

  // 6. Remove the card: the page says so and forgets the holder.
  await control("/remove");
  await page.waitForSelector(`#events li[data-event="card-removed"]`, { timeout: 15000 });
  await page.waitForFunction(() => document.getElementById("holder").hidden, null, { timeout: 10000 });
  assert.equal(await text("#card-state"), "Card removed.");
  assert.equal(await page.isVisible("#holder"), false, "holder hidden (not only the attribute)");
  assert.equal(await page.isVisible("#auth-result"), false);
  assert.equal(await text("#h-nn"), "");
  await page.waitForFunction((r) => document.querySelector(`#readers li[data-reader="${r}"]`)?.dataset.card === "none", READER);
  step("card removed: holder and authentication cleared");
  await shot("4-removed");

  assert.deepEqual(b.problems, [], "no page errors while connected");

  // 7. A link naming another agent (?agent= on another loopback port,
  // where anything could listen): the page refuses it and connects to
  // nothing. The Go side checks that nothing reached that port. The same
  // page's own address is accepted.
  await page.goto(withParam(PAGE, "agent=" + encodeURIComponent(FOREIGN)));
  await page.waitForSelector("#error:not([hidden])", { timeout: 15000 });
  assert.equal(await page.getAttribute("#conn-state", "data-state"), "failed");
  assert.equal(await text("#error-code"), "AGENT_URL_REFUSED");
  assert.match(await text("#error-message"), /only to the eID agent that served it/);
  assert.equal(await page.isDisabled("#read"), true);
  const own = new URL("/ws", PAGE);
  own.protocol = own.protocol === "https:" ? "wss:" : "ws:";
  // The agent's port under another name for this machine: refused too.
  const otherName = new URL(own.href);
  otherName.hostname = own.hostname === "localhost" ? "127.0.0.1" : "localhost";
  await page.goto(withParam(PAGE, "agent=" + encodeURIComponent(otherName.href) + "&lang=fr"));
  await page.waitForSelector("#error:not([hidden])", { timeout: 15000 });
  assert.equal(await text("#error-code"), "AGENT_URL_REFUSED");
  assert.match(await text("#error-message"), /l'adresse \?agent= de son lien est refusée/);
  await page.goto(withParam(PAGE, "agent=" + encodeURIComponent(own.href)));
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  assert.equal(await page.getAttribute("#conn-state", "data-state"), "connected");
  step(`foreign ?agent=${FOREIGN} refused (${await page.evaluate(() => location.search)} accepted: the page's own agent)`);
  assert.deepEqual(b.problems, [], "no page errors around ?agent=");
  await shot("5-foreign-agent");

  // 8. The same page served from an origin the agent does not allow.
  const wsErrors = [];
  page.on("websocket", (ws) => ws.on("socketerror", (e) => wsErrors.push(String(e))));
  await page.goto(REFUSED);
  await page.waitForSelector("#error:not([hidden])", { timeout: 15000 });
  assert.equal(await page.getAttribute("#conn-state", "data-state"), "failed");
  assert.equal(await text("#error-code"), "HANDSHAKE_REFUSED");
  assert.match(await text("#error-message"), /ORIGIN_NOT_ALLOWED/);
  assert.equal(await page.isDisabled("#read"), true);
  step(`refused origin: page shows ${await text("#error-code")} (${await text("#error-message")}); websocket errors: ${wsErrors.join(" | ") || "none reported"}`);
  if (wsErrors.length) assert.match(wsErrors.join(" "), /403/);
  await shot("6-refused");

  // 9. Labels follow the browser's language; agent errors too.
  await page.goto(withParam(REFUSED, "lang=nl"));
  await page.waitForSelector("#error:not([hidden])", { timeout: 15000 });
  assert.equal(await text("#h-card"), "Kaart");
  assert.match(await text("#error-message"), /weigert deze pagina/);
  step("Dutch labels and error message");

  // Chromium logs the refused handshake and the probe's 403; nothing else.
  const unexpected = b.problems.filter((m) => !/403/.test(m));
  assert.deepEqual(unexpected, [], "no other page errors");
  console.log("e2e: ok");
} catch (err) {
  await shot("failure").catch(() => {});
  console.error(err);
  console.error("page problems:", b.problems);
  process.exitCode = 1;
} finally {
  await b.close();
}
