// The commission choice in a real browser: Debian's headless Chromium driven by
// playwright-core. Run by tests/tests/commission.rs, which registers an application
// that asks for a commission and approves the login with the reference phone app when
// this script prints the QR content.
//
//   node tests/browser/commission.mjs <authorization url> <callback prefix> <output dir>
//
// 1. The authorization URL → the method choice → the QR page; prints `QR <content>`;
// 2. after the phone approves, the page continues by itself to the commission choice:
//    its heading, one button per commission, accessibility (commission-choice.png);
// 3. the English version of the page (commission-choice-en.png);
// 4. a tap on "Akutmottagningen" → the browser goes to the application's callback with a
//    code; prints `CALLBACK <url>`.
// Exit 0 on success; otherwise a message on stderr and exit 1.

import { check, checkPage, runInChromium } from "./harness.mjs";
import { join } from "node:path";

const [authorize, callbackPrefix, outDir] = process.argv.slice(2);
if (!authorize || !callbackPrefix || !outDir) {
  console.error("usage: node commission.mjs <authorization url> <callback prefix> <output dir>");
  process.exit(2);
}

async function run(browser) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 390, height: 844 },
    locale: "sv-SE",
  });
  const page = await context.newPage();
  const scriptErrors = [];
  page.on("pageerror", (error) => scriptErrors.push(error.message));
  // The application is not running: its callback answers with a stub page.
  let callback = null;
  await page.route(`${callbackPrefix}**`, (route) => {
    callback = route.request().url();
    return route.fulfill({ status: 200, contentType: "text/plain", body: "callback" });
  });

  // 1. Log in with the app on another device.
  await page.goto(authorize);
  await page.getByRole("link", { name: /Mobilt certifikat på en annan enhet/ }).click();
  await page.waitForURL(/\/login\/mobile\?order=/);
  const qr = page.locator("img[data-qr]");
  await qr.waitFor({ state: "visible", timeout: 10_000 });
  console.log(`QR ${await qr.getAttribute("data-qr")}`);

  // 2. The choice, once the phone approved.
  await page.waitForURL((url) => url.pathname === "/login/commission", { timeout: 60_000 });
  const heading = (await page.locator("h1").innerText()).trim();
  check(heading === "Välj medarbetaruppdrag", `choice: unexpected heading "${heading}"`);
  const buttons = page.locator("button[name=commission]");
  check((await buttons.count()) === 2, `choice: ${await buttons.count()} commissions, expected 2`);
  const text = await page.locator("main").innerText();
  check(
    text.includes("Journalen med uppdrag") && text.includes("Region Exempelland"),
    `choice: the page does not say where the login goes: ${text}`,
  );
  await page.screenshot({ path: join(outDir, "commission-choice.png"), fullPage: true });
  await checkPage(page, "commission choice");

  // 3. The same page in English, then back.
  await page.locator("a.lang").click();
  const english = (await page.locator("h1").innerText()).trim();
  check(english === "Choose your commission", `choice (en): unexpected heading "${english}"`);
  await page.screenshot({ path: join(outDir, "commission-choice-en.png"), fullPage: true });
  await checkPage(page, "commission choice (en)");

  // 4. The choice continues to the application.
  await page.getByRole("button", { name: /Akutmottagningen/ }).click();
  await page.waitForURL((url) => url.href.startsWith(callbackPrefix), { timeout: 10_000 });
  check(callback !== null, "the callback was not reached");
  console.log(`CALLBACK ${callback}`);

  check(scriptErrors.length === 0, `script errors: ${scriptErrors.join("; ")}`);
  await context.close();
}

await runInChromium("commission.mjs", outDir, run);
