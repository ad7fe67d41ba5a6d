// Cross-site requests in a real browser: Debian's headless Chromium driven by
// playwright-core. Run by tests/tests/browser_csrf.rs, which starts the IdP and an
// "attacker" site, and approves each login with the reference phone app when this script
// prints the QR content.
//
//   node tests/browser/csrf.mjs <idp base url> <attacker base url> <output dir>
//
// 1. Two tabs each start a login (two applications) before either logs in; both logins
//    complete, the first although the second started after it (csrf-tabs.png).
// 2. The logged-in nurse visits the attacker's page: images and links to the IdP's
//    logout, to a certificate ticket of the attacker's own login and to a login start.
//    Afterwards the nurse is still logged in as herself (csrf-after.png); the ticket link
//    opened as a page is refused; the logout link only asks.
// Exit 0 on success; otherwise a message on stderr and exit 1.

import { check, runInChromium } from "./harness.mjs";
import { join } from "node:path";

const [idp, attacker, outDir] = process.argv.slice(2);
if (!idp || !attacker || !outDir) {
  console.error("usage: node csrf.mjs <idp base url> <attacker base url> <output dir>");
  process.exit(2);
}

async function shot(page, file) {
  await page.screenshot({ path: join(outDir, file), fullPage: true });
}

/// On a login page: picks the QR option, prints the QR content for the phone, and
/// waits until the page has moved on to the session page.
async function logInWithQr(page) {
  await page.getByRole("link", { name: /Mobilt certifikat på en annan enhet/ }).click();
  const qr = page.locator("img[data-qr]");
  await qr.waitFor({ state: "visible", timeout: 10_000 });
  console.log(`QR ${await qr.getAttribute("data-qr")}`);
  await page.waitForURL((url) => url.pathname === "/session", { timeout: 60_000 });
}

async function loggedInAs(page) {
  await page.goto(`${idp}/session`);
  return (await page.locator("main").innerText()).trim();
}

async function run(browser) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 390, height: 844 },
    locale: "sv-SE",
  });

  // 1. Two logins waiting side by side.
  const first = await context.newPage();
  await first.goto(`${idp}/login/start?app=region/journal`);
  await first.waitForURL((url) => url.pathname === "/login");
  const second = await context.newPage();
  await second.goto(`${idp}/login/start?app=storstad/omsorg`);
  await second.waitForURL((url) => url.pathname === "/login");
  await logInWithQr(first);
  check((await first.locator("h1").innerText()).includes("Du är inloggad"), "first tab not logged in");
  await logInWithQr(second);
  check((await second.locator("h1").innerText()).includes("Du är inloggad"), "second tab not logged in");
  await shot(second, "csrf-tabs.png");
  await second.close();

  const nurse = await loggedInAs(first);
  check(nurse.includes("Anna Andersson"), `before the visit: ${nurse}`);

  // 2. The attacker's page: its images fire on load.
  const page = first;
  await page.goto(`${attacker}/`);
  await page.waitForLoadState("load");
  check((await loggedInAs(page)).includes("Anna Andersson"), "an image on another site changed the login");

  // Its links, followed as pages.
  for (const id of ["ticket", "logout", "login"]) {
    await page.goto(`${attacker}/`);
    await page.locator(`#${id}`).click();
    await page.waitForLoadState("load");
    const landed = new URL(page.url());
    const text = (await page.locator("main").innerText()).trim();
    if (id === "ticket") {
      check(landed.pathname === "/login/certificate/complete", `ticket link went to ${landed}`);
      check(text.includes("LOGIN_EXPIRED"), `ticket link page: ${text}`);
    }
    if (id === "logout") {
      check(text.includes("Vill du logga ut?"), `logout link page: ${text}`);
    }
    const now = await loggedInAs(page);
    check(now.includes("Anna Andersson"), `after the ${id} link: ${now}`);
  }
  await shot(page, "csrf-after.png");
  await context.close();
}

await runInChromium("csrf.mjs", outDir, run);
