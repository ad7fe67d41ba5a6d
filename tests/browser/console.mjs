// The admin console in a real browser: Debian's headless Chromium driven by
// playwright-core. Run by tests/tests/console.rs, which approves the admin's login with
// the reference phone app when this script prints the QR content.
//
//   node tests/browser/console.mjs <console url> <SP metadata url> <OIDC redirect uri> <output dir>
//
// Anna, the region's admin, opens the console, logs in with the app on another device,
// registers a SAML service by its metadata URL (preview, release, LoA, Lillby's staff),
// looks at what it would receive about her, tries a login to it as the console,
// and an OIDC client (web, scopes, Lillby's staff); the secret is read from the page.
// Every page: axe-core finds no serious or critical violation, the harness's own checks
// pass, and a screenshot at phone and at desktop width is saved (console-*.png).
// Prints `QR <content>`, then `CLIENT <client_id> <secret>`, `PAGES <n>` and
// `ADMIN_MS <wall time of the admin part>`. Exit 0 on success; otherwise a message on
// stderr and exit 1.

import { check, checkPage, runInChromium } from "./harness.mjs";
import { join } from "node:path";

const [consoleUrl, metadataUrl, redirectUri, outDir] = process.argv.slice(2);
if (!consoleUrl || !metadataUrl || !redirectUri || !outDir) {
  console.error("usage: node console.mjs <console url> <metadata url> <redirect uri> <output dir>");
  process.exit(2);
}

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

async function run(browser) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: PHONE,
    locale: "sv-SE",
  });
  const page = await context.newPage();
  const scriptErrors = [];
  page.on("pageerror", (error) => scriptErrors.push(error.message));
  let pages = 0;

  /** Checks the page (axe-core and the harness) and saves it at both widths. */
  const capture = async (name) => {
    pages += 1;
    await checkPage(page, name);
    await page.screenshot({ path: join(outDir, `console-${name}.png`), fullPage: true });
    await page.setViewportSize(DESKTOP);
    await page.screenshot({ path: join(outDir, `console-${name}-desktop.png`), fullPage: true });
    await page.setViewportSize(PHONE);
  };

  const started = Date.now();
  // 1. The console sends Anna to the IdP's login; she uses the app on another device.
  await page.goto(consoleUrl);
  await page.waitForURL(/\/login\?login=/);
  await capture("login");
  await page.getByRole("link", { name: /Mobilt certifikat på en annan enhet/ }).click();
  await page.waitForURL(/\/login\/mobile\?order=/);
  const qr = page.locator("img[data-qr]");
  await qr.waitFor({ state: "visible", timeout: 10_000 });
  await checkPage(page, "qr");
  console.log(`QR ${await qr.getAttribute("data-qr")}`);
  await page.waitForURL((url) => url.pathname === "/console", { timeout: 60_000 });
  await capture("home");

  // She is also an operator: the platform's page.
  await page.getByRole("link", { name: /Plattformen/ }).click();
  await page.waitForURL((url) => url.pathname === "/console/platform");
  const platform = await page.locator("main").innerText();
  check(platform.includes("SE2120007774-") && platform.includes("region/journal"), `platform: ${platform}`);
  await capture("platform");
  await page.getByRole("link", { name: "Administration", exact: true }).click();

  // 2. Her organisation's page.
  await page.getByRole("link", { name: /Region Exempelland/ }).click();
  await page.waitForURL((url) => url.pathname === "/console/t/region");
  await capture("tenant");

  // 3. A SAML service by its metadata URL: the preview, then the settings.
  await page.getByRole("link", { name: "Registrera SAML-tjänst" }).click();
  await page.getByLabel("Tjänstens metadata-URL").fill(metadataUrl);
  await capture("saml-new");
  await page.getByRole("button", { name: "Hämta och granska" }).click();
  await page.waitForURL((url) => url.pathname.endsWith("/saml/preview"));
  const entityId = (await page.locator("#entity-id").innerText()).trim();
  check(entityId.startsWith("https://sp.example.test/"), `preview: entityID "${entityId}"`);
  await capture("saml-preview");
  await page.getByLabel(/^Id/).fill("journal2");
  await page.getByLabel("Namn på svenska (visas vid inloggningen)").fill("Journalen 2");
  await page.getByLabel("Namn på engelska").fill("Patient records 2");
  await page.getByLabel("Lillby kommun").check();
  await page.getByRole("button", { name: "Registrera" }).click();
  await page.waitForURL((url) => url.pathname === "/console/t/region");
  const notice = await page.locator("p.status").innerText();
  check(notice.includes("journal2 är registrerad"), `after the SAML registration: "${notice}"`);
  await capture("tenant-registered");

  // What the new service would receive about Anna herself.
  await page.getByRole("link", { name: "Vad tjänsten får: Journalen 2" }).click();
  await page.waitForURL((url) => url.pathname.endsWith("/apps/journal2/receives"));
  const received = await page.locator("table").innerText();
  check(received.includes("SE2321009991-anna01"), `receives: ${received}`);
  await capture("receives");
  await page.getByRole("link", { name: "Tillbaka till organisationen" }).click();

  // "Try a login" to it: the console sends an AuthnRequest as the service.
  await page.getByRole("link", { name: "Prova inloggning: Journalen 2" }).click();
  await page.getByRole("button", { name: "Prova", exact: true }).click();
  await page.waitForURL((url) => url.pathname.endsWith("/apps/journal2/try"));
  const samlPassed = await page.locator("li.step.ok").count();
  const samlFailed = await page.locator("li.step.failed").count();
  check(samlPassed === 3 && samlFailed === 0, `SAML try: ${samlPassed} passed, ${samlFailed} failed`);
  await capture("try-saml");
  await page.getByRole("link", { name: "Tillbaka till organisationen" }).click();

  // 4. An OIDC client.
  await page.getByRole("link", { name: "Registrera OIDC-klient" }).click();
  await page.getByLabel(/^Id/).fill("natt");
  await page.getByLabel("Namn på svenska (visas vid inloggningen)").fill("Nattpatrullen");
  await page.getByLabel("Redirect-URI:er (en per rad)").fill(redirectUri);
  await page.getByLabel("hsa", { exact: true }).check();
  await page.getByLabel("Lillby kommun").check();
  await capture("oidc-new");
  await page.getByRole("button", { name: "Registrera" }).click();
  await page.waitForURL((url) => url.pathname === "/console/t/region/oidc");
  const clientId = (await page.locator("#client-id").innerText()).trim();
  const secret = (await page.locator("#secret").innerText()).trim();
  check(secret.length >= 40, "the secret page shows no secret");
  check(await page.getByRole("button", { name: "Kopiera" }).isVisible(), "no copy button");
  await capture("oidc-secret");

  // "Try a login": the console plays the new client with Anna's own login.
  await page.getByRole("link", { name: "Tillbaka till organisationen" }).click();
  await page.getByRole("link", { name: "Prova inloggning: Nattpatrullen" }).click();
  await page.getByLabel("Klientens hemlighet").fill(secret);
  await page.getByRole("button", { name: "Prova", exact: true }).click();
  await page.waitForURL((url) => url.pathname.endsWith("/apps/natt/try"));
  const passed = await page.locator("li.step.ok").count();
  const failed = await page.locator("li.step.failed").count();
  check(passed === 7 && failed === 0, `try: ${passed} steps passed, ${failed} failed`);
  await capture("try");
  const adminMs = Date.now() - started;

  // The region's grants to other organisations' services.
  await page.getByRole("link", { name: "Tillbaka till organisationen" }).click();
  await page.getByRole("link", { name: "Medgivanden" }).click();
  await page.waitForURL((url) => url.pathname === "/console/t/region/grants");
  await capture("grants");

  // The region's log: Anna's own console login is in it, and the registrations.
  await page.getByRole("link", { name: "Tillbaka till organisationen" }).click();
  await page.getByRole("link", { name: "Logg", exact: true }).click();
  await page.waitForURL((url) => url.pathname === "/console/t/region/audit");
  const log = await page.locator("main").innerText();
  check(log.includes("saml_sp.put") && log.includes("oidc_client.put"), `log: ${log}`);
  await capture("audit");

  // Her own active logins (the console's own among them).
  await page.getByRole("link", { name: "Tillbaka till organisationen" }).click();
  await page.getByRole("link", { name: "Inloggningar", exact: true }).click();
  await page.getByLabel("HSA-id för en person i din organisation").fill("SE2321009991-anna01");
  await page.getByRole("button", { name: "Sök" }).click();
  const sessions = await page.locator("li.session").count();
  check(sessions === 1, `sessions: ${sessions} listed, expected 1`);
  await capture("sessions");

  // 5. The English console.
  await page.goto(`${consoleUrl}?lang=en`);
  const english = (await page.locator("h1").innerText()).trim();
  check(english === "Administration", `console (en): heading "${english}"`);
  await capture("home-en");

  // A refusal is a page that says what is wrong (a metadata URL that is no URL).
  await page.goto(consoleUrl.replace(/\/console$/, "/console/t/region/saml/new"));
  await page.getByLabel("Tjänstens metadata-URL").fill("https://");
  await page.locator("#metadata_url").evaluate((input) => input.removeAttribute("type"));
  await page.getByRole("button", { name: "Hämta och granska" }).click();
  await page.waitForURL((url) => url.pathname.endsWith("/saml/preview"));
  const refusal = await page.locator("p.code").innerText();
  check(refusal.includes("ADMIN_INVALID"), `problem page: ${refusal}`);
  await capture("problem");

  // Logging out of the console.
  await page.getByRole("button", { name: "Logga ut" }).click();
  await page.waitForURL((url) => url.pathname === "/console/signed-out");
  await capture("signed-out");

  console.log(`CLIENT ${clientId} ${secret}`);
  console.log(`PAGES ${pages}`);
  console.log(`ADMIN_MS ${adminMs}`);
  check(scriptErrors.length === 0, `script errors: ${scriptErrors.join("; ")}`);
  await context.close();
}

await runInChromium("console.mjs", outDir, run);
