// Drives eid-verify's counter page in headless Chromium (Debian's, through
// playwright-core from web/node_modules). The Go test inserts and removes
// cards; this script tells it when the page is ready for the next step by
// printing a line ("ready", "shown", "cleared") and waits for "go" on
// stdin. Environment:
//   PLAYWRIGHT  path of playwright-core's index.mjs
//   PAGE_URL    eid-verify's counter page
//   PROFILE_DIR a fresh Chromium profile folder
//   STEPS       comma list of what each insertion must give: "login" (a
//               1.8 card: logged in) or "shown" (a pre-1.8 card: shown,
//               not logged in)
// Prints, last, one JSON line with what the page showed; exits non-zero
// on failure.
import readline from "node:readline";
const { chromium } = await import(process.env.PLAYWRIGHT);

const lines = readline.createInterface({ input: process.stdin });
const it = lines[Symbol.asyncIterator]();
async function step(say) {
  console.log(say);
  const { value } = await it.next();
  if (value !== "go") throw new Error(`test said ${value}`);
}

const out = { cards: [] };
const browser = await chromium.launchPersistentContext(process.env.PROFILE_DIR, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = null;
try {
  const page = browser.pages()[0] || await browser.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(process.env.PAGE_URL);
  await page.waitForSelector("body[data-ready='1'], #error:not([hidden])", { timeout: 15000 });
  if (await page.locator("#error").isVisible()) throw new Error(`page: ${await page.textContent("#error")}`);
  for (const want of process.env.STEPS.split(",")) {
    await step("ready"); // the test inserts a card
    await page.waitForSelector("#holder:not([hidden])", { timeout: 30000 });
    const card = {
      shownAfterMs: Number(await page.getAttribute("#holder", "data-shown-after-ms")),
      name: await page.textContent("#holder-name"),
      photo: await page.locator("#photo").isVisible(),
    };
    if (want === "login") {
      await page.waitForSelector("#logged-in:not([hidden]), #error:not([hidden])", { timeout: 30000 });
    } else {
      await page.waitForFunction(() => !document.querySelector("#guarantees li")?.textContent.startsWith("checking"), null, { timeout: 30000 });
    }
    if (await page.locator("#error").isVisible()) throw new Error(`page: ${await page.textContent("#error")}`);
    card.guarantees = await page.locator("#guarantees li").allTextContents();
    card.loggedIn = await page.locator("#logged-in").isVisible();
    card.ssin = card.loggedIn ? await page.textContent("#person-ssin") : "";
    out.cards.push(card);
    await step("shown"); // the test removes the card
    await page.waitForSelector("#holder[hidden]", { state: "attached", timeout: 15000 });
    card.clearedName = await page.textContent("#holder-name");
    await step("cleared");
  }
  out.console = consoleLines;
} catch (err) {
  failed = err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
if (failed) {
  console.error(failed.stack || String(failed));
  process.exit(1);
}
lines.close();
