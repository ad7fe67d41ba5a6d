// A login through the national eID service in a real browser (headless Chromium, driven
// by playwright-core). Run by tests/tests/national_eid.rs, which plays the service's app
// (sp-test national-eid) when this script prints a QR code.
//
//   node tests/browser/national_eid.mjs <idp base url> <output dir>
//
// 1. /login/start?app=storstad/omsorg → the QR option → the service's QR code (`bankid.`);
//    prints `QR <content>`; the app approves; the page continues to /session by itself
//    (national-eid-qr.png, national-eid-session.png).
// 2. A new browser, the same: prints `QR <content>`; the test takes the service down;
//    the page's script must stop and say that the e-identification service is not
//    answering, with the code NATIONAL_EID_UNAVAILABLE, and offer to try again
//    (national-eid-unavailable.png).
// No script errors or CSP violations. Exit 0 on success; otherwise a message on stderr
// and exit 1.

import { check, checkPage, runInChromium } from "./harness.mjs";
import { join } from "node:path";

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) {
  console.error("usage: node national_eid.mjs <idp base url> <output dir>");
  process.exit(2);
}

/** A fresh browser at the QR page of a Storstad application; prints the QR content. */
async function qrPage(browser, scriptErrors) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 390, height: 844 },
    locale: "sv-SE",
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => scriptErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy/i.test(message.text())) {
      scriptErrors.push(message.text());
    }
  });
  await page.goto(`${base}/login/start?app=storstad/omsorg`);
  await page.getByRole("link", { name: /Mobilt certifikat på en annan enhet/ }).click();
  await page.waitForURL(/\/login\/mobile\?order=national\./);
  const qr = page.locator("img[data-qr]");
  await qr.waitFor({ state: "visible", timeout: 10_000 });
  const content = await qr.getAttribute("data-qr");
  check(content.startsWith("bankid."), `QR page: not the service's QR code: ${content}`);
  return { context, page, content };
}

async function run(browser) {
  const scriptErrors = [];

  // 1. Approved in the service's app: the page continues by itself.
  const first = await qrPage(browser, scriptErrors);
  await first.page.screenshot({ path: join(outDir, "national-eid-qr.png"), fullPage: true });
  await checkPage(first.page, "national eID QR page");
  console.log(`QR ${await first.page.locator("img[data-qr]").getAttribute("data-qr")}`);
  await first.page.waitForURL((url) => url.pathname === "/session", { timeout: 60_000 });
  const heading = (await first.page.locator("h1").innerText()).trim();
  check(heading === "Du är inloggad", `session page: unexpected heading "${heading}"`);
  await first.page.screenshot({ path: join(outDir, "national-eid-session.png"), fullPage: true });
  await first.context.close();

  // 2. The service goes down while the page polls.
  const second = await qrPage(browser, scriptErrors);
  console.log(`QR ${second.content}`);
  const status = second.page.getByRole("status");
  await second.page.waitForFunction(
    () => (document.querySelector("[role=status]")?.textContent ?? "").includes("NATIONAL_EID_"),
    null,
    { timeout: 30_000 },
  );
  const text = await status.innerText();
  check(
    text.includes("E-legitimationstjänsten svarar inte") &&
      text.includes("NATIONAL_EID_UNAVAILABLE"),
    `unavailable: unexpected status "${text}"`,
  );
  check(await second.page.locator("#retry").isVisible(), "unavailable: no way to try again");
  await second.page.screenshot({
    path: join(outDir, "national-eid-unavailable.png"),
    fullPage: true,
  });
  await checkPage(second.page, "national eID unavailable");
  await second.context.close();

  check(scriptErrors.length === 0, `script errors: ${scriptErrors.join("; ")}`);
}

await runInChromium("national_eid.mjs", outDir, run);
