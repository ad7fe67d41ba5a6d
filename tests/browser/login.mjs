// The login pages in a real browser: Debian's headless Chromium driven by playwright-core
// (no browser download). Run by tests/tests/browser_login.rs, which approves the login
// with the reference phone app when this script prints the QR content.
//
//   node tests/browser/login.mjs <idp base url> <output dir>
//
// 1. /login/start?app=region/journal → the method choice (method-choice.png);
// 2. the QR option → the QR page; prints `QR <content>` (qr.png);
// 3. waits (up to 60 s) for the page to continue to /session on its own (session.png);
// 4. /login/start?app=nope/none → the error page (error.png).
// On every page: <html lang>, an h1, an accessible name for every link, button, input
// and image, no horizontal scrolling at 390 px, no script errors or CSP violations.
// Exit 0 on success; otherwise a message on stderr and exit 1.

import { check, checkPage, Failure, runInChromium } from "./harness.mjs";
import { join } from "node:path";

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) {
  console.error("usage: node login.mjs <idp base url> <output dir>");
  process.exit(2);
}

/** Tab to the first login method: it must take the focus and show it. */
async function checkKeyboardFocus(page) {
  for (let i = 0; i < 5; i += 1) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || !el.classList.contains("method")) return null;
      const style = getComputedStyle(el);
      return { outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
    });
    if (focused) {
      check(
        focused.outline !== "none" && focused.width >= 2,
        `method choice: the focused method has no visible outline (${JSON.stringify(focused)})`,
      );
      return;
    }
  }
  throw new Failure("method choice: Tab does not reach the login methods");
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
  const scriptErrors = [];
  page.on("pageerror", (error) => scriptErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy/i.test(message.text())) {
      scriptErrors.push(message.text());
    }
  });

  // 1. The method choice.
  await page.goto(`${base}/login/start?app=region/journal`);
  const heading = (await page.locator("h1").innerText()).trim();
  check(
    heading === "Logga in i Journalen (test) hos Region Exempelland",
    `method choice: unexpected heading "${heading}"`,
  );
  await shot(page, "method-choice.png");
  await checkPage(page, "method choice");
  await checkKeyboardFocus(page);

  // 2. The QR page.
  await page.getByRole("link", { name: /Mobilt certifikat på en annan enhet/ }).click();
  await page.waitForURL(/\/login\/mobile\?order=/);
  const qr = page.locator("img[data-qr]");
  await qr.waitFor({ state: "visible", timeout: 10_000 });
  await page.waitForFunction(() => {
    const img = document.querySelector("img[data-qr]");
    return img && img.complete && img.naturalWidth > 0;
  });
  const status = page.getByRole("status");
  check(
    (await status.innerText()).includes("skanna QR-koden"),
    `QR page: unexpected status "${await status.innerText()}"`,
  );
  await shot(page, "qr.png");
  await checkPage(page, "QR page");
  // The newest code (the page refreshes it every second; the IdP accepts it for 5 s).
  console.log(`QR ${await qr.getAttribute("data-qr")}`);

  // 3. The phone approves; the page continues by itself.
  await page.waitForURL((url) => url.pathname === "/session", { timeout: 60_000 });
  const session = (await page.locator("h1").innerText()).trim();
  check(session === "Du är inloggad", `session page: unexpected heading "${session}"`);
  await shot(page, "session.png");
  await checkPage(page, "session page");

  // 4. An unknown application.
  const response = await page.goto(`${base}/login/start?app=nope/none`);
  check(response.status() === 404, `error page: status ${response.status()}, expected 404`);
  await shot(page, "error.png");
  await checkPage(page, "error page");

  check(scriptErrors.length === 0, `script errors: ${scriptErrors.join("; ")}`);
  await context.close();
}

await runInChromium("login.mjs", outDir, run);
