// Drives eid-verify's login page in headless Chromium (Debian's, through
// playwright-core from web/node_modules). Environment:
//   PLAYWRIGHT  path of playwright-core's index.mjs
//   PAGE_URL    eid-verify's page
//   PROFILE_DIR a fresh Chromium profile folder
//   WANT_SSIN   the national number the page must show after login
//   READER      the reader holding the test card (others may hold cards too)
//   BUNDLE      "1" to also run the verified identity read
// Prints one JSON line with what the page showed; exits non-zero on failure.
const { chromium } = await import(process.env.PLAYWRIGHT);

const out = {};
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
  // The page lists the readers holding an eID card; pick ours.
  const option = `#reader option[value="${process.env.READER}"]`;
  await page.waitForSelector(option, { state: "attached", timeout: 15000 });
  await page.selectOption("#reader", process.env.READER);
  await page.click("#login");
  // Either the person or an error shows up.
  await page.waitForSelector("#who:not([hidden]), #error:not([hidden])", { timeout: 30000 });
  out.error = await page.locator("#error").isVisible() ? await page.textContent("#error") : null;
  out.ssin = await page.textContent("#person-ssin");
  out.name = await page.textContent("#person-name");
  out.checks = await page.locator("#checks li").allTextContents();
  if (out.error) throw new Error(`login failed: ${out.error}`);
  if (out.ssin !== process.env.WANT_SSIN) throw new Error(`page shows SSIN ${out.ssin}, want ${process.env.WANT_SSIN}`);

  // A reload keeps the session (cookie), and shows who is logged in.
  await page.reload();
  await page.waitForSelector("#who:not([hidden])", { timeout: 10000 });
  out.afterReload = await page.textContent("#person-ssin");
  await page.waitForSelector(option, { state: "attached", timeout: 15000 });
  await page.selectOption("#reader", process.env.READER);

  if (process.env.BUNDLE === "1") {
    await page.click("#read-identity");
    await page.waitForSelector("#identity:not([hidden]), #error:not([hidden])", { timeout: 30000 });
    if (await page.locator("#error").isVisible()) throw new Error(`identity failed: ${await page.textContent("#error")}`);
    out.identitySsin = await page.textContent("#identity-ssin");
    out.identityMatch = await page.textContent("#identity-match");
    out.identityChecks = await page.locator("#identity-checks li").allTextContents();
    out.photo = await page.locator("#photo").isVisible();
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
