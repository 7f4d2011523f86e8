import { useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, call, currentWorkspace, detailOf, type Schemas } from "../api/client";
import { usePermissions } from "../api/hooks";
import { chatMessages } from "../components/Chat";
import { Empty, ErrorBox, useTitle } from "../components/common";

type Role = "system" | "user" | "assistant";
type Draft = { role: Role; content: string };
type ModelConfig = Schemas["ModelConfig"];
type Provider = Schemas["Provider"];
type Finished = Schemas["Finished"];

const PROVIDERS: [Provider, string][] = [
  ["openai", "OpenAI"],
  ["anthropic", "Anthropic"],
  ["azure_openai", "Azure OpenAI"],
  ["google_genai", "Google Gemini"],
  ["bedrock", "Amazon Bedrock"],
  ["openai_compatible", "OpenAI-compatible (vLLM, Ollama, LiteLLM)"],
];

/** The `{name}` variables of f-string templates (`{{` escapes). */
function variablesOf(messages: Draft[]): string[] {
  const found = new Set<string>();
  for (const m of messages) {
    for (const match of m.content.replaceAll("{{", "").replaceAll("}}", "").matchAll(/\{([^{}]+)\}/g)) {
      found.add((match[1] ?? "").trim());
    }
  }
  return [...found];
}

type Serialized = { id?: unknown; kwargs?: Record<string, unknown> };
const classOf = (s: Serialized) => (Array.isArray(s.id) ? String(s.id.at(-1) ?? "") : "");

/** The editable messages of a hub manifest (a chat prompt, optionally followed by a model). */
function messagesOfManifest(manifest: unknown): Draft[] {
  let prompt = (manifest ?? {}) as Serialized;
  if (classOf(prompt) === "RunnableSequence") prompt = (prompt.kwargs?.first as Serialized) ?? prompt;
  const kwargs = prompt.kwargs ?? {};
  if (typeof kwargs.template === "string") return [{ role: "user", content: kwargs.template }];
  const out: Draft[] = [];
  for (const raw of (Array.isArray(kwargs.messages) ? kwargs.messages : []) as Serialized[]) {
    const kind = classOf(raw);
    const inner = raw.kwargs ?? {};
    const template = (inner.prompt as Serialized | undefined)?.kwargs?.template;
    const content = typeof template === "string" ? template : typeof inner.content === "string" ? inner.content : "";
    const role: Role = kind.startsWith("System") ? "system" : kind.startsWith("AI") ? "assistant" : "user";
    if (kind !== "MessagesPlaceholder") out.push({ role, content });
  }
  return out;
}

const MESSAGE_CLASS: Record<Role, string> = {
  system: "SystemMessagePromptTemplate",
  user: "HumanMessagePromptTemplate",
  assistant: "AIMessagePromptTemplate",
};

/** A LangChain `ChatPromptTemplate` manifest of the messages, as the SDKs push it. */
function manifestOf(messages: Draft[]) {
  const lc = (id: string[], kwargs: Record<string, unknown>) => ({ lc: 1, type: "constructor", id, kwargs });
  return lc(["langchain", "prompts", "chat", "ChatPromptTemplate"], {
    input_variables: variablesOf(messages),
    messages: messages.map((m) =>
      lc(["langchain", "prompts", "chat", MESSAGE_CLASS[m.role]], {
        prompt: lc(["langchain", "prompts", "prompt", "PromptTemplate"], {
          input_variables: variablesOf([m]),
          template: m.content,
          template_format: "f-string",
        }),
      }),
    ),
  });
}

const MODEL_CLASS: Record<Provider, string[]> = {
  openai: ["langchain", "chat_models", "openai", "ChatOpenAI"],
  openai_compatible: ["langchain", "chat_models", "openai", "ChatOpenAI"],
  azure_openai: ["langchain", "chat_models", "azure_openai", "AzureChatOpenAI"],
  anthropic: ["langchain", "chat_models", "anthropic", "ChatAnthropic"],
  google_genai: ["langchain", "chat_models", "google_genai", "ChatGoogleGenerativeAI"],
  bedrock: ["langchain", "chat_models", "bedrock_converse", "ChatBedrockConverse"],
};

/** A prompt-and-model manifest: the prompt followed by the configuration's LangChain chat model. */
function withModel(prompt: unknown, config: ModelConfig) {
  const p = config.parameters ?? {};
  const kwargs: Record<string, unknown> = { model: config.model };
  if (p.temperature != null) kwargs.temperature = p.temperature;
  if (p.max_tokens != null) kwargs.max_tokens = p.max_tokens;
  if (p.top_p != null) kwargs.top_p = p.top_p;
  if (p.stop != null) kwargs.stop = p.stop;
  if (config.base_url && config.provider === "openai_compatible") kwargs.base_url = config.base_url;
  return {
    lc: 1,
    type: "constructor",
    id: ["langchain", "schema", "runnable", "RunnableSequence"],
    kwargs: { first: prompt, middle: [], last: { lc: 1, type: "constructor", id: MODEL_CLASS[config.provider], kwargs } },
  };
}

type Output = { text: string; toolCalls: Record<number, { name: string; arguments: string }>; finished?: Finished; error?: string; running: boolean };
const idle: Output = { text: "", toolCalls: {}, running: false };

/** Reads a server-sent event stream of JSON `data:` lines. */
async function* events(response: Response): AsyncGenerator<Record<string, unknown>> {
  const reader = response.body?.getReader();
  if (!reader) return;
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
      if (data) yield JSON.parse(data) as Record<string, unknown>;
    }
  }
}

/** POSTs a body to a streaming endpoint of the API; throws the server's error when it refuses. */
async function postStream(path: string, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const ws = currentWorkspace();
  if (ws) headers["X-Tenant-Id"] = ws;
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin" });
  if (!response.ok) {
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: shown as sent.
    }
    throw new ApiError(response.status, detailOf(parsed, response.status), parsed);
  }
  return response;
}

type Pane = { configId: string; temperature: string; maxTokens: string; output: Output };
const newPane = (configId = ""): Pane => ({ configId, temperature: "", maxTokens: "", output: idle });

/** `/o/{ws}/playground`: write or load a prompt (`?prompt=name&commit=`, or `?run=` an LLM run's messages), run it against one or two model configurations, save it to the hub, run it over a dataset. */
export function Playground() {
  useTitle("Playground");
  const { workspaceId = "" } = useParams();
  const [search] = useSearchParams();
  const promptName = search.get("prompt");
  const promptRef = search.get("commit") ?? "latest";
  const runId = search.get("run");
  const [messages, setMessages] = useState<Draft[]>([
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "{question}" },
  ]);
  const [inputs, setInputs] = useState<Record<string, string>>({});
  const [tools, setTools] = useState("");
  const [schema, setSchema] = useState("");
  const [panes, setPanes] = useState<Pane[]>([newPane()]);
  const configs = useQuery({ queryKey: ["model-configs", workspaceId], queryFn: () => call(api.GET("/api/v1/model-configs")) });
  const can = usePermissions(workspaceId);

  const prompt = useQuery({
    enabled: !!promptName,
    queryKey: ["commit", workspaceId, promptName, promptRef],
    queryFn: () => call(api.GET("/api/v1/commits/{owner}/{repo}/{ref}", { params: { path: { owner: "-", repo: promptName ?? "", ref: promptRef }, query: { include_model: true } } })),
  });
  const run = useQuery({
    enabled: !!runId,
    queryKey: ["run", runId],
    queryFn: () => call(api.GET("/api/v1/runs/{id}", { params: { path: { id: runId ?? "" } } })),
  });
  useEffect(() => {
    if (prompt.data) setMessages(messagesOfManifest(prompt.data.manifest));
  }, [prompt.data]);
  useEffect(() => {
    const found = run.data ? chatMessages(run.data.inputs) : null;
    if (found) setMessages(found.map((m) => ({ role: (["system", "assistant"].includes(m.role) ? m.role : "user") as Role, content: m.content.replaceAll("{", "{{").replaceAll("}", "}}") })));
  }, [run.data]);
  // The prompt's own model when a saved configuration matches it, else the first configuration.
  const promptModel = prompt.data?.model_provider ? { provider: prompt.data.model_provider, model: String((prompt.data.model_config as Record<string, unknown> | null)?.model ?? "") } : null;
  useEffect(() => {
    const matching = promptModel && configs.data?.find((c) => c.provider === promptModel.provider && c.model === promptModel.model);
    const first = matching?.id ?? configs.data?.[0]?.id;
    if (first) setPanes((ps) => ps.map((p, i) => (p.configId && !(i === 0 && matching) ? p : { ...p, configId: first })));
  }, [configs.data, promptModel?.provider, promptModel?.model]);

  const variables = useMemo(() => variablesOf(messages), [messages]);
  const setPane = (i: number, change: Partial<Pane>) => setPanes((ps) => ps.map((p, j) => (j === i ? { ...p, ...change } : p)));
  const setOutput = (i: number, change: (o: Output) => Output) => setPanes((ps) => ps.map((p, j) => (j === i ? { ...p, output: change(p.output) } : p)));

  function invokeBody(pane: Pane) {
    const parameters: Record<string, number> = {};
    if (pane.temperature !== "") parameters.temperature = Number(pane.temperature);
    if (pane.maxTokens !== "") parameters.max_tokens = Number(pane.maxTokens);
    return {
      messages,
      model_config_id: pane.configId,
      parameters: Object.keys(parameters).length ? parameters : undefined,
      tools: tools.trim() ? JSON.parse(tools) : undefined,
      output_schema: schema.trim() ? { name: "output", schema: JSON.parse(schema) } : undefined,
    };
  }

  async function runPane(i: number) {
    setOutput(i, () => ({ ...idle, running: true }));
    try {
      const pane = panes[i];
      if (!pane) return;
      const response = await postStream("/api/v1/playground/invoke", { ...invokeBody(pane), inputs });
      for await (const event of events(response)) {
        if (event.type === "delta") setOutput(i, (o) => ({ ...o, text: o.text + String(event.text) }));
        if (event.type === "tool_call") {
          const index = Number(event.index);
          setOutput(i, (o) => {
            const prev = o.toolCalls[index] ?? { name: "", arguments: "" };
            return { ...o, toolCalls: { ...o.toolCalls, [index]: { name: prev.name + String(event.name ?? ""), arguments: prev.arguments + String(event.arguments ?? "") } } };
          });
        }
        if (event.type === "end") setOutput(i, (o) => ({ ...o, finished: event as unknown as Finished }));
        if (event.type === "error") setOutput(i, (o) => ({ ...o, error: String(event.message) }));
      }
    } catch (e) {
      setOutput(i, (o) => ({ ...o, error: e instanceof Error ? e.message : String(e) }));
    } finally {
      setOutput(i, (o) => ({ ...o, running: false }));
    }
  }

  const ready = panes.every((p) => p.configId) && messages.length > 0;
  return (
    <div className="page">
      <header className="page-head">
        <h1>Playground</h1>
        <div className="actions">
          {promptName && <span className="muted">Prompt <Link to={`/o/${workspaceId}/prompts/${encodeURIComponent(promptName)}`}>{promptName}</Link> at {promptRef}{promptModel ? ` · saved with ${promptModel.model} (${promptModel.provider})` : ""}</span>}
          {runId && <span className="muted">Messages of run <span className="mono">{runId.slice(0, 8)}</span></span>}
        </div>
      </header>
      <ErrorBox error={prompt.error ?? run.error ?? configs.error} />
      <div className="playground">
        <section className="card" aria-label="Prompt">
          <h2>Prompt</h2>
          <ol className="chat">
            {messages.map((m, i) => (
              <li key={i} className={`message role-${m.role}`}>
                <div className="message-head">
                  <select aria-label={`Role of message ${i + 1}`} value={m.role} onChange={(e) => setMessages(messages.map((x, j) => (j === i ? { ...x, role: e.target.value as Role } : x)))}>
                    <option value="system">system</option>
                    <option value="user">user</option>
                    <option value="assistant">assistant</option>
                  </select>
                  <button className="link" aria-label={`Remove message ${i + 1}`} onClick={() => setMessages(messages.filter((_, j) => j !== i))}>Remove</button>
                </div>
                <textarea aria-label={`Message ${i + 1}`} rows={Math.min(10, Math.max(2, m.content.split("\n").length))} value={m.content} onChange={(e) => setMessages(messages.map((x, j) => (j === i ? { ...x, content: e.target.value } : x)))} />
              </li>
            ))}
          </ol>
          <div className="button-row">
            <button onClick={() => setMessages([...messages, { role: messages.at(-1)?.role === "user" ? "assistant" : "user", content: "" }])}>Add message</button>
          </div>
          {variables.length > 0 && (
            <fieldset className="variables">
              <legend>Inputs</legend>
              {variables.map((v) => (
                <label key={v}>
                  {v} <textarea rows={2} aria-label={`Input ${v}`} value={inputs[v] ?? ""} onChange={(e) => setInputs({ ...inputs, [v]: e.target.value })} />
                </label>
              ))}
            </fieldset>
          )}
          <details>
            <summary>Tools and output schema</summary>
            <label>Tools (JSON: <code>[{"{"}"name", "description", "parameters"{"}"}]</code>)<textarea rows={4} aria-label="Tools" value={tools} onChange={(e) => setTools(e.target.value)} /></label>
            <label>Output schema (a JSON schema the answer must match)<textarea rows={4} aria-label="Output schema" value={schema} onChange={(e) => setSchema(e.target.value)} /></label>
          </details>
          {can.has("prompts:create") && <SaveAsCommit messages={messages} initialName={promptName ?? ""} model={configs.data?.find((c) => c.id === panes[0]?.configId)} />}
        </section>
        <section className="panes" aria-label="Models">
          {configs.data && configs.data.length === 0 && <Empty>No model configuration yet: add one below, with the secret holding its key.</Empty>}
          <div className={`pane-grid panes-${panes.length}`}>
            {panes.map((pane, i) => (
              <PaneView key={i} index={i} pane={pane} configs={configs.data ?? []} onChange={(c) => setPane(i, c)} onRemove={panes.length > 1 ? () => setPanes(panes.filter((_, j) => j !== i)) : undefined} workspaceId={workspaceId} />
            ))}
          </div>
          <div className="button-row">
            <button className="primary" disabled={!ready || !can.has("runs:create") || panes.some((p) => p.output.running)} onClick={() => panes.forEach((_, i) => void runPane(i))}>
              {panes.length > 1 ? "Run both" : "Run"}
            </button>
            {panes.length < 2 && <button onClick={() => setPanes([...panes, newPane(panes[0]?.configId)])}>Compare with another configuration</button>}
          </div>
          {can.has("runs:create") && <OverDataset body={() => invokeBody(panes[0] ?? newPane())} disabled={!ready} workspaceId={workspaceId} configs={configs.data ?? []} />}
          {can.has("prompts:create") && <ModelConfigForm />}
          <Secrets canWrite={can.has("workspaces:manage")} />
        </section>
      </div>
    </div>
  );
}

function PaneView({ index, pane, configs, onChange, onRemove, workspaceId }: { index: number; pane: Pane; configs: ModelConfig[]; onChange: (c: Partial<Pane>) => void; onRemove?: () => void; workspaceId: string }) {
  const { output } = pane;
  const config = configs.find((c) => c.id === pane.configId);
  const calls = Object.values(output.toolCalls);
  return (
    <section className="card pane" aria-label={`Configuration ${index + 1}`}>
      <div className="inline-form">
        <label>
          Model{" "}
          <select aria-label={`Model configuration ${index + 1}`} value={pane.configId} onChange={(e) => onChange({ configId: e.target.value })}>
            <option value="">Choose…</option>
            {configs.map((c) => <option key={c.id} value={c.id}>{c.name} · {c.model}</option>)}
          </select>
        </label>
        <label>Temperature <input type="number" step="0.1" min="0" max="2" placeholder={String(config?.parameters?.temperature ?? "")} aria-label={`Temperature ${index + 1}`} value={pane.temperature} onChange={(e) => onChange({ temperature: e.target.value })} /></label>
        <label>Max tokens <input type="number" min="1" placeholder={String(config?.parameters?.max_tokens ?? "")} aria-label={`Max tokens ${index + 1}`} value={pane.maxTokens} onChange={(e) => onChange({ maxTokens: e.target.value })} /></label>
        {onRemove && <button className="link" onClick={onRemove}>Remove</button>}
      </div>
      <div className="answer" role="log" aria-live="polite" aria-label={`Answer ${index + 1}`}>
        {output.running && !output.text && calls.length === 0 && <span className="muted">Waiting for the model…</span>}
        {output.text && <div className="message role-assistant"><div className="message-text">{output.text}</div></div>}
        {calls.map((c, j) => (
          <div key={j} className="tool-call"><span className="badge type-tool">tool call</span> <code>{c.name}</code><pre className="code small">{c.arguments}</pre></div>
        ))}
        {output.error && <div className="error-box" role="alert">{output.error}</div>}
      </div>
      {output.finished && (
        <dl className="stats small">
          <div><dt>Tokens</dt><dd>{output.finished.usage ? `${output.finished.usage.input_tokens} in · ${output.finished.usage.output_tokens} out` : "—"}</dd></div>
          <div><dt>Latency</dt><dd>{(output.finished.latency_ms / 1000).toFixed(2)} s</dd></div>
          <div><dt>First token</dt><dd>{output.finished.first_token_ms != null ? `${(output.finished.first_token_ms / 1000).toFixed(2)} s` : "—"}</dd></div>
          <div><dt>Run</dt><dd><TracedRun runId={output.finished.run_id} workspaceId={workspaceId} /></dd></div>
        </dl>
      )}
    </section>
  );
}

/** A link to the traced run once the worker has stored it (with its cost). */
function TracedRun({ runId, workspaceId }: { runId: string; workspaceId: string }) {
  // Asked by query (an empty answer until it is stored), polled until it is there.
  const run = useQuery({
    queryKey: ["traced-run", runId],
    queryFn: async () => (await call(api.POST("/api/v1/runs/query", { body: { id: [runId], limit: 1 } }))).runs[0] ?? null,
    refetchInterval: (query) => (query.state.data ? false : 300),
  });
  if (!run.data) return <span className="muted">tracing…</span>;
  return (
    <>
      <Link to={`/o/${workspaceId}/projects/p/${run.data.session_id}/r/${runId}`}>open trace</Link>
      {run.data.total_cost != null && <span className="muted"> · ${Number(run.data.total_cost).toFixed(6)}</span>}
    </>
  );
}

function SaveAsCommit({ messages, initialName, model }: { messages: Draft[]; initialName: string; model?: ModelConfig }) {
  const { workspaceId = "" } = useParams();
  const [name, setName] = useState(initialName);
  const [description, setDescription] = useState("");
  const [includeModel, setIncludeModel] = useState(true);
  useEffect(() => setName(initialName), [initialName]);
  const save = useMutation({
    mutationFn: async () => {
      const exists = await api.GET("/api/v1/repos/{owner}/{repo}", { params: { path: { owner: "-", repo: name } } });
      if (exists.response.status === 404) await call(api.POST("/api/v1/repos", { body: { repo_handle: name, is_public: false } }));
      const latest = exists.response.ok ? await call(api.GET("/api/v1/commits/{owner}/{repo}", { params: { path: { owner: "-", repo: name }, query: { limit: 1 } } })) : null;
      return call(
        api.POST("/api/v1/commits/{owner}/{repo}", {
          params: { path: { owner: "-", repo: name } },
          body: {
            parent_commit: latest?.commits[0]?.commit_hash ?? null,
            manifest: model && includeModel ? withModel(manifestOf(messages), model) : manifestOf(messages),
            description: description || undefined,
          },
        }),
      );
    },
  });
  return (
    <form className="inline-form save-commit" aria-label="Save as commit" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
      <label>Prompt <input required pattern="[a-z0-9][a-z0-9_\-]*" title="lowercase letters, digits, - and _" value={name} onChange={(e) => setName(e.target.value)} placeholder="my-prompt" /></label>
      <label>Description <input value={description} onChange={(e) => setDescription(e.target.value)} /></label>
      {model && <label className="inline check"><input type="checkbox" checked={includeModel} onChange={(e) => setIncludeModel(e.target.checked)} /> With the model ({model.name})</label>}
      <button type="submit" disabled={save.isPending || messages.length === 0}>Save as commit</button>
      {save.data && (
        <span role="status">Saved <Link to={`/o/${workspaceId}/prompts/${encodeURIComponent(name)}?commit=${save.data.commit.commit_hash.slice(0, 8)}`}>{save.data.commit.commit_hash.slice(0, 8)}</Link></span>
      )}
      <ErrorBox error={save.error} />
    </form>
  );
}

type EvaluatorChoice = { exact: boolean; json: boolean; similarity: boolean; regex: string; judgeConfig: string; criteria: string };

/** The evaluators chosen in the form, as the experiment endpoint takes them. */
function evaluatorsOf(c: EvaluatorChoice) {
  return [
    ...(c.exact ? [{ type: "exact_match" }] : []),
    ...(c.json ? [{ type: "json_valid" }] : []),
    ...(c.similarity ? [{ type: "string_distance" }] : []),
    ...(c.regex ? [{ type: "regex", pattern: c.regex }] : []),
    ...(c.judgeConfig && c.criteria ? [{ type: "llm_judge", model_config_id: c.judgeConfig, criteria: c.criteria }] : []),
  ];
}

function OverDataset({ body, disabled, workspaceId, configs }: { body: () => Record<string, unknown>; disabled: boolean; workspaceId: string; configs: ModelConfig[] }) {
  const datasets = useQuery({ queryKey: ["datasets-all"], queryFn: () => call(api.GET("/api/v1/datasets", { params: { query: { limit: 100 } } })) });
  const [dataset, setDataset] = useState("");
  const [split, setSplit] = useState("");
  const [choice, setChoice] = useState<EvaluatorChoice>({ exact: true, json: false, similarity: false, regex: "", judgeConfig: "", criteria: "" });
  const change = (c: Partial<EvaluatorChoice>) => setChoice({ ...choice, ...c });
  const [progress, setProgress] = useState<{ done: number; total: number; errors: number; experiment?: string; ended: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  async function start() {
    setError(null);
    setProgress({ done: 0, total: 0, errors: 0, ended: false });
    try {
      const response = await postStream("/api/v1/playground/experiment", { dataset_id: dataset, split: split || undefined, invoke: body(), evaluators: evaluatorsOf(choice) });
      for await (const event of events(response)) {
        if (event.type === "start") setProgress((p) => ({ ...p!, total: Number(event.total), experiment: String(event.experiment_id) }));
        if (event.type === "progress") setProgress((p) => ({ ...p!, done: Number(event.done), errors: p!.errors + (event.error ? 1 : 0) }));
        if (event.type === "end") setProgress((p) => ({ ...p!, ended: true }));
      }
    } catch (e) {
      setError(e);
      setProgress(null);
    }
  }
  return (
    <details className="card">
      <summary>Run over a dataset</summary>
      <div className="inline-form">
        <label>Dataset <select aria-label="Dataset" value={dataset} onChange={(e) => setDataset(e.target.value)}><option value="">Choose…</option>{datasets.data?.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}</select></label>
        <label>Split <input value={split} onChange={(e) => setSplit(e.target.value)} placeholder="all" /></label>
      </div>
      <fieldset className="inline-form evaluators">
        <legend>Evaluators</legend>
        <label className="inline check"><input type="checkbox" checked={choice.exact} onChange={(e) => change({ exact: e.target.checked })} /> Exact match</label>
        <label className="inline check"><input type="checkbox" checked={choice.json} onChange={(e) => change({ json: e.target.checked })} /> Valid JSON</label>
        <label className="inline check"><input type="checkbox" checked={choice.similarity} onChange={(e) => change({ similarity: e.target.checked })} /> String similarity</label>
        <label>Regex <input value={choice.regex} onChange={(e) => change({ regex: e.target.value })} placeholder="^\\d+$" /></label>
        <label>
          LLM judge{" "}
          <select aria-label="Judge model" value={choice.judgeConfig} onChange={(e) => change({ judgeConfig: e.target.value })}>
            <option value="">none</option>
            {configs.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
          </select>
        </label>
        {choice.judgeConfig && <label>Criteria <input required value={choice.criteria} onChange={(e) => change({ criteria: e.target.value })} placeholder="Answers correctly and briefly" /></label>}
      </fieldset>
      <button disabled={disabled || !dataset || (!!progress && !progress.ended)} onClick={() => void start()}>Run experiment</button>
      <ErrorBox error={error} />
      {progress && (
        <p role="status">
          {progress.done} of {progress.total} examples{progress.errors ? `, ${progress.errors} failed` : ""}
          {progress.ended && progress.experiment && (
            <> · <Link to={`/o/${workspaceId}/datasets/${dataset}/compare?selectedSessions=${progress.experiment}`}>open the experiment</Link></>
          )}
        </p>
      )}
    </details>
  );
}

function ModelConfigForm() {
  const client = useQueryClient();
  const [provider, setProvider] = useState<Provider>("openai");
  const [name, setName] = useState("");
  const [model, setModel] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [secret, setSecret] = useState("");
  // Azure: deployment and API version; Bedrock: region and access key id.
  const [first, setFirst] = useState("");
  const [second, setSecond] = useState("");
  const options =
    provider === "azure_openai"
      ? { deployment: first || undefined, api_version: second || undefined }
      : provider === "bedrock"
        ? { region: first || undefined, access_key_id: second || undefined }
        : {};
  const create = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/model-configs", { body: { name, provider, model, base_url: baseUrl || undefined, secret_key: secret || undefined, parameters: {}, options } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["model-configs"] }),
  });
  return (
    <details className="card">
      <summary>New model configuration</summary>
      <form className="inline-form" aria-label="New model configuration" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <label>Name <input required value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label>Provider <select value={provider} onChange={(e) => setProvider(e.target.value as Provider)}>{PROVIDERS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}</select></label>
        <label>Model <input required value={model} onChange={(e) => setModel(e.target.value)} placeholder="gpt-4o-mini" /></label>
        <label>Base URL <input value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder="the provider's" /></label>
        <label>Secret <input value={secret} onChange={(e) => setSecret(e.target.value)} placeholder="the provider's usual name" /></label>
        {provider === "azure_openai" && (
          <>
            <label>Deployment <input value={first} onChange={(e) => setFirst(e.target.value)} placeholder="the model's name" /></label>
            <label>API version <input required value={second} onChange={(e) => setSecond(e.target.value)} placeholder="2024-10-21" /></label>
          </>
        )}
        {provider === "bedrock" && (
          <>
            <label>Region <input required value={first} onChange={(e) => setFirst(e.target.value)} placeholder="us-east-1" /></label>
            <label>Access key id <input required value={second} onChange={(e) => setSecond(e.target.value)} /></label>
          </>
        )}
        <button type="submit" disabled={create.isPending}>Save configuration</button>
        <ErrorBox error={create.error} />
      </form>
    </details>
  );
}

function Secrets({ canWrite }: { canWrite: boolean }) {
  const client = useQueryClient();
  const secrets = useQuery({ queryKey: ["secrets"], queryFn: () => call(api.GET("/api/v1/workspaces/current/secrets")) });
  const [key, setKey] = useState("OPENAI_API_KEY");
  const [value, setValue] = useState("");
  const set = useMutation({
    mutationFn: () => call(api.POST("/api/v1/workspaces/current/secrets", { body: [{ key, value }] })),
    onSuccess: () => {
      setValue("");
      return client.invalidateQueries({ queryKey: ["secrets"] });
    },
  });
  return (
    <details className="card">
      <summary>Provider keys ({secrets.data?.length ?? 0})</summary>
      <ul className="secret-list">
        {secrets.data?.map((s) => <li key={s.key}><code>{s.key}</code> <span className="muted">{s.last_four ? `…${s.last_four}` : "set"}</span></li>)}
      </ul>
      {canWrite && <form className="inline-form" aria-label="Set a provider key" onSubmit={(e) => { e.preventDefault(); set.mutate(); }}>
        <label>Name <input required value={key} onChange={(e) => setKey(e.target.value)} /></label>
        <label>Value <input required type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} /></label>
        <button type="submit" disabled={set.isPending}>Save key</button>
        <ErrorBox error={set.error} />
      </form>}
      <p className="muted small">Keys are encrypted at rest and never shown again: only their last four characters.</p>
    </details>
  );
}
