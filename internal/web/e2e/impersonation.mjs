// Issue #13, item 1, in Chromium: a page that another program served at
// the agent's exact address before the agent started stays open; once the
// real agent runs there, that page tries everything a script of its origin
// can do to get the agent's page key (fetch "/", open "/" in a window) and
// to connect; it also left a script cached for a year at the path the
// agent's page loads (/demo/demo.js). It must get no key, no connection
// and no script into the agent's page, while the user opening
// the address (and http://localhost:PORT/) gets the working demo page.
//
// Driven by web/selfpage_e2e_test.go: the script prints "swap" once the
// impostor's page is loaded, and waits for a line on stdin meaning the
// impostor is gone and the agent listens on the same port.
// Environment: EID_PORT, EID_DETOUR (a URL of another site redirecting to
// the agent's page).
import assert from "node:assert/strict";
import { createInterface } from "node:readline";
import { launch, step, need } from "./browser.mjs";

const PORT = need("EID_PORT");
const base = `http://127.0.0.1:${PORT}`;
const rl = createInterface({ input: process.stdin });
const stdin = rl[Symbol.asyncIterator]();

const b = await launch();
const { page, context } = b;
try {
  await page.goto(base + "/");
  assert.match(await page.textContent("body"), /impostor/);
  step("the impostor's page is open at " + base);
  console.log("swap");
  await stdin.next();
  rl.close();

  // What the stale page's own script can do, now that the agent answers.
  const popupEvent = context.waitForEvent("page", { timeout: 15000 });
  const found = await page.evaluate(async () => {
    const out = {};
    const r = await fetch("/", { cache: "no-store" });
    out.fetchURL = r.url;
    out.fetchBodyHasKey = /[?&]key=/.test(await r.text());
    const w = window.open("/");
    out.popupOpened = !!w;
    const tryKey = (u) => (/[?&]key=([^&#]+)/.exec(u || "") || [])[1] || "";
    out.key = tryKey(out.fetchURL);
    for (let i = 0; i < 100 && w && !out.key; i++) {
      await new Promise((res) => setTimeout(res, 100));
      try {
        // The navigation entry keeps the address the page was loaded at,
        // after the page has cleaned its address bar.
        const nav = w.performance.getEntriesByType("navigation")[0];
        out.popupURL = (nav && nav.name) || w.location.href;
      } catch (e) {
        out.popupURL = "not readable: " + e.message;
      }
      out.key = tryKey(out.popupURL);
    }
    const dial = (u) => new Promise((res) => {
      const s = new WebSocket(u);
      s.onopen = () => { s.close(); res("open"); };
      s.onerror = () => res("refused");
    });
    out.wsWithoutKey = await dial(`ws://${location.host}/ws`);
    out.wsWithFound = out.key ? await dial(`ws://${location.host}/ws?key=${out.key}`) : "no key to try";
    return out;
  });
  step("stale page: " + JSON.stringify(found));
  assert.equal(found.key, "", "the stale page obtained the page key");
  assert.equal(found.fetchBodyHasKey, false);
  assert.equal(found.wsWithoutKey, "refused", "the stale page's websocket was admitted");
  assert.equal(found.popupOpened, true, "the popup was not opened (the test would prove nothing)");
  // Where a window was loaded from, whatever it did to its address bar.
  const loadedFrom = (p) => p.evaluate(() => performance.getEntriesByType("navigation")[0].name);
  const popup = await popupEvent;
  await popup.waitForLoadState();
  assert.doesNotMatch(await loadedFrom(popup), /[?&]key=/, "the agent gave the key to a window the stale page opened");
  step("the window the stale page opened got no key: " + (await loadedFrom(popup)));

  // A detour through another site that redirects back to the agent: the
  // request then says cross-site, and the window is still the stale page's.
  const detourEvent = context.waitForEvent("page", { timeout: 15000 });
  const detour = await page.evaluate(async (via) => {
    const w = window.open(via);
    for (let i = 0; i < 100; i++) {
      await new Promise((res) => setTimeout(res, 100));
      try {
        const nav = w.performance.getEntriesByType("navigation")[0];
        const u = (nav && nav.name) || w.location.href;
        if (/[?&]key=/.test(u)) return u;
      } catch {
        // not readable (yet, or at all)
      }
    }
    return "";
  }, need("EID_DETOUR"));
  const detoured = await detourEvent;
  await detoured.waitForLoadState();
  assert.equal(detour, "", "the stale page read a key from its detour window");
  assert.doesNotMatch(await loadedFrom(detoured), /[?&]key=/, "the agent gave the key to a detour the stale page started");
  step("a detour through another site got no key: " + (await loadedFrom(detoured)));

  // The user opens the address: the agent's page, with its key, works.
  const own = await context.newPage();
  await own.goto(base + "/");
  await own.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  assert.notEqual(await own.title(), "PWNED", "the impostor's cached script ran in the agent's page");
  assert.equal(await own.getAttribute("#conn-state", "data-state"), "connected");
  assert.doesNotMatch(own.url(), /key=/, "the key stays in the address bar");
  step("the user's own visit connects: " + own.url());

  // http://localhost:PORT/ lands on the address's page and connects too.
  const viaName = await context.newPage();
  await viaName.goto(`http://localhost:${PORT}/`);
  await viaName.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  assert.equal(await viaName.getAttribute("#conn-state", "data-state"), "connected");
  assert.match(viaName.url(), new RegExp(`^http://(127\\.0\\.0\\.1|\\[::1\\]):${PORT}/`));
  step("http://localhost:" + PORT + "/ became " + viaName.url() + " and connects");
  console.log("e2e: ok");
} finally {
  await b.close();
}
