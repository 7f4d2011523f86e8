import { lazy, Suspense, useMemo, useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { useProject } from "../api/hooks";
import { Crumbs, Empty, ErrorBox, Loading, TabBar, ago, cost, percent, preview, seconds, tokens, useTitle, when } from "../components/common";
import { FeedbackChips } from "../components/Feedback";
import { useLiveTail } from "../components/LiveTail";
import { ALL_COLUMNS, RunsTable, useColumns, type Column, type RunsView } from "../components/RunsTable";

type Tab = "runs" | "threads" | "monitor" | "setup";

// The charts (and uPlot) load when the tab opens.
const MonitorTab = lazy(() => import("./Monitor").then((m) => ({ default: m.MonitorTab })));

const RANGES: [string, string, number | null][] = [
  ["1h", "Last hour", 3600],
  ["1d", "Last day", 86400],
  ["7d", "Last 7 days", 7 * 86400],
  ["30d", "Last 30 days", 30 * 86400],
  ["all", "All time", null],
];

function tabOf(value: string | null): Tab {
  return value === "threads" || value === "monitor" || value === "setup" ? value : "runs";
}

export function ProjectPage() {
  const { workspaceId = "", projectId = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const project = useProject(projectId);
  useTitle(project.data?.name ?? "Project");
  const tab = tabOf(search.get("tab"));
  const setTab = (t: Tab) => {
    const next = new URLSearchParams(search);
    next.set("tab", t);
    setSearch(next);
  };
  if (project.error) return <ErrorBox error={project.error} />;
  // The runs load alongside the project's statistics, not after them.
  const p = project.data;
  return (
    <div className="page">
      <Crumbs items={[["Tracing projects", `/o/${workspaceId}/projects`], [p?.name ?? "Project", null]]} />
      <header className="page-head">
        <h1>{p?.name ?? "Loading…"}</h1>
        {p && <dl className="stats">
          <div><dt>Runs</dt><dd>{tokens(p.run_count)}</dd></div>
          <div><dt>Error rate</dt><dd>{percent(p.error_rate)}</dd></div>
          <div><dt>P50</dt><dd>{seconds(p.latency_p50)}</dd></div>
          <div><dt>P99</dt><dd>{seconds(p.latency_p99)}</dd></div>
          <div><dt>Tokens</dt><dd>{tokens(p.total_tokens)}</dd></div>
          <div><dt>Cost</dt><dd>{cost(p.total_cost)}</dd></div>
          <div><dt>Last run</dt><dd>{ago(p.last_run_start_time)}</dd></div>
        </dl>}
      </header>
      {p?.description && <p className="muted">{p.description}</p>}
      {p && <FeedbackChips stats={p.feedback_stats} />}
      <TabBar<Tab> tabs={[["runs", "Runs"], ["threads", "Threads"], ["monitor", "Monitor"], ["setup", "Setup"]]} value={tab} onChange={setTab} />
      {tab === "runs" && <RunsTab projectId={projectId} workspaceId={workspaceId} />}
      {tab === "threads" && <ThreadsTab projectId={projectId} workspaceId={workspaceId} />}
      {tab === "monitor" && (
        <Suspense fallback={<Loading what="the charts" />}>
          <MonitorTab projectId={projectId} />
        </Suspense>
      )}
      {tab === "setup" && p && <SetupTab name={p.name} />}
    </div>
  );
}

function RunsTab({ projectId, workspaceId }: { projectId: string; workspaceId: string }) {
  const [search, setSearch] = useSearchParams();
  const view = (["traces", "runs", "llm"].includes(search.get("view") ?? "") ? search.get("view") : "traces") as RunsView;
  const filter = search.get("filter") ?? "";
  const range = search.get("range") ?? "7d";
  const [draft, setDraft] = useState(filter);
  const [columns, setColumns] = useColumns();
  const seconds = RANGES.find(([id]) => id === range)?.[2] ?? null;
  // Rounded to the minute, so the query (and its cache key) is stable while the page is open.
  const startTime = seconds === null ? null : new Date(Math.floor((Date.now() - seconds * 1000) / 60_000) * 60_000).toISOString();
  const [liveOn, setLiveOn] = useState(false);
  const [paused, setPaused] = useState(false);
  const runsQuery = useMemo(() => ({ projectId, view, filter, startTime }), [projectId, view, filter, startTime]);
  const tail = useLiveTail(runsQuery, liveOn, paused);
  const update = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(key, value);
    else next.delete(key);
    setSearch(next);
  };
  const apply = (e?: FormEvent) => {
    e?.preventDefault();
    update("filter", draft.trim());
  };
  const add = (expression: string) => {
    const combined = draft.trim() ? `and(${draft.trim()}, ${expression})` : expression;
    setDraft(combined);
    update("filter", combined);
  };
  return (
    <section className="runs-tab">
      <div className="toolbar">
        <div className="segmented" role="group" aria-label="Which runs">
          {([["traces", "Traces"], ["runs", "All runs"], ["llm", "LLM calls"]] as [RunsView, string][]).map(([id, label]) => (
            <button key={id} aria-pressed={view === id} className={view === id ? "active" : ""} onClick={() => update("view", id === "traces" ? "" : id)}>
              {label}
            </button>
          ))}
        </div>
        <label className="inline">
          <span className="visually-hidden">Time range</span>
          <select value={range} onChange={(e) => update("range", e.target.value)} aria-label="Time range">
            {RANGES.map(([id, label]) => (
              <option key={id} value={id}>{label}</option>
            ))}
          </select>
        </label>
        <ColumnPicker columns={columns} onChange={setColumns} />
        <div className="live-controls">
          <button aria-pressed={liveOn} className={liveOn ? "active live-toggle" : "live-toggle"} onClick={() => { setLiveOn(!liveOn); setPaused(false); }}>
            <span className={`live-dot ${tail.status}`} aria-hidden="true" /> Live
          </button>
          {liveOn && (
            <button onClick={() => setPaused(!paused)} aria-pressed={paused}>
              {paused ? `Resume${tail.waiting ? ` (${tail.waiting} new)` : ""}` : "Pause"}
            </button>
          )}
          {liveOn && <span className="muted small" role="status">{tail.status === "live" ? (paused ? "paused" : "streaming new runs") : tail.status}</span>}
        </div>
      </div>
      {tail.notice && <p className="muted small" role="status">{tail.notice}</p>}
      <form className="filter-bar" onSubmit={apply}>
        <input
          className="mono"
          aria-label="Filter"
          placeholder='Filter, e.g. and(eq(run_type, "llm"), gt(latency, "2s"))'
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
        />
        <button type="submit">Apply</button>
        {filter && (
          <button type="button" className="link" onClick={() => { setDraft(""); update("filter", ""); }}>
            Clear
          </button>
        )}
      </form>
      <FilterBuilder onAdd={add} />
      <RunsTable query={runsQuery} columns={columns} workspaceId={workspaceId} live={tail.runs} />
    </section>
  );
}

function quote(value: string): string {
  return JSON.stringify(value);
}

type Field = "status" | "run_type" | "name" | "tag" | "metadata" | "latency" | "tokens" | "feedback" | "search";

/** Builds the common filters as filter-language expressions, added to the bar (so they can be read and edited). */
function FilterBuilder({ onAdd }: { onAdd: (expression: string) => void }) {
  const [field, setField] = useState<Field>("metadata");
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const build = (): string | null => {
    const v = value.trim();
    const k = key.trim();
    switch (field) {
      case "status":
        return v === "error" ? "eq(error, true)" : v === "success" ? "eq(error, false)" : null;
      case "run_type":
        return v ? `eq(run_type, ${quote(v)})` : null;
      case "name":
        return v ? `like(name, ${quote(`%${v}%`)})` : null;
      case "tag":
        return v ? `has(tags, ${quote(v)})` : null;
      case "metadata":
        return k && v ? `and(eq(metadata_key, ${quote(k)}), eq(metadata_value, ${quote(v)}))` : null;
      case "latency":
        return v ? `gt(latency, ${quote(/[a-z]$/.test(v) ? v : `${v}s`)})` : null;
      case "tokens":
        return v ? `gt(total_tokens, ${Number(v)})` : null;
      case "feedback":
        return k && v ? `and(eq(feedback_key, ${quote(k)}), eq(feedback_score, ${Number(v)}))` : null;
      case "search":
        return v ? `search(${quote(v)})` : null;
    }
  };
  const expression = build();
  const needsKey = field === "metadata" || field === "feedback";
  return (
    <form
      className="builder"
      aria-label="Add a filter"
      onSubmit={(e) => {
        e.preventDefault();
        if (expression) {
          onAdd(expression);
          setKey("");
          setValue("");
        }
      }}
    >
      <select value={field} onChange={(e) => { setField(e.target.value as Field); setValue(""); }} aria-label="Filter on">
        <option value="metadata">Metadata</option>
        <option value="feedback">Feedback score</option>
        <option value="status">Status</option>
        <option value="run_type">Run type</option>
        <option value="name">Name contains</option>
        <option value="tag">Tag</option>
        <option value="latency">Latency over</option>
        <option value="tokens">Tokens over</option>
        <option value="search">Full text</option>
      </select>
      {needsKey && <input aria-label={field === "metadata" ? "Metadata key" : "Feedback key"} placeholder="key" value={key} onChange={(e) => setKey(e.target.value)} />}
      {field === "status" ? (
        <select aria-label="Status" value={value} onChange={(e) => setValue(e.target.value)}>
          <option value="">choose…</option>
          <option value="error">error</option>
          <option value="success">success</option>
        </select>
      ) : field === "run_type" ? (
        <select aria-label="Run type" value={value} onChange={(e) => setValue(e.target.value)}>
          <option value="">choose…</option>
          {["llm", "chain", "tool", "retriever", "embedding", "prompt", "parser"].map((t) => <option key={t}>{t}</option>)}
        </select>
      ) : (
        <input aria-label={field === "feedback" ? "Score" : "Value"} placeholder={field === "latency" ? "seconds" : field === "feedback" ? "score" : "value"} value={value} onChange={(e) => setValue(e.target.value)} />
      )}
      <button type="submit" disabled={!expression}>Add filter</button>
    </form>
  );
}

function ColumnPicker({ columns, onChange }: { columns: Column[]; onChange: (c: Column[]) => void }) {
  return (
    <details className="dropdown">
      <summary>Columns</summary>
      <div className="dropdown-body">
        {ALL_COLUMNS.map(([id, label]) => (
          <label key={id} className="check">
            <input
              type="checkbox"
              checked={columns.includes(id)}
              disabled={id === "name"}
              onChange={(e) => onChange(e.target.checked ? ALL_COLUMNS.map(([c]) => c).filter((c) => c === id || columns.includes(c)) : columns.filter((c) => c !== id))}
            />
            {label}
          </label>
        ))}
      </div>
    </details>
  );
}

interface ThreadItem {
  thread_id: string;
  count: number;
  total_tokens: number;
  total_cost: number | null;
  min_start_time: string | null;
  max_start_time: string | null;
  first_inputs: string;
  last_outputs: string;
  num_errored_turns: number;
}

interface Turn {
  trace_id: string;
  name: string;
  start_time: string | null;
  inputs: unknown;
  outputs: unknown;
  error: string | null;
  total_tokens: number;
  latency: number | null;
}

function ThreadsTab({ projectId, workspaceId }: { projectId: string; workspaceId: string }) {
  const [search, setSearch] = useSearchParams();
  const open = search.get("thread");
  const threads = useQuery({
    queryKey: ["threads", projectId],
    queryFn: () => call(api.POST("/api/v2/threads/query", { body: { project_id: projectId, page_size: 100, min_start_time: "1970-01-01T00:00:00Z" } })),
  });
  if (open) {
    return <Thread projectId={projectId} workspaceId={workspaceId} threadId={open} onBack={() => { const n = new URLSearchParams(search); n.delete("thread"); setSearch(n); }} />;
  }
  if (threads.isPending) return <Loading what="threads" />;
  if (threads.error) return <ErrorBox error={threads.error} />;
  const items = threads.data.items as unknown as ThreadItem[];
  if (items.length === 0) return <Empty>No threads. Runs join a thread through a <code>session_id</code>, <code>thread_id</code> or <code>conversation_id</code> metadata key.</Empty>;
  return (
    <div className="table-wrap">
      <table className="grid">
        <thead>
          <tr><th>Thread</th><th>Turns</th><th>First input</th><th>Last output</th><th>Tokens</th><th>Cost</th><th>Errors</th><th>Last turn</th></tr>
        </thead>
        <tbody>
          {items.map((t) => (
            <tr key={t.thread_id}>
              <td><Link to={`?tab=threads&thread=${encodeURIComponent(t.thread_id)}`}>{t.thread_id}</Link></td>
              <td className="num">{t.count}</td>
              <td className="preview-cell">{preview(t.first_inputs, 80)}</td>
              <td className="preview-cell">{preview(t.last_outputs, 80)}</td>
              <td className="num">{tokens(t.total_tokens)}</td>
              <td className="num">{cost(t.total_cost)}</td>
              <td className={`num ${t.num_errored_turns ? "bad" : ""}`}>{t.num_errored_turns}</td>
              <td>{ago(t.max_start_time)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Thread({ projectId, workspaceId, threadId, onBack }: { projectId: string; workspaceId: string; threadId: string; onBack: () => void }) {
  const turns = useQuery({
    queryKey: ["thread", projectId, threadId],
    queryFn: () => call(api.GET("/api/v2/threads/{thread_id}/traces", { params: { path: { thread_id: threadId }, query: { project_id: projectId } } })),
  });
  return (
    <section className="thread">
      <button className="link" onClick={onBack}>← All threads</button>
      <h2>Thread {threadId}</h2>
      {turns.isPending && <Loading what="the conversation" />}
      <ErrorBox error={turns.error} />
      {turns.data && (
        <ol className="turns">
          {(turns.data.items as unknown as Turn[]).map((turn) => (
            <li key={turn.trace_id} className="turn">
              <div className="turn-head">
                <Link to={`/o/${workspaceId}/projects/p/${projectId}/r/${turn.trace_id}?trace_id=${turn.trace_id}`}>{turn.name}</Link>
                <span className="muted small">{when(turn.start_time)} · {seconds(turn.latency)} · {tokens(turn.total_tokens)} tokens</span>
              </div>
              <div className="bubble user">{preview(turn.inputs, 600)}</div>
              {turn.error ? <div className="bubble bad">{turn.error}</div> : <div className="bubble assistant">{preview(turn.outputs, 600)}</div>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function SetupTab({ name }: { name: string }) {
  const endpoint = `${location.origin}/api/v1`;
  return (
    <section className="setup">
      <h2>Send traces to this project</h2>
      <p>Set these in the environment of your application (create a key under Settings → API keys):</p>
      <pre className="code">{`export LANGSMITH_TRACING=true
export LANGSMITH_ENDPOINT=${endpoint}
export LANGSMITH_API_KEY=<your key>
export LANGSMITH_PROJECT=${JSON.stringify(name)}`}</pre>
      <p>Then trace with the SDK, for example in Python:</p>
      <pre className="code">{`from langsmith import traceable

@traceable
def answer(question: str) -> str:
    return "42"

answer("What is six times seven?")`}</pre>
    </section>
  );
}
