// The web UI in Debian's Chromium, driven by Playwright, against a real stack fed by the real JS
// SDK: sign in → open a project → filter by metadata and by feedback (and see a refused filter's
// reason) → open a trace → add feedback → add the run to a dataset → evaluate() twice from the
// SDK → compare the two experiments → upload a CSV dataset, edit and delete its examples →
// create a project → review an annotation queue item → create an API key in
// Settings, use it from the SDK, revoke it and see the SDK refused; then every link the SDK
// printed, and the public pages without signing in. Every page is checked with axe-core (no
// serious or critical violation) and must leave the console free of errors. Configured by the
// environment (UI, LANGSMITH_ENDPOINT, LANGSMITH_API_KEY, ADMIN_EMAIL, ADMIN_PASSWORD, SUFFIX,
// SCREENSHOTS); prints what it saw as JSON.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBrowser, text, until } from "./browser.mjs";
import { Client } from "langsmith";
import { traceable } from "langsmith/traceable";
import { evaluate, evaluateComparative } from "langsmith/evaluation";

process.removeAllListeners("warning");
// traceable() sends runs only when tracing is on.
process.env.LANGSMITH_TRACING = "true";
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const UI = env("UI");
const SUFFIX = env("SUFFIX");
const SHOTS = process.env.SCREENSHOTS ?? "";
const client = new Client();
const out = { pages: {}, axe: {}, links: {} };

// ---- What the SDK sends: three traces (one failing), metadata, an LLM call, feedback, a dataset.
const projectName = `ui-${SUFFIX}`;
const llm = traceable(
  async (messages) => ({ choices: [{ message: { role: "assistant", content: `Four, said the model (${messages.length} messages).` } }] }),
  { name: "chat-model", run_type: "llm", metadata: { ls_model_name: "gpt-4o-mini", ls_provider: "openai" } },
);
const pipeline = (customer, fail) =>
  traceable(
    async (question) => {
      const answer = await llm([
        { role: "system", content: "Answer briefly." },
        { role: "user", content: question },
      ]);
      if (fail) throw new Error("the retriever timed out");
      return { answer: answer.choices[0].message.content };
    },
    { name: "pipeline", project_name: projectName, metadata: { customer }, tags: ["ui-test"], client },
  );
await pipeline("acme", false)("What is 2+2?");
await pipeline("acme", true)("What is 3+3?").catch(() => undefined);
await pipeline("globex", false)("What is 4+4?");
await client.awaitPendingTraceBatches();

const roots = await until("the three traces", async () => {
  const runs = [];
  for await (const run of client.listRuns({ projectName, isRoot: true })) runs.push(run);
  if (runs.length !== 3) throw new Error(`${runs.length} traces so far`);
  return runs;
});
const scored = roots.find((r) => r.extra?.metadata?.customer === "acme" && !r.error);
const project = await client.readProject({ projectName });
await client.createFeedback(scored.id, "correctness", { score: 1, comment: "right" });
await until("the feedback on the trace", async () => {
  for await (const run of client.listRuns({ projectName, filter: 'eq(feedback_key, "correctness")' })) return run;
  return null;
});
const datasetName = `ui-qa-${SUFFIX}`;
const dataset = await client.createDataset(datasetName, { description: "questions from the UI test" });
await client.createExamples({
  datasetId: dataset.id,
  inputs: [{ question: "2+2" }, { question: "3+3" }, { question: "4+4" }],
  outputs: [{ answer: "4" }, { answer: "6" }, { answer: "8" }],
});

// ---- The browser.
const { page, check, expecting, close } = await openBrowser(out, SHOTS);

const local = (printed) => {
  const url = new URL(printed);
  return `${UI}${url.pathname}${url.search}`;
};

try {
  // Sign in: the app sends a visitor without a session to the form, then back where they were.
  await expecting([401], async () => {
    await page.goto(`${UI}/`);
    await page.waitForURL(/\/login/);
  });
  await check("login");
  await page.getByLabel("Email").fill(env("ADMIN_EMAIL"));
  await page.getByLabel("Password").fill("not-the-password");
  await expecting([401], async () => {
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
  });
  out.bad_password = await text(page.getByRole("alert"));
  await page.getByLabel("Password").fill(env("ADMIN_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/o\/[^/]+\/projects/);
  const workspace = new URL(page.url()).pathname.split("/")[2];
  out.workspace = workspace;

  // Projects.
  await page.getByRole("link", { name: projectName }).waitFor();
  await check("projects");
  out.project_row = await text(page.getByRole("row").filter({ has: page.getByRole("link", { name: projectName }) }));
  await page.getByRole("link", { name: projectName }).click();
  await page.waitForURL(/\/projects\/p\//);
  await until("the traces in the table", async () => (await page.locator(".runs-row").count()) === 3);
  await check("project-runs");

  // Live tail: a trace sent now appears on top of the table without a reload.
  await page.getByRole("button", { name: "Live" }).click();
  await page.getByText("streaming new runs").waitFor();
  await pipeline("initech", false)("What is 5+5?");
  await client.awaitPendingTraceBatches();
  const sent = Date.now();
  await until("the streamed trace", async () => (await page.locator(".runs-row").count()) === 4, 30_000);
  out.live_ms_after_sent = Date.now() - sent;
  out.live_first_row = (await text(page.locator(".runs-row").first())).replace(/\s+/g, " ");
  await check("project-live");
  await page.getByRole("button", { name: "Live" }).click();

  // Filters: by metadata, by feedback, and a refused one whose reason shows inline.
  const filter = page.getByLabel("Filter", { exact: true });
  await filter.fill('and(eq(metadata_key, "customer"), eq(metadata_value, "acme"))');
  await filter.press("Enter");
  await until("the metadata filter", async () => (await page.locator(".runs-row").count()) === 2);
  out.metadata_filter_rows = await page.locator(".runs-row").count();
  await filter.fill('eq(feedback_key, "correctness")');
  await filter.press("Enter");
  await until("the feedback filter", async () => (await page.locator(".runs-row").count()) === 1);
  out.feedback_filter_rows = await page.locator(".runs-row").count();
  await expecting([400], async () => {
    await filter.fill('eq(metadata_key, "customer"');
    await filter.press("Enter");
    await page.getByRole("alert").waitFor();
  });
  out.bad_filter = await text(page.getByRole("alert"));
  await check("project-bad-filter", { shot: false });
  await filter.fill('eq(feedback_key, "correctness")');
  await filter.press("Enter");
  await until("the feedback filter again", async () => (await page.locator(".runs-row").count()) === 1);

  // The other tabs of the project.
  await page.getByRole("tab", { name: "Threads" }).click();
  await check("project-threads");
  await page.getByRole("tab", { name: "Monitor" }).click();
  await page.getByRole("img", { name: "Runs over time" }).waitFor();
  await page.getByRole("img", { name: "Feedback score (average) over time" }).waitFor();
  out.charts = await page.locator("figure.chart").count();
  await page.getByLabel("Group by").selectOption("name");
  await page.locator(".u-legend").first().waitFor();
  await check("project-monitor");
  await page.getByRole("tab", { name: "Setup" }).click();
  await check("project-setup");
  await page.getByRole("tab", { name: "Runs" }).click();
  await until("the runs again", async () => (await page.locator(".runs-row").count()) === 1);

  // The trace: tree, waterfall, the LLM run as chat.
  await page.locator(".runs-row a").first().click();
  await page.waitForURL(/\/r\//);
  // The JSON viewer's nodes are tree items too: count the trace tree's own.
  const tree = page.getByRole("tree", { name: "Runs of the trace" });
  await tree.getByRole("treeitem").nth(1).waitFor();
  const inTrace = [];
  for await (const r of client.listRuns({ traceId: scored.trace_id })) inTrace.push(r.name);
  out.trace_runs_api = inTrace.sort();
  await until("the whole tree", async () => (await tree.getByRole("treeitem").count()) === inTrace.length);
  out.tree_items = await tree.getByRole("treeitem").count();
  await check("trace");
  await tree.getByRole("treeitem").filter({ hasText: "chat-model" }).click();
  await page.getByText("Answer briefly.").first().waitFor();
  out.chat_roles = await page.locator(".run-detail .message .role").allTextContents();
  await check("trace-llm-run");
  await page.setViewportSize({ width: 1920, height: 1080 });
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "trace-1920.png") });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Feedback on the root run.
  await tree.getByRole("treeitem").filter({ hasText: "pipeline" }).click();
  await page.getByRole("tab", { name: "Feedback" }).click();
  await page.getByRole("cell", { name: "correctness" }).waitFor();
  const feedbackForm = page.getByRole("form", { name: "Add feedback" });
  await feedbackForm.getByLabel("Key").fill("helpfulness");
  await feedbackForm.getByLabel("Score").fill("0.5");
  await feedbackForm.getByLabel("Comment").fill("added in the browser");
  await feedbackForm.getByRole("button", { name: "Add feedback" }).click();
  await page.getByRole("cell", { name: "helpfulness" }).waitFor();
  await check("trace-feedback");
  out.ui_feedback = await until("the UI's feedback through the SDK", async () => {
    for await (const fb of client.listFeedback({ runIds: [scored.id], feedbackKeys: ["helpfulness"] })) return { score: fb.score, comment: fb.comment };
    return null;
  });

  // Add the run to the dataset.
  await page.getByRole("tab", { name: "Run" }).click();
  await page.getByRole("button", { name: "Add to dataset" }).click();
  const addForm = page.getByRole("form", { name: "Add to dataset" });
  await addForm.getByLabel("Dataset").selectOption({ label: datasetName });
  await addForm.getByRole("button", { name: "Add example" }).click();
  await addForm.getByText("Added to the dataset.").waitFor();
  const examples = [];
  for await (const e of client.listExamples({ datasetId: dataset.id })) examples.push(e);
  out.examples_after_add = examples.length;
  out.added_example = examples.find((e) => e.source_run_id === scored.id)?.inputs ?? null;

  // Share, and the public page without signing in (a fresh context has no session).
  await page.getByRole("button", { name: "Share" }).click();
  await page.getByRole("button", { name: "Create a public link" }).click();
  const shareLink = await page.getByRole("link", { name: /\/public\/.+\/r$/ }).getAttribute("href");
  out.share_link = new URL(shareLink).pathname;

  // Two experiments from the SDK; the links evaluate() prints.
  const printed = [];
  const log = console.log;
  console.log = (...args) => printed.push(args.join(" "));
  const exact = ({ outputs, referenceOutputs }) => ({ key: "exact", score: outputs.answer === referenceOutputs.answer ? 1 : 0 });
  let first, second;
  try {
    first = await evaluate(async (inputs) => ({ answer: String(eval(inputs.question)) }), {
      data: datasetName, evaluators: [exact], experimentPrefix: "right", client, maxConcurrency: 2,
    });
    second = await evaluate(async (inputs) => ({ answer: inputs.question === "3+3" ? "33" : String(eval(inputs.question)) }), {
      data: datasetName, evaluators: [exact], experimentPrefix: "worse", client, maxConcurrency: 2,
    });
  } finally {
    console.log = log;
  }
  await client.awaitPendingTraceBatches();
  const compareUrls = printed.flatMap((line) => line.match(/https?:\/\/\S+compare\?selectedSessions=\S+/g) ?? []);
  out.links.compare = compareUrls.map((u) => new URL(u).pathname + new URL(u).search);
  for (const name of [first.experimentName, second.experimentName]) {
    await until(`the statistics of ${name}`, async () => {
      const p = await client.readProject({ projectName: name, includeStats: true });
      return p.feedback_stats?.exact?.n === 4 ? p : null;
    });
  }

  // A pairwise comparison of the two, preferring the right answer.
  await evaluateComparative([first.experimentName, second.experimentName], {
    evaluators: [({ runs }) => ({ key: "preference", scores: Object.fromEntries(runs.map((r) => [r.id, r.outputs?.answer === "33" ? 0 : 1])) })],
    client,
  });

  // The printed link opens the experiment; the dataset page compares both.
  await page.goto(local(compareUrls[1]));
  await page.getByRole("heading", { name: "Experiment results" }).waitFor();
  await check("experiment");
  await page.getByRole("link", { name: datasetName }).click();
  await page.getByRole("tab", { name: "Experiments" }).click();
  await page.getByLabel(`Select ${first.experimentName}`).check();
  await page.getByLabel(`Select ${second.experimentName}`).check();
  await page.getByRole("button", { name: /^Compare/ }).click();
  await page.getByRole("heading", { name: "Comparing 2 experiments" }).waitFor();
  await page.locator(".chip.regressed").first().waitFor();
  // The pairwise preferences show beside the outputs once stored (reload until they are).
  await until("the pairwise preferences", async () => {
    if ((await page.locator('[aria-label="Pairwise"] .chip').count()) === 8) return true;
    await page.reload();
    await page.getByRole("heading", { name: "Comparing 2 experiments" }).waitFor();
    await page.locator(".chip.regressed").first().waitFor();
    return (await page.locator('[aria-label="Pairwise"] .chip').count()) === 8;
  });
  out.pairwise_preferred = await page.locator('[aria-label="Pairwise"] .chip', { hasText: "preferred" }).count();
  out.regressions = await page.locator(".chip.regressed").count();
  out.improvements = await page.locator(".chip.improved").count();
  await page.getByLabel("Show examples").selectOption("regressed");
  out.regressed_rows = await page.locator("table.compare tbody tr").count();
  await page.getByLabel("Show examples").selectOption("all");
  await check("compare");
  await page.setViewportSize({ width: 1920, height: 1080 });
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "compare-1920.png") });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole("link", { name: datasetName }).click();
  await page.getByRole("tab", { name: "Examples" }).click();
  await check("dataset-examples");
  await page.getByRole("tab", { name: "Versions" }).click();
  await check("dataset-versions");
  await page.getByRole("link", { name: "Datasets & experiments" }).first().click();
  await page.getByRole("link", { name: datasetName }).waitFor();
  await check("datasets");

  // A dataset from a CSV file: columns assigned to inputs and reference outputs.
  const csv = join(tmpdir(), `capitals-${SUFFIX}.csv`);
  writeFileSync(csv, 'country,"capital, city",notes\nFrance,Paris,x\nJapan,Tokyo,y\n');
  await page.getByRole("button", { name: "Upload CSV or JSONL" }).click();
  const uploadForm = page.getByRole("form", { name: "Upload a dataset" });
  await uploadForm.getByLabel(/^File/).setInputFiles(csv);
  await uploadForm.getByLabel("capital, city: output").check();
  await uploadForm.getByLabel("notes: leave out").check();
  await check("datasets-upload");
  await uploadForm.getByRole("button", { name: "Upload" }).click();
  await page.getByRole("heading", { name: `capitals-${SUFFIX}` }).waitFor();
  const uploaded = [];
  for await (const e of client.listExamples({ datasetName: `capitals-${SUFFIX}` })) uploaded.push([e.inputs, e.outputs]);
  out.uploaded = uploaded.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  await page.getByRole("tab", { name: "Schema" }).click();
  await check("dataset-schema");

  // Edit one uploaded example and delete the other, in the examples table.
  await page.getByRole("tab", { name: "Examples" }).click();
  const examplesTable = page.getByRole("table", { name: "Examples" });
  const franceRow = examplesTable.getByRole("row").filter({ hasText: "France" });
  await franceRow.getByRole("button", { name: "Edit" }).click();
  const editForm = page.getByRole("form", { name: "Edit example" });
  await editForm.getByLabel("Inputs (JSON)").fill('{"country": "France", "continent": "Europe"}');
  await editForm.getByRole("button", { name: "Save" }).click();
  await examplesTable.getByRole("row").filter({ hasText: "Europe" }).waitFor();
  // The edited row grew: the rows below it move down rather than overlap it.
  await until("the rows laid out without overlap", async () => {
    const boxes = await examplesTable.locator(".examples-row").evaluateAll((rows) =>
      rows.map((r) => [r.getBoundingClientRect().top, r.getBoundingClientRect().bottom]).sort((a, b) => a[0] - b[0]),
    );
    return boxes.every((box, i) => i === 0 || box[0] >= boxes[i - 1][1] - 1);
  }, 5_000);
  await check("dataset-example-edited");
  await examplesTable.getByRole("row").filter({ hasText: "Japan" }).getByRole("button", { name: "Delete" }).click();
  await until("the deleted example gone", async () => (await examplesTable.getByRole("row").filter({ hasText: "Japan" }).count()) === 0);
  const afterEdits = [];
  for await (const e of client.listExamples({ datasetName: `capitals-${SUFFIX}` })) afterEdits.push(e.inputs);
  out.examples_after_edits = afterEdits;

  // An example added with two files: previewed in the table (the image decoded, the text on
  // request), then read back through the SDK with its attachments.
  const flag = join(tmpdir(), `flag-${SUFFIX}.png`);
  writeFileSync(flag, Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64"));
  const notes = join(tmpdir(), `notes-${SUFFIX}.txt`);
  writeFileSync(notes, "Rome has been the capital since 1871.");
  await page.getByRole("button", { name: "Add example" }).click();
  const withFiles = page.getByRole("form", { name: "Add example" });
  await withFiles.getByLabel("Inputs (JSON)").fill('{"country": "Italy"}');
  await withFiles.getByLabel("Reference outputs (JSON)").fill('{"capital, city": "Rome"}');
  await withFiles.getByLabel("Attachments").setInputFiles([flag, notes]);
  await withFiles.getByRole("button", { name: "Add" }).click();
  const italyRow = examplesTable.getByRole("row").filter({ hasText: "Italy" });
  await italyRow.waitFor();
  const image = italyRow.getByRole("img", { name: `flag-${SUFFIX}.png` });
  await until("the image attachment decoded", async () => (await image.evaluate((img) => img.complete && img.naturalWidth)) === 1, 5_000);
  await italyRow.getByRole("button", { name: `Preview notes-${SUFFIX}.txt` }).click();
  out.attachment_preview = await text(italyRow.getByLabel(`Preview of notes-${SUFFIX}.txt`));
  await check("dataset-example-attachments");
  for await (const e of client.listExamples({ datasetName: `capitals-${SUFFIX}`, includeAttachments: true })) {
    if (e.inputs.country !== "Italy") continue;
    const stored = {};
    for (const [name, a] of Object.entries(e.attachments ?? {})) {
      const body = await (await fetch(a.presigned_url)).arrayBuffer();
      stored[name.replace(SUFFIX, "SUFFIX")] = body.byteLength;
    }
    out.example_attachments = stored;
  }

  // A project made in the UI, then traced into from the SDK.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tracing projects" }).click();
  await page.getByRole("button", { name: "New project" }).click();
  const projectForm = page.getByRole("form", { name: "New project" });
  await projectForm.getByLabel("Name").fill(`from-browser-${SUFFIX}`);
  await projectForm.getByLabel("Description").fill("created from the browser");
  await check("projects-new");
  await projectForm.getByRole("button", { name: "Create" }).click();
  await page.getByRole("link", { name: `from-browser-${SUFFIX}` }).waitFor();
  const made = await client.readProject({ projectName: `from-browser-${SUFFIX}` });
  out.ui_project = { name: made.name, description: made.description };

  // An annotation queue: create it, add the trace's run, review it with the keyboard.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Annotation queues" }).click();
  await page.getByRole("button", { name: "New queue" }).click();
  const queueForm = page.getByRole("form", { name: "New annotation queue" });
  await queueForm.getByLabel("Name").fill(`review-${SUFFIX}`);
  await queueForm.getByLabel(/Rubric/).fill("correctness: Is the answer right?");
  await queueForm.getByRole("button", { name: "Create" }).click();
  await page.getByRole("link", { name: `review-${SUFFIX}` }).waitFor();
  await check("queues");
  await page.goto(`${UI}/o/${workspace}/projects/p/${project.id}/r/${scored.id}?trace_id=${scored.trace_id}`);
  await page.getByRole("button", { name: "Add to annotation queue" }).click();
  const queueAdd = page.getByRole("form", { name: "Add to annotation queue" });
  await queueAdd.getByLabel("Queue").selectOption({ label: `review-${SUFFIX}` });
  await queueAdd.getByRole("button", { name: "Add run" }).click();
  await queueAdd.getByText("Added to the queue.").waitFor();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Annotation queues" }).click();
  await page.getByRole("link", { name: `review-${SUFFIX}` }).click();
  await page.getByRole("form", { name: "Review" }).waitFor();
  await check("queue-review");
  out.review_run = await text(page.locator(".review-run h2"));
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("0");
  await page.getByRole("form", { name: "Review" }).getByLabel("Comment").fill("wrong in review");
  // With nothing left the API answers the next index with 404, which the page shows as done.
  await expecting([404], async () => {
    await page.keyboard.press("Control+Enter");
    await page.getByText("Nothing left to review in this queue.").waitFor();
  });
  await check("queue-done", { shot: false });
  out.review_feedback = await until("the review's feedback", async () => {
    for await (const fb of client.listFeedback({ runIds: [scored.id], feedbackKeys: ["correctness"] })) {
      if (fb.comment === "wrong in review") return { score: fb.score, source: fb.feedback_source?.type ?? null };
    }
    return null;
  });

  // Prompts: one pushed by the SDK, opened from the link it returns.
  const promptUrl = await client.pushPrompt(`ui-prompt-${SUFFIX}`, {
    object: {
      lc: 1, type: "constructor", id: ["langchain", "prompts", "chat", "ChatPromptTemplate"],
      kwargs: {
        input_variables: ["question"],
        messages: [
          { lc: 1, type: "constructor", id: ["langchain", "prompts", "chat", "SystemMessagePromptTemplate"], kwargs: { prompt: { lc: 1, type: "constructor", id: ["langchain", "prompts", "prompt", "PromptTemplate"], kwargs: { input_variables: [], template: "You are terse.", template_format: "f-string" } } } },
          { lc: 1, type: "constructor", id: ["langchain", "prompts", "chat", "HumanMessagePromptTemplate"], kwargs: { prompt: { lc: 1, type: "constructor", id: ["langchain", "prompts", "prompt", "PromptTemplate"], kwargs: { input_variables: ["question"], template: "{question}", template_format: "f-string" } } } },
        ],
      },
    },
  });
  out.links.prompt = new URL(promptUrl).pathname + new URL(promptUrl).search;
  await page.goto(local(promptUrl));
  await page.getByText("You are terse.").waitFor();
  await check("prompt");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Prompts" }).click();
  await page.getByRole("link", { name: `ui-prompt-${SUFFIX}` }).waitFor();
  await check("prompts");

  // Settings: an API key shown once, used by the SDK, revoked, refused.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await page.getByRole("form", { name: "New API key" }).getByLabel("Description").fill(`sdk-${SUFFIX}`);
  await page.getByRole("button", { name: "Create API key" }).click();
  const key = await text(page.getByTestId("new-api-key"));
  await check("settings-api-keys");
  const keyed = new Client({ apiUrl: env("LANGSMITH_ENDPOINT"), apiKey: key, autoBatchTracing: false });
  const seen = await keyed.readProject({ projectName });
  out.key_works = seen.id === project.id;
  await page.getByRole("button", { name: `Revoke sdk-${SUFFIX}` }).click();
  await page.getByRole("button", { name: `Revoke sdk-${SUFFIX}` }).waitFor({ state: "detached" });
  out.key_refused = await keyed.readProject({ projectName }).then(() => "accepted", (e) => String(e.message ?? e).slice(0, 200));
  // Members: another member's role changed, then the member removed.
  await page.getByRole("tab", { name: "Members" }).click();
  const memberRole = async () => {
    const members = await fetch(`${env("LANGSMITH_ENDPOINT")}/orgs/current/members`, { headers: { "x-api-key": env("LANGSMITH_API_KEY") } }).then((r) => r.json());
    return members.find((m) => m.email === "member@example.com")?.role_name ?? "gone";
  };
  out.member_roles = [];
  await page.getByLabel("Role of member@example.com", { exact: true }).selectOption({ label: "Organization Admin" });
  out.member_roles.push(await until("the role change", async () => {
    const role = await memberRole();
    return role === "ORGANIZATION_ADMIN" ? role : null;
  }, 10_000));
  const workspaceRole = async () => {
    const members = await fetch(`${env("LANGSMITH_ENDPOINT")}/workspaces/current/members`, { headers: { "x-api-key": env("LANGSMITH_API_KEY") } }).then((r) => r.json());
    return members.find((m) => m.email === "member@example.com")?.role_name ?? "gone";
  };
  await page.getByLabel("Workspace role of member@example.com").selectOption({ label: "Editor" });
  out.member_workspace_role = await until("the workspace role change", async () => {
    const role = await workspaceRole();
    return role.toLowerCase().includes("editor") ? role : null;
  }, 10_000);
  // An invitation sent, then revoked.
  await page.getByRole("form", { name: "Invite a member" }).getByLabel("Email").fill("invitee@example.com");
  await page.getByRole("button", { name: "Invite" }).click();
  await page.getByRole("button", { name: "Revoke the invitation of invitee@example.com" }).click();
  await page.getByRole("button", { name: "Revoke the invitation of invitee@example.com" }).waitFor({ state: "detached" });
  out.pending_after_revoke = (await fetch(`${env("LANGSMITH_ENDPOINT")}/orgs/current/members/pending`, { headers: { "x-api-key": env("LANGSMITH_API_KEY") } }).then((r) => r.json())).length;
  await page.getByRole("button", { name: "Remove member@example.com" }).click();
  await page.getByRole("button", { name: "Remove member@example.com" }).waitFor({ state: "detached" });
  out.member_roles.push(await memberRole());
  for (const tab of ["Members", "Workspaces", "Feedback configurations", "Model prices", "Usage & limits", "Audit log"]) {
    await page.getByRole("tab", { name: tab }).click();
    // The creation forms, each submitted once and read back through the API.
    if (tab === "Workspaces") {
      const form = page.getByRole("form", { name: "New workspace" });
      await form.getByLabel("Name").fill(`Team ${SUFFIX}`);
      await form.getByRole("button").click();
      await page.getByRole("region", { name: "Workspaces" }).getByText(`Team ${SUFFIX}`).first().waitFor();
    }
    if (tab === "Feedback configurations") {
      const form = page.getByRole("form", { name: "New feedback configuration" });
      await form.getByLabel("Key").fill(`helpfulness-${SUFFIX}`);
      await form.getByRole("button", { name: "Save" }).click();
      await page.getByRole("region", { name: "Feedback configurations" }).getByText(`helpfulness-${SUFFIX}`).first().waitFor();
    }
    if (tab === "Model prices") {
      const form = page.getByRole("form", { name: "New model price" });
      await form.getByLabel("Name").fill(`price-${SUFFIX}`);
      await form.getByLabel("Model pattern").fill(`^ui-model-${SUFFIX}$`);
      await form.getByLabel("Prompt $/1M").fill("1.5");
      await form.getByLabel("Completion $/1M").fill("3");
      await form.getByRole("button", { name: "Add" }).click();
      await page.getByRole("region", { name: "Model prices" }).getByText(`price-${SUFFIX}`).first().waitFor();
    }
    await check(`settings-${tab.toLowerCase().replace(/[^a-z]+/g, "-")}`);
  }
  const read = (path) => fetch(`${env("LANGSMITH_ENDPOINT")}${path}`, { headers: { "x-api-key": env("LANGSMITH_API_KEY") } }).then((r) => r.json());
  out.created_in_settings = {
    workspace: (await read("/workspaces")).some((w) => w.display_name === `Team ${SUFFIX}`),
    feedback_config: (await read("/feedback-configs")).some((c) => c.feedback_key === `helpfulness-${SUFFIX}`),
    model_price: (await read("/model-price-map")).find((p) => p.name === `price-${SUFFIX}`)?.prompt_cost_per_million ?? null,
  };

  // Every other link the SDK prints.
  const runUrl = await client.getRunUrl({ runId: scored.id, projectOpts: { projectName } });
  out.links.run = new URL(runUrl).pathname + new URL(runUrl).search;
  await page.goto(local(runUrl));
  await page.getByRole("article", { name: "Run pipeline" }).waitFor();
  await check("link-run", { shot: false });
  const projectUrl = await client.getProjectUrl({ projectName });
  out.links.project = new URL(projectUrl).pathname;
  await page.goto(local(projectUrl));
  await page.getByRole("heading", { name: projectName }).waitFor();
  await check("link-project", { shot: false });
  const datasetUrl = await client.getDatasetUrl({ datasetId: dataset.id });
  out.links.dataset = new URL(datasetUrl).pathname;
  await page.goto(local(datasetUrl));
  await page.getByRole("heading", { name: datasetName }).waitFor();
  await check("dataset");
  const sharedDataset = await client.shareDataset(dataset.id);
  await page.goto(`${UI}/o/${workspace}/host/deployments/00000000-0000-0000-0000-000000000001`);
  await page.getByRole("heading", { name: "Deployment" }).waitFor();
  await check("deployment");
  await expecting([404], async () => {
    await page.goto(`${UI}/o/${workspace}/no-such-page`);
    await page.getByRole("heading", { name: /no page here/i }).waitFor();
  });
  await check("not-found", { shot: false });

  // Another organisation the admin was invited into: the switcher opens its workspace.
  await page.goto(`${UI}/o/${workspace}/projects`);
  await page.getByLabel("Organisation").selectOption({ label: "Second Org" });
  await page.waitForURL((url) => url.pathname.endsWith("/projects") && !url.pathname.includes(workspace));
  await page.getByRole("heading", { name: "Tracing projects" }).waitFor();
  // The page shows while the user's workspaces load; the switcher is enabled once they have.
  await until("the workspace switcher loaded", async () => await page.getByLabel("Workspace").isEnabled(), 10_000);
  out.second_org_workspace = (await page.getByLabel("Workspace").locator("option:checked").textContent())?.trim();
  await check("org-switched");
  await page.goto(`${UI}/o/${workspace}/projects`);
  await page.getByRole("link", { name: projectName }).waitFor();

  // Sign out; then the public pages without a session.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login/);
  out.after_sign_out = new URL(page.url()).pathname;
  await page.goto(`${UI}${out.share_link}`);
  await page.getByRole("article", { name: "Run pipeline" }).waitFor();
  await check("public-run");
  await page.goto(`${UI}/public/${sharedDataset.share_token}/d`);
  await page.getByText("2+2").first().waitFor();
  await check("public-dataset");
  await expecting([401], async () => {
    await page.goto(`${UI}/o/${workspace}/projects`);
    await page.waitForURL(/\/login\?next=/);
  });
  out.signed_out_redirect = new URL(page.url()).search;
} catch (error) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "failure.png") }).catch(() => undefined);
  out.failed_at = page.url();
  throw error;
} finally {
  await close();
  console.log(JSON.stringify(out));
}
