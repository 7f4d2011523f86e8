// The playground in Debian's Chromium against a real stack whose LLM provider is a local
// stand-in: open a hub prompt in the playground, store a provider key and a model
// configuration, fill the prompt's variable, watch the answer stream, open the traced run,
// compare two configurations side by side, save the prompt as a new commit, run it over a
// dataset and open the experiment in the comparison view; then open an LLM run of a trace in
// the playground. Configured by the environment (UI, LANGSMITH_ENDPOINT, LANGSMITH_API_KEY,
// ADMIN_EMAIL, ADMIN_PASSWORD, VIEWER_EMAIL, VIEWER_PASSWORD, SUFFIX, SCREENSHOTS, PROVIDER_URL);
// prints what it saw as JSON. Last, a workspace viewer sees none of the write actions.
import { Client } from "langsmith";
import { openBrowser, signIn, text, until } from "./browser.mjs";

process.removeAllListeners("warning");
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const UI = env("UI");
const API = env("LANGSMITH_ENDPOINT");
const KEY = env("LANGSMITH_API_KEY");
const SUFFIX = env("SUFFIX");
const out = { pages: {}, axe: {} };
const client = new Client();

async function api(method, path, body) {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: { "x-api-key": KEY, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// ---- A hub prompt with a variable, and a dataset to run it over.
const promptName = `capitals-${SUFFIX}`;
const lc = (id, kwargs) => ({ lc: 1, type: "constructor", id, kwargs });
const template = (cls, text) => lc(["langchain", "prompts", "chat", cls], { prompt: lc(["langchain", "prompts", "prompt", "PromptTemplate"], { input_variables: [], template: text, template_format: "f-string" }) });
await api("POST", "/repos/", { repo_handle: promptName, is_public: false });
await api("POST", `/commits/-/${promptName}`, {
  parent_commit: null,
  manifest: lc(["langchain", "prompts", "chat", "ChatPromptTemplate"], {
    input_variables: ["country"],
    messages: [template("SystemMessagePromptTemplate", "Answer with the city only."), template("HumanMessagePromptTemplate", "Capital of {country}?")],
  }),
});
const datasetName = `countries-${SUFFIX}`;
const dataset = await client.createDataset(datasetName);
await client.createExamples({ datasetId: dataset.id, inputs: [{ country: "France" }, { country: "Italy" }], outputs: [{ answer: "Paris" }, { answer: "Rome" }] });

const { page, check, close } = await openBrowser(out, process.env.SCREENSHOTS ?? "");
try {
  const workspace = await signIn(page, UI, env("ADMIN_EMAIL"), env("ADMIN_PASSWORD"));

  // Pick the hub prompt and open it in the playground.
  await page.goto(`${UI}/o/${workspace}/prompts/${promptName}`);
  await page.getByRole("link", { name: "Open in playground" }).click();
  await page.waitForURL(/\/playground\?prompt=/);
  await page.getByLabel("Message 2", { exact: true }).waitFor();
  out.loaded_messages = [await page.getByLabel("Message 1", { exact: true }).inputValue(), await page.getByLabel("Message 2", { exact: true }).inputValue()];

  // A provider key and a model configuration pointing at the stand-in.
  await page.getByText("Provider keys").click();
  const keyForm = page.getByRole("form", { name: "Set a provider key" });
  await keyForm.getByLabel("Name").fill("OPENAI_API_KEY");
  await keyForm.getByLabel("Value").fill("sk-from-the-browser-0000WXYZ");
  await keyForm.getByRole("button", { name: "Save key" }).click();
  await page.getByText("…WXYZ").waitFor();
  await page.getByText("New model configuration").first().click();
  const configForm = page.getByRole("form", { name: "New model configuration" });
  await configForm.getByLabel("Name").fill("stand-in gpt");
  await configForm.getByLabel("Model").fill("gpt-4o-mini");
  await configForm.getByLabel("Base URL").fill(`${env("PROVIDER_URL")}/v1`);
  await configForm.getByRole("button", { name: "Save configuration" }).click();
  await until("the configuration selected", async () => (await page.getByLabel("Model configuration 1", { exact: true }).inputValue()) !== "");
  await check("playground");

  // Fill the variable, run, watch the answer stream in; open the traced run.
  await page.getByLabel("Input country", { exact: true }).fill("France");
  await page.getByLabel("Temperature 1", { exact: true }).fill("0.3");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.getByLabel("Answer 1", { exact: true }).getByText("Paris").waitFor();
  await page.getByRole("link", { name: "open trace" }).waitFor({ timeout: 30_000 });
  out.answer = await text(page.getByLabel("Answer 1", { exact: true }));
  out.stats = (await text(page.getByRole("region", { name: "Models" }).locator(".stats").first())).replace(/\s+/g, " ");
  await check("playground-answer");
  await page.getByRole("link", { name: "open trace" }).click();
  await page.waitForURL(/\/projects\/p\/.+\/r\//);
  const article = page.getByRole("article", { name: "Run ChatOpenAI" });
  await article.waitFor();
  out.trace_title = (await text(article)).replace(/\s+/g, " ").slice(0, 300);
  await check("playground-trace");
  await page.goBack();

  // Two configurations side by side.
  await page.getByLabel("Input country", { exact: true }).fill("France");
  await page.getByRole("button", { name: "Compare with another configuration" }).click();
  await page.getByRole("button", { name: "Run both" }).click();
  await page.getByLabel("Answer 1", { exact: true }).getByText("Paris").waitFor();
  await page.getByLabel("Answer 2", { exact: true }).getByText("Paris").waitFor();
  await check("playground-compare");

  // Save the prompt as a new commit.
  const save = page.getByRole("form", { name: "Save as commit" });
  await page.getByLabel("Message 1", { exact: true }).fill("Answer with the capital city only.");
  await save.getByLabel("Description").fill("from the playground");
  await save.getByRole("button", { name: "Save as commit" }).click();
  await save.getByRole("status").waitFor();
  out.saved = await text(save.getByRole("status"));

  // Over the dataset; then the experiment in the comparison view.
  await page.getByText("Run over a dataset").click();
  await page.getByLabel("Dataset", { exact: true }).selectOption({ label: datasetName });
  await page.getByLabel("String similarity").check();
  await page.getByRole("button", { name: "Run experiment" }).click();
  await page.getByRole("link", { name: "open the experiment" }).waitFor({ timeout: 60_000 });
  out.experiment_progress = await text(page.getByRole("status").filter({ hasText: "examples" }));
  await page.getByRole("link", { name: "open the experiment" }).click();
  await page.waitForURL(/\/compare\?selectedSessions=/);
  await until("the experiment's rows", async () => (await page.getByText("France").count()) > 0 && (await page.getByText("no run").count()) === 0, 10_000);
  out.experiment_scores = (await text(page.locator("table").first())).replace(/\s+/g, " ");
  out.experiment_answers = await page.locator(".message-text").allInnerTexts();
  await check("playground-experiment");

  // An LLM run of a trace opens in the playground with its messages.
  const runs = [];
  for await (const run of client.listRuns({ projectName: "playground", runType: "llm", limit: 1 })) runs.push(run);
  const llmRun = runs[0];
  await page.goto(`${UI}/o/${workspace}/projects/p/${llmRun.session_id}/r/${llmRun.id}`);
  await page.getByRole("link", { name: "Open in playground" }).click();
  await page.waitForURL(/\/playground\?run=/);
  await page.getByLabel("Message 2", { exact: true }).waitFor();
  out.from_run = [await page.getByLabel("Message 1", { exact: true }).inputValue(), await page.getByLabel("Message 2", { exact: true }).inputValue()];
  await check("playground-from-run");
  const commits = await api("GET", `/commits/-/${promptName}/?limit=5`);
  const promptOf = (m) => (m.id.at(-1) === "RunnableSequence" ? m.kwargs.first : m);
  out.commits = commits.commits.map((c) => promptOf(c.manifest).kwargs.messages[0].kwargs.prompt.kwargs.template);
  const pulled = await api("GET", `/commits/-/${promptName}/latest?include_model=true`);
  out.saved_model = { provider: pulled.model_provider, model: pulled.model_config?.model };

  // A workspace viewer sees the playground and traces without the actions it may not take.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login/);
  await signIn(page, UI, env("VIEWER_EMAIL"), env("VIEWER_PASSWORD"));
  await page.goto(`${UI}/o/${workspace}/playground`);
  await page.getByText("Provider keys").click();
  await page.getByText("…WXYZ").waitFor();
  out.viewer = {
    key_form: await page.getByRole("form", { name: "Set a provider key" }).count(),
    config_form: await page.getByText("New model configuration").count(),
    save_commit: await page.getByRole("form", { name: "Save as commit" }).count(),
    run_enabled: await page.getByRole("button", { name: "Run", exact: true }).isEnabled(),
  };
  await check("playground-viewer");
  await page.goto(`${UI}/o/${workspace}/projects/p/${llmRun.session_id}/r/${llmRun.id}`);
  await page.getByRole("article", { name: "Run ChatOpenAI" }).waitFor();
  out.viewer.run_actions = await page.getByRole("button", { name: /Add to dataset|Share|Add to annotation queue/ }).count();
  out.viewer.open_in_playground = await page.getByRole("link", { name: "Open in playground" }).count();
  await page.goto(`${UI}/o/${workspace}/projects`);
  await page.getByRole("heading", { name: "Tracing projects" }).waitFor();
  await page.getByRole("link", { name: "playground" }).first().waitFor();
  out.viewer.new_project = await page.getByRole("button", { name: "New project" }).count();
  out.viewer.delete_project = await page.getByRole("button", { name: /Delete project/ }).count();
} catch (error) {
  out.failed_at = page.url();
  await page.screenshot({ path: "/tmp/playground-failure.png" }).catch(() => undefined);
  throw error;
} finally {
  await close();
  console.log(JSON.stringify(out));
}
