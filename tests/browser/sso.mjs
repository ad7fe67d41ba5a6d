// Single sign-on across organisations in a real browser: Debian's headless Chromium
// driven by playwright-core. Run by tests/tests/browser_sso.rs, which starts the IdP and
// sp-test and approves the login with the reference phone app when this script prints
// the QR content.
//
//   node tests/browser/sso.mjs <sp-test base url> <output dir>
//
// 1. The region's patient record (sp-test, SAML): "Logga in" → the IdP's login page
//    (sso-login.png) → the QR option → `QR <content>` → the phone approves → the page
//    continues by itself through the SAML POST back to the application (sso-journal.png).
// 2. The municipality's care records (SAML, another organisation): "Logga in" → back
//    logged in without passing the IdP's login page (sso-omsorg.png).
// Exit 0 on success; otherwise a message on stderr and exit 1.

import { check, runInChromium } from "./harness.mjs";
import { join } from "node:path";

const [sp, outDir] = process.argv.slice(2);
if (!sp || !outDir) {
  console.error("usage: node sso.mjs <sp-test base url> <output dir>");
  process.exit(2);
}

async function shot(page, file) {
  await page.screenshot({ path: join(outDir, file), fullPage: true });
}

async function run(browser) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 390, height: 844 },
    locale: "sv-SE",
  });
  const page = await context.newPage();
  const visited = [];
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) visited.push(new URL(frame.url()));
  });
  const scriptErrors = [];
  page.on("pageerror", (error) => scriptErrors.push(error.message));

  // 1. The regional application: the one login.
  await page.goto(`${sp}/sp/t-journal/`);
  await page.locator("#login").click();
  await page.waitForURL((url) => url.pathname === "/login");
  const heading = (await page.locator("h1").innerText()).trim();
  check(heading.includes("Journalen"), `login page: unexpected heading "${heading}"`);
  await shot(page, "sso-login.png");
  await page.getByRole("link", { name: /Mobilt certifikat på en annan enhet/ }).click();
  const qr = page.locator("img[data-qr]");
  await qr.waitFor({ state: "visible", timeout: 10_000 });
  console.log(`QR ${await qr.getAttribute("data-qr")}`);
  await page.waitForURL((url) => url.pathname === "/sp/t-journal/", { timeout: 60_000 });
  const first = (await page.locator("#status").innerText()).trim();
  check(first.startsWith("Inloggad"), `regional application: "${first}"`);
  await shot(page, "sso-journal.png");

  // 2. The municipal application: no login page on the way.
  const before = visited.length;
  await page.goto(`${sp}/sp/t-omsorg/`);
  await page.locator("#login").click();
  await page.waitForURL((url) => url.pathname === "/sp/t-omsorg/", { timeout: 20_000 });
  const second = (await page.locator("#status").innerText()).trim();
  check(second.startsWith("Inloggad"), `municipal application: "${second}"`);
  const loginPages = visited.slice(before).filter((url) => url.pathname === "/login");
  check(loginPages.length === 0, `the second application passed a login page: ${loginPages}`);
  await shot(page, "sso-omsorg.png");

  check(scriptErrors.length === 0, `script errors: ${scriptErrors.join("; ")}`);
  await context.close();
}

await runInChromium("sso.mjs", outDir, run);
