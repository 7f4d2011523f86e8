// The browser harness of the UI tests: Debian's Chromium driven by Playwright in a fresh
// profile, with every page checked by axe-core (serious and critical violations fail) and the
// console required to stay free of errors.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns something truthy (errors count as "not yet"). */
export async function until(what, check, ms = 60_000) {
  const deadline = Date.now() + ms;
  let last = null;
  for (;;) {
    const value = await check().catch((e) => {
      last = e;
      return null;
    });
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last error: ${last})`);
    await sleep(300);
  }
}

export const text = async (locator) => (await locator.innerText()).trim();

/** Opens Chromium; `out` collects the pages visited and axe's findings, `shots` is a folder. */
export async function openBrowser(out, shots) {
  if (shots) mkdirSync(shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "ironsmith-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 800 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const consoleErrors = [];
  // Answers the page is expected to get while a step runs (a refused filter is a 400, a
  // missing session a 401); Chromium logs each failed request as a console error.
  let expectedStatuses = [];
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const message = msg.text();
    const status = /status of (\d{3})/.exec(message)?.[1];
    if (status && expectedStatuses.includes(Number(status))) return;
    consoleErrors.push(`${page.url()}: ${message}`);
  });
  page.on("pageerror", (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
  page.on("dialog", (dialog) => void dialog.accept());

  /** axe-core on what the page shows now, the console checked, a screenshot taken. */
  async function check(name, { shot = true } = {}) {
    await page.waitForLoadState("networkidle");
    await page.waitForFunction(() => !document.querySelector(".loading"), null, { timeout: 30_000 });
    if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(" ")}: ${n.failureSummary}`) }));
    });
    const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
    out.axe[name] = result.map((v) => `${v.impact}: ${v.id}`);
    if (bad.length > 0) throw new Error(`axe on ${name} (${page.url()}): ${JSON.stringify(bad, null, 1)}`);
    if (consoleErrors.length > 0) throw new Error(`console errors by ${name}: ${consoleErrors.join("\n")}`);
    out.pages[name] = new URL(page.url()).pathname;
    if (shot && shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
  }

  /** Runs `step` with `statuses` expected as failed requests. */
  async function expecting(statuses, step) {
    expectedStatuses = statuses;
    try {
      return await step();
    } finally {
      expectedStatuses = [];
    }
  }

  async function close() {
    out.console_errors = consoleErrors;
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }

  return { browser, page, check, expecting, close };
}

/** Signs in with the form and returns the workspace id the app opened. */
export async function signIn(page, ui, email, password) {
  await page.goto(`${ui}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/o\/[^/]+\/projects/);
  return new URL(page.url()).pathname.split("/")[2];
}
