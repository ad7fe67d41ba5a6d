// What every browser script shares: Debian's headless Chromium launched with the flags
// this machine needs (no background networking: the network is closed), the failure
// type and check, and the run/exit protocol (print OK and exit 0, or print the failure
// on stderr and exit 1).

import { chromium } from "playwright-core";
import { mkdir } from "node:fs/promises";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export class Failure extends Error {}

export const check = (ok, message) => {
  if (!ok) throw new Failure(message);
};

/// Creates `outDir`, launches Chromium, runs `run(browser)`, and reports as `name`.
export async function runInChromium(name, outDir, run) {
  await mkdir(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    await run(browser);
    console.log("OK");
  } catch (error) {
    const message = error instanceof Failure ? error.message : error.stack || String(error);
    console.error(`${name}: ${message}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
