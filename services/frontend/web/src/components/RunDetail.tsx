import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Run } from "../api/client";
import { usePermissions } from "../api/hooks";
import { ErrorBox, Json, Loading, RunTypeBadge, StatusBadge, TabBar, cost, latencyOf, seconds, tokens, when } from "./common";
import { Attachments, attachmentsOf } from "./Attachments";
import { ChatView, chatMessages } from "./Chat";

type Tab = "run" | "feedback" | "metadata";

/** The selected run: inputs and outputs (as chat for LLM runs), error, usage, feedback, metadata. */
export function RunDetail({ run, readOnly = false }: { run: Run; readOnly?: boolean }) {
  const [tab, setTab] = useState<Tab>("run");
  const latency = latencyOf(run.start_time, run.end_time);
  return (
    <article className="run-detail" aria-label={`Run ${run.name}`}>
      <header className="run-head">
        <h2>
          <RunTypeBadge type={run.run_type} /> {run.name} <StatusBadge status={run.status} error={run.error} />
        </h2>
        <dl className="stats small">
          <div><dt>Start</dt><dd>{when(run.start_time)}</dd></div>
          <div><dt>Latency</dt><dd>{seconds(latency)}</dd></div>
          {run.first_token_time && <div><dt>First token</dt><dd>{seconds(latencyOf(run.start_time, run.first_token_time))}</dd></div>}
          <div><dt>Tokens</dt><dd title={`${run.prompt_tokens} prompt + ${run.completion_tokens} completion`}>{tokens(run.total_tokens)}</dd></div>
          <div><dt>Cost</dt><dd>{cost(run.total_cost as number | string | null | undefined)}</dd></div>
        </dl>
        {!readOnly && <RunActions run={run} />}
      </header>
      <TabBar<Tab> tabs={readOnly ? [["run", "Run"], ["metadata", "Metadata"]] : [["run", "Run"], ["feedback", "Feedback"], ["metadata", "Metadata"]]} value={tab} onChange={setTab} />
      {tab === "run" && <RunTab run={run} />}
      {tab === "feedback" && <FeedbackTab run={run} />}
      {tab === "metadata" && <MetadataTab run={run} />}
    </article>
  );
}

function Payload({ title, value, chat }: { title: string; value: unknown; chat: boolean }) {
  const [raw, setRaw] = useState(false);
  const messages = chat ? chatMessages(value) : null;
  return (
    <section className="payload">
      <div className="section-head">
        <h3>{title}</h3>
        {messages && (
          <button className="link small" onClick={() => setRaw(!raw)} aria-pressed={raw}>
            {raw ? "Show as chat" : "Raw JSON"}
          </button>
        )}
      </div>
      {messages && !raw ? <ChatView messages={messages} /> : <Json value={value} expanded label={title} />}
    </section>
  );
}

function RunTab({ run }: { run: Run }) {
  const isLlm = run.run_type === "llm";
  return (
    <div className="run-tab">
      {run.error && (
        <section className="payload">
          <h3>Error</h3>
          <pre className="error-text">{run.error}</pre>
        </section>
      )}
      <Payload title="Input" value={run.inputs} chat={isLlm} />
      <Payload title="Output" value={run.outputs} chat={isLlm} />
      {attachmentsOf(run.s3_urls).length > 0 && (
        <section className="payload">
          <h3>Attachments</h3>
          <Attachments urls={run.s3_urls} />
        </section>
      )}
      {(run.prompt_tokens > 0 || run.completion_tokens > 0) && (
        <section className="payload">
          <h3>Usage</h3>
          <table className="grid compact">
            <thead><tr><th></th><th>Tokens</th><th>Cost</th></tr></thead>
            <tbody>
              <tr><td>Prompt</td><td className="num">{tokens(run.prompt_tokens)}</td><td className="num">{cost(run.prompt_cost as number | null | undefined)}</td></tr>
              <tr><td>Completion</td><td className="num">{tokens(run.completion_tokens)}</td><td className="num">{cost(run.completion_cost as number | null | undefined)}</td></tr>
              <tr><th>Total</th><td className="num">{tokens(run.total_tokens)}</td><td className="num">{cost(run.total_cost as number | null | undefined)}</td></tr>
            </tbody>
          </table>
          {(run.prompt_token_details || run.completion_token_details) && (
            <Json value={{ prompt: run.prompt_token_details, completion: run.completion_token_details }} label="Token details" />
          )}
        </section>
      )}
      {run.events && run.events.length > 0 && (
        <section className="payload">
          <h3>Events ({run.events.length})</h3>
          <Json value={run.events} label="Events" />
        </section>
      )}
    </div>
  );
}

function MetadataTab({ run }: { run: Run }) {
  const metadata = (run.extra as { metadata?: unknown } | undefined)?.metadata ?? {};
  return (
    <div className="run-tab">
      <section className="payload">
        <h3>Tags</h3>
        {run.tags && run.tags.length > 0 ? <span className="chips">{run.tags.map((t) => <span className="chip" key={t}>{t}</span>)}</span> : <span className="muted">none</span>}
      </section>
      <section className="payload">
        <h3>Metadata</h3>
        <Json value={metadata} expanded label="Metadata" />
      </section>
      <section className="payload">
        <h3>Identifiers</h3>
        <dl className="kv">
          <dt>Run</dt><dd><code>{run.id}</code></dd>
          <dt>Trace</dt><dd><code>{run.trace_id}</code></dd>
          <dt>Parent</dt><dd><code>{run.parent_run_id ?? "none"}</code></dd>
          <dt>Project</dt><dd><code>{run.session_id}</code></dd>
        </dl>
      </section>
    </div>
  );
}

interface FeedbackRow {
  id: string;
  key: string;
  score?: number | boolean | null;
  value?: unknown;
  comment?: string | null;
  created_at: string;
  feedback_source?: { type?: string } | null;
}

function FeedbackTab({ run }: { run: Run }) {
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const queries = useQueryClient();
  const list = useQuery({
    queryKey: ["feedback", run.id],
    queryFn: () => call(api.GET("/api/v1/feedback", { params: { query: { run: [run.id] } } })),
  });
  const [key, setKey] = useState("");
  const [score, setScore] = useState("");
  const [comment, setComment] = useState("");
  const add = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/feedback", {
          body: { run_id: run.id, key: key.trim(), score: score === "" ? null : Number(score), comment: comment || null },
        }),
      ),
    onSuccess: () => {
      setKey("");
      setScore("");
      setComment("");
      void queries.invalidateQueries({ queryKey: ["feedback", run.id] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  return (
    <div className="run-tab">
      {list.isPending && <Loading what="feedback" />}
      <ErrorBox error={list.error} />
      {list.data && list.data.length === 0 && <p className="muted">No feedback on this run yet.</p>}
      {list.data && list.data.length > 0 && (
        <table className="grid compact">
          <thead><tr><th>Key</th><th>Score</th><th>Value</th><th>Comment</th><th>Source</th><th>When</th></tr></thead>
          <tbody>
            {(list.data as unknown as FeedbackRow[]).map((f) => (
              <tr key={f.id}>
                <td>{f.key}</td>
                <td className="num">{f.score === null || f.score === undefined ? "–" : String(f.score)}</td>
                <td>{f.value === null || f.value === undefined ? "" : typeof f.value === "string" ? f.value : JSON.stringify(f.value)}</td>
                <td>{f.comment}</td>
                <td>{f.feedback_source?.type ?? ""}</td>
                <td>{when(f.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {can.has("feedback:create") && <form className="card inline-form" onSubmit={submit} aria-label="Add feedback">
        <label>Key <input required value={key} onChange={(e) => setKey(e.target.value)} placeholder="correctness" /></label>
        <label>Score <input type="number" step="any" value={score} onChange={(e) => setScore(e.target.value)} placeholder="1" /></label>
        <label>Comment <input value={comment} onChange={(e) => setComment(e.target.value)} /></label>
        <button type="submit" className="primary" disabled={add.isPending}>Add feedback</button>
        <ErrorBox error={add.error} />
      </form>}
    </div>
  );
}

function RunActions({ run }: { run: Run }) {
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const [open, setOpen] = useState<"dataset" | "queue" | "share" | null>(null);
  return (
    <div className="run-actions">
      <div className="button-row">
        {can.has("datasets:update") && <button onClick={() => setOpen(open === "dataset" ? null : "dataset")} aria-expanded={open === "dataset"}>Add to dataset</button>}
        {can.has("annotation-queues:update") && <button onClick={() => setOpen(open === "queue" ? null : "queue")} aria-expanded={open === "queue"}>Add to annotation queue</button>}
        {can.has("runs:share") && <button onClick={() => setOpen(open === "share" ? null : "share")} aria-expanded={open === "share"}>Share</button>}
        {run.run_type === "llm" && can.has("runs:create") && <Link className="button" to={`/o/${workspaceId}/playground?run=${run.id}`}>Open in playground</Link>}
      </div>
      {open === "dataset" && <AddToDataset run={run} />}
      {open === "queue" && <AddToQueue run={run} />}
      {open === "share" && <Share run={run} />}
    </div>
  );
}

function AddToDataset({ run }: { run: Run }) {
  const datasets = useQuery({ queryKey: ["datasets-all"], queryFn: () => call(api.GET("/api/v1/datasets", { params: { query: { limit: 100 } } })) });
  const [dataset, setDataset] = useState("");
  const add = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/examples", { body: { dataset_id: dataset, inputs: run.inputs, outputs: run.outputs ?? null, source_run_id: run.id } })),
  });
  return (
    <form className="card inline-form" aria-label="Add to dataset" onSubmit={(e) => { e.preventDefault(); add.mutate(); }}>
      <label>
        Dataset
        <select required value={dataset} onChange={(e) => setDataset(e.target.value)}>
          <option value="">choose…</option>
          {(datasets.data ?? []).map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
        </select>
      </label>
      <button type="submit" className="primary" disabled={!dataset || add.isPending}>Add example</button>
      {add.isSuccess && <span className="ok" role="status">Added to the dataset.</span>}
      <ErrorBox error={add.error ?? datasets.error} />
    </form>
  );
}

function AddToQueue({ run }: { run: Run }) {
  const queues = useQuery({ queryKey: ["queues"], queryFn: () => call(api.GET("/api/v1/annotation-queues", { params: { query: { limit: 100 } } })) });
  const [queue, setQueue] = useState("");
  const add = useMutation({
    mutationFn: () => call(api.POST("/api/v1/annotation-queues/{id}/runs", { params: { path: { id: queue } }, body: [run.id] })),
  });
  return (
    <form className="card inline-form" aria-label="Add to annotation queue" onSubmit={(e) => { e.preventDefault(); add.mutate(); }}>
      <label>
        Queue
        <select required value={queue} onChange={(e) => setQueue(e.target.value)}>
          <option value="">choose…</option>
          {(queues.data ?? []).map((q) => <option key={q.id} value={q.id}>{q.name}</option>)}
        </select>
      </label>
      <button type="submit" className="primary" disabled={!queue || add.isPending}>Add run</button>
      {add.isSuccess && <span className="ok" role="status">Added to the queue.</span>}
      <ErrorBox error={add.error ?? queues.error} />
    </form>
  );
}

function Share({ run }: { run: Run }) {
  const queries = useQueryClient();
  const state = useQuery({ queryKey: ["share", run.id], queryFn: () => call(api.GET("/api/v1/runs/{id}/share", { params: { path: { id: run.id } } })) });
  const share = useMutation({
    mutationFn: () => call(api.PUT("/api/v1/runs/{id}/share", { params: { path: { id: run.id } }, body: null })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["share", run.id] }),
  });
  const unshare = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/runs/{id}/share", { params: { path: { id: run.id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["share", run.id] }),
  });
  const token = (state.data as { share_token?: string } | null | undefined)?.share_token;
  const link = token ? `${location.origin}/public/${token}/r` : null;
  return (
    <div className="card">
      {state.isPending && <Loading />}
      {link ? (
        <p>
          Anyone with this link can see the trace: <a href={link} target="_blank" rel="noreferrer">{link}</a>{" "}
          <button className="danger" onClick={() => unshare.mutate()} disabled={unshare.isPending}>Stop sharing</button>
        </p>
      ) : (
        state.data !== undefined && (
          <p>
            Not shared. <button className="primary" onClick={() => share.mutate()} disabled={share.isPending}>Create a public link</button>
          </p>
        )
      )}
      <ErrorBox error={state.error ?? share.error ?? unshare.error} />
    </div>
  );
}
