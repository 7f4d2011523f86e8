// `node bench/ui.mjs`: the web UI's performance budgets, measured in Debian's Chromium against a
// running stack (see BENCHMARKS.md for the command sequence and the figures):
// - the initial JavaScript of the first page, gzip bytes as served;
// - the runs table of the read benchmark's million-run project: navigation → first row shown;
// - a 10,000-run and a 25,000-run trace (ingested here through /runs/batch): navigation → tree
//   and waterfall drawn, then a click on a run → its detail shown, and frame times while the
//   tree scrolls from top to bottom;
// - the live tail while 1,000 runs/s are ingested (batches of 100 every 100 ms, each run named
//   for the moment its batch was accepted): for every run that appears in the table, the time
//   from its batch's 202 to the row being on screen.
// Environment: UI (the edge, default http://127.0.0.1:8080), API_KEY, ADMIN_EMAIL,
// ADMIN_PASSWORD (the stack's bootstrap login), PROJECT (default bench-reads-1000000),
// REPETITIONS (default 5). Prints a JSON summary.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const UI = process.env.UI ?? "http://127.0.0.1:8080";
const KEY = process.env.API_KEY;
const EMAIL = process.env.ADMIN_EMAIL;
const PASSWORD = process.env.ADMIN_PASSWORD;
const PROJECT = process.env.PROJECT ?? "bench-reads-1000000";
const REPETITIONS = Number(process.env.REPETITIONS ?? 5);
if (!KEY || !EMAIL || !PASSWORD) throw new Error("set API_KEY, ADMIN_EMAIL and ADMIN_PASSWORD (scripts/stack up prints them)");

const api = async (method, path, body) => {
  const response = await fetch(`${UI}/api/v1${path}`, {
    method,
    headers: { "x-api-key": KEY, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stamp = (ms) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(".", "").replace("Z", "") + "000";
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const summary = (values) => ({ p50_ms: Math.round(quantile(values, 0.5)), max_ms: Math.round(Math.max(...values)), runs: values.length });

/** A trace of `size` runs: a root, 100 chains under it, the rest as LLM and tool steps under the chains. */
async function ingestTrace(project, size) {
  const base = Date.now() - 3_600_000;
  const root = { id: randomUUID(), start: base };
  root.dotted = `${stamp(base)}Z${root.id}`;
  const runs = [{ ...root, parent: null, name: `big-trace-${size}`, type: "chain" }];
  const chains = [];
  for (let c = 0; c < 100 && runs.length < size; c++) {
    const id = randomUUID();
    const start = base + 1 + c * 30;
    const chain = { id, start, dotted: `${root.dotted}.${stamp(start)}Z${id}`, parent: root.id, name: `step-${c}`, type: "chain" };
    chains.push(chain);
    runs.push(chain);
  }
  for (let i = 0; runs.length < size; i++) {
    const chain = chains[i % chains.length];
    const id = randomUUID();
    const start = chain.start + 1 + Math.floor(i / chains.length) % 28;
    runs.push({ id, start, dotted: `${chain.dotted}.${stamp(start)}Z${id}`, parent: chain.id, name: i % 3 ? "tool" : "llm", type: i % 3 ? "tool" : "llm" });
  }
  for (let i = 0; i < runs.length; i += 100) {
    const post = runs.slice(i, i + 100).map((r) => ({
      id: r.id, trace_id: root.id, parent_run_id: r.parent, dotted_order: r.dotted, name: r.name, run_type: r.type,
      session_name: project, start_time: new Date(r.start).toISOString(), end_time: new Date(r.start + 1).toISOString(),
      inputs: { i }, outputs: { ok: true },
    }));
    await api("POST", "/runs/batch", { post });
  }
  return root.id;
}

/**
 * Where a page's time went, read from the browser's own timings: the document, each API call
 * (start and end, ms after navigation) and the first row's appearance.
 */
const breakdown = (page) =>
  page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const calls = performance
      .getEntriesByType("resource")
      .filter((r) => r.name.includes("/api/"))
      .map((r) => {
        const url = new URL(r.name);
        return { call: `${url.pathname}${url.search ? "?…" : ""}`, start: Math.round(r.startTime), end: Math.round(r.responseEnd), kb: Math.round(r.encodedBodySize / 1024), decoded_kb: Math.round(r.decodedBodySize / 1024) };
      });
    const scripts = performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js"));
    return {
      document_ms: Math.round(nav?.responseEnd ?? 0),
      dom_content_loaded_ms: Math.round(nav?.domContentLoadedEventEnd ?? 0),
      scripts_loaded_ms: Math.round(Math.max(0, ...scripts.map((r) => r.responseEnd))),
      api_calls: calls,
      now_ms: Math.round(performance.now()),
    };
  });

/** One root run named `name`, starting now. */
function liveRun(project, name) {
  const id = randomUUID();
  const now = Date.now();
  return {
    id, trace_id: id, dotted_order: `${stamp(now)}Z${id}`, name, run_type: "chain", session_name: project,
    start_time: new Date(now).toISOString(), end_time: new Date(now + 1).toISOString(), inputs: { name }, outputs: { ok: true },
  };
}

async function traceReady(projectId, traceId, size) {
  for (;;) {
    const page = await api("GET", `/runs/${traceId}/trace?session=${projectId}&select=parent_run_id`).catch(() => null);
    if (page && page.runs.length >= size) return;
    await sleep(1000);
  }
}

const out = { ui: UI, when: new Date().toISOString() };
const found = await api("GET", `/sessions?name=${encodeURIComponent(PROJECT)}`);
if (found.length === 0) throw new Error(`no project ${PROJECT}: run the read benchmark first (it seeds it)`);
const big = found[0];
const traceProject = "bench-ui-traces";
/** The big traces already ingested into the trace project, by size. */
async function bigTraces() {
  const projects = await api("GET", `/sessions?name=${traceProject}`);
  if (projects.length === 0) return [null, {}];
  const roots = await api("POST", "/runs/query", { session: [projects[0].id], is_root: true, select: ["name"] });
  const ids = {};
  for (const run of roots.runs) ids[run.name.replace("big-trace-", "")] = run.id;
  return [projects[0].id, ids];
}
let [traceProjectId, traceIds] = await bigTraces();
for (const size of [10_000, 25_000]) {
  if (!traceIds[String(size)]) await ingestTrace(traceProject, size);
}
for (;;) {
  [traceProjectId, traceIds] = await bigTraces();
  if (traceProjectId && traceIds["10000"] && traceIds["25000"]) break;
  await sleep(1000);
}
await traceReady(traceProjectId, traceIds["10000"], 10_000);
await traceReady(traceProjectId, traceIds["25000"], 25_000);

const profile = mkdtempSync(join(tmpdir(), "ironsmith-bench-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 800 },
});
const page = browser.pages()[0] ?? (await browser.newPage());
try {
  // Sign in, counting the JavaScript the first page downloads (gzip bytes on the wire).
  let jsBytes = 0;
  const counting = (response) => {
    if (response.url().endsWith(".js")) {
      const length = Number(response.headers()["content-length"] ?? 0);
      jsBytes += length;
    }
  };
  page.on("response", counting);
  await page.goto(`${UI}/login`);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/projects/);
  await page.waitForLoadState("networkidle");
  page.off("response", counting);
  out.first_page_js_gzip_bytes = jsBytes;
  const workspace = new URL(page.url()).pathname.split("/")[2];

  // The runs table of the big project.
  const table = [];
  const tableBreakdowns = [];
  for (let i = 0; i < REPETITIONS; i++) {
    await page.goto("about:blank");
    const started = Date.now();
    await page.goto(`${UI}/o/${workspace}/projects/p/${big.id}`, { waitUntil: "commit" });
    await page.locator(".runs-row").first().waitFor({ timeout: 60_000 });
    table.push(Date.now() - started);
    tableBreakdowns.push(await breakdown(page));
  }
  out.runs_table_first_page = summary(table);
  out.runs_table_breakdown_last = tableBreakdowns.at(-1);

  for (const size of ["10000", "25000"]) {
    const drawn = [];
    const select = [];
    const frames = [];
    for (let i = 0; i < REPETITIONS; i++) {
      await page.goto("about:blank");
      const started = Date.now();
      await page.goto(`${UI}/o/${workspace}/projects/p/${traceProjectId}/r/${traceIds[size]}?trace_id=${traceIds[size]}`, { waitUntil: "commit" });
      const tree = page.getByRole("tree", { name: "Runs of the trace" });
      await tree.getByRole("treeitem").nth(5).waitFor({ timeout: 60_000 });
      await page.locator(".waterfall .bar").nth(5).waitFor();
      drawn.push(Date.now() - started);
      if (i === REPETITIONS - 1) out[`trace_${size}_breakdown_last`] = await breakdown(page);
      const clicked = Date.now();
      await tree.getByRole("treeitem").nth(1).click();
      await page.getByRole("article", { name: "Run step-0" }).waitFor({ timeout: 30_000 });
      select.push(Date.now() - clicked);
      // Frame times while the tree scrolls to the bottom in 40 steps.
      const times = await page.evaluate(async () => {
        const body = document.querySelector(".tree-body");
        const gaps = [];
        let last = performance.now();
        for (let step = 1; step <= 40; step++) {
          body.scrollTop = (body.scrollHeight * step) / 40;
          await new Promise((r) => requestAnimationFrame(() => r()));
          const now = performance.now();
          gaps.push(now - last);
          last = now;
        }
        return gaps;
      });
      frames.push(...times);
    }
    out[`trace_${size}`] = {
      tree_and_waterfall_drawn: summary(drawn),
      run_selected: summary(select),
      scroll_frame_ms: { p50: Math.round(quantile(frames, 0.5)), p95: Math.round(quantile(frames, 0.95)), max: Math.round(Math.max(...frames)) },
    };
  }

  // The live tail under 1,000 runs/s.
  const liveProject = `bench-ui-live-${Date.now()}`;
  await api("POST", "/runs/batch", { post: [liveRun(liveProject, "seed")] });
  let liveId = null;
  for (;;) {
    liveId = (await api("GET", `/sessions?name=${liveProject}`))[0]?.id ?? null;
    // The project exists as soon as the run is accepted; the run is queryable a little later.
    if (liveId && (await api("POST", "/runs/query", { session: [liveId], limit: 1 })).runs.length > 0) break;
    await sleep(500);
  }
  await page.goto(`${UI}/o/${workspace}/projects/p/${liveId}?view=runs`);
  await page.locator(".runs-row").first().waitFor({ timeout: 60_000 });
  await page.getByRole("button", { name: "Live" }).click();
  await page.getByText("streaming new runs").waitFor();
  // Each row, when it first appears, by its name (`live-<accepted ms>-<n>`).
  await page.evaluate(() => {
    window.__seen = {};
    const note = () => {
      for (const a of document.querySelectorAll(".runs-row .name-cell a")) {
        const name = a.textContent ?? "";
        if (name.startsWith("live-") && !(name in window.__seen)) window.__seen[name] = Date.now();
      }
    };
    new MutationObserver(note).observe(document.querySelector(".runs-body"), { childList: true, subtree: true, characterData: true });
  });
  const sendFor = 20_000;
  const started = Date.now();
  let sent = 0;
  // Each run is named for its batch (`live-<sent ms>-<n>`); the batch's 202 time is kept.
  const acceptedAt = new Map();
  while (Date.now() - started < sendFor) {
    const tick = Date.now();
    const post = [];
    for (let i = 0; i < 100; i++) post.push(liveRun(liveProject, `live-${tick}-${i}`));
    await api("POST", "/runs/batch", { post });
    acceptedAt.set(tick, Date.now());
    sent += 100;
    const wait = 100 - (Date.now() - tick);
    if (wait > 0) await sleep(wait);
  }
  await sleep(3000);
  const seen = await page.evaluate(() => window.__seen);
  const delays = [];
  for (const [name, at] of Object.entries(seen)) {
    const tick = Number(name.split("-")[1]);
    const accepted = acceptedAt.get(tick);
    if (accepted) delays.push(at - accepted);
  }
  out.live_tail_at_1000_runs_per_s = {
    runs_sent: sent,
    rows_shown: delays.length,
    after_202_ms: delays.length ? { p50: Math.round(quantile(delays, 0.5)), p95: Math.round(quantile(delays, 0.95)), max: Math.round(Math.max(...delays)) } : null,
  };
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(out, null, 2));
