// What every browser script shares: Debian's headless Chromium launched with the flags
// this machine needs (no background networking: the network is closed), the failure
// type and check, and the run/exit protocol (print OK and exit 0, or print the failure
// on stderr and exit 1).

import { chromium } from "playwright-core";
import { mkdir } from "node:fs/promises";
import { readFileSync } from "node:fs";

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

/** Problems a screen-reader or keyboard user would meet on the current page. */
export async function accessibilityProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const lang = document.documentElement.getAttribute("lang");
    if (!lang || !lang.trim()) problems.push("<html> has no lang");
    if (!document.querySelector("h1")) problems.push("no <h1>");
    const textOf = (ids) =>
      ids
        .split(/\s+/)
        .map((id) => document.getElementById(id)?.textContent ?? "")
        .join(" ");
    const accessibleName = (el) => {
      const candidates = [
        el.getAttribute("aria-label"),
        el.getAttribute("aria-labelledby") && textOf(el.getAttribute("aria-labelledby")),
        el.tagName === "IMG" ? el.getAttribute("alt") : null,
        el.labels ? [...el.labels].map((l) => l.textContent).join(" ") : null,
        ["submit", "button", "reset"].includes(el.type) && el.tagName === "INPUT" ? el.value : null,
        el.tagName === "IMG" ? null : el.textContent,
        [...el.querySelectorAll("img[alt]")].map((img) => img.alt).join(" "),
        el.getAttribute("title"),
      ];
      return candidates.find((name) => name && name.trim()) || "";
    };
    const controls = document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, img",
    );
    for (const el of controls) {
      if (!accessibleName(el)) {
        problems.push(`no accessible name: ${el.outerHTML.slice(0, 100)}`);
      }
    }
    for (const input of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
      if (!input.labels?.length && !input.getAttribute("aria-label")) {
        problems.push(`no label: ${input.outerHTML.slice(0, 100)}`);
      }
    }
    const width = document.documentElement.scrollWidth;
    if (width > window.innerWidth) {
      problems.push(`wider than the viewport: ${width} > ${window.innerWidth} px`);
    }
    return problems;
  });
}

/**
 * Fails with every accessibility problem of the current page, named `name`: the
 * harness's own checks and axe-core's serious and critical violations.
 */
export async function checkPage(page, name) {
  const problems = await accessibilityProblems(page);
  check(problems.length === 0, `${name}: ${problems.join("; ")}`);
  await checkAxe(page, name);
}

const AXE = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");

/**
 * axe-core's serious and critical violations on the current page, one line each.
 * The script is evaluated through the DevTools protocol, which the page's CSP does
 * not govern, so the page is checked exactly as it is served.
 */
export async function axeViolations(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}

/** Fails with every serious or critical axe-core violation of the current page. */
export async function checkAxe(page, name) {
  const violations = await axeViolations(page);
  check(violations.length === 0, `${name}: axe-core: ${violations.join("; ")}`);
}
