// The demo page against `eid-agent run --simulate` (no PC/SC): the
// simulator panel appears because hello lists "simulator", and the
// keyboard shortcuts r / i remove and insert the virtual card.
// Environment: EID_PAGE, EID_SHOTS (optional).
import assert from "node:assert/strict";
import { launch, step, need } from "./browser.mjs";

const PAGE = need("EID_PAGE");
const SHOTS = process.env.EID_SHOTS;
const b = await launch();
const { page } = b;
const text = (sel) => page.locator(sel).textContent();
const count = (ev) => page.locator(`#events li[data-event="${ev}"]`).count();

try {
  await page.goto(PAGE);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  assert.equal(await page.isVisible("#simulator"), true, "simulator panel shown");
  // The simulated reader holds a card from the start; read it.
  await page.click("#read");
  await page.waitForFunction(() => /^\d{11}$/.test(document.getElementById("h-nn").textContent), null, { timeout: 30000 });
  step(`simulated card read: ${await text("#h-name")}`);

  // "r" outside a text field removes the card.
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  const removed = await count("card-removed");
  await page.keyboard.press("r");
  await page.waitForFunction((n) => document.querySelectorAll('#events li[data-event="card-removed"]').length > n, removed, { timeout: 10000 });
  await page.waitForSelector("#holder", { state: "hidden", timeout: 10000 });
  step("r: card removed");

  // "i" inserts the chosen profile; the page reads it by itself.
  await page.selectOption("#sim-profile", "kids-1.8");
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("i");
  await page.waitForSelector("#holder:not([hidden])", { timeout: 30000 });
  assert.match(await text("#h-nn"), /^\d{11}$/);
  step(`i: ${await text("#h-name")} inserted and read (kids-1.8)`);

  // Typing "r" in a text field is text, not a shortcut.
  const before = await count("card-removed");
  await page.focus("#m-ssin").catch(() => {});
  if (await page.isVisible("#m-ssin")) {
    await page.keyboard.type("r");
    await page.waitForTimeout(500);
    assert.equal(await count("card-removed"), before, "no removal while typing");
  }
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/simulator.png`, fullPage: true });
  assert.deepEqual(b.problems, []);
  console.log("e2e: ok");
} catch (err) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/simulator-failure.png`, fullPage: true }).catch(() => {});
  console.error(err);
  console.error("page problems:", b.problems);
  process.exitCode = 1;
} finally {
  await b.close();
}
