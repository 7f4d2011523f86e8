import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, call, type Example } from "../api/client";
import { Attachments } from "../components/Attachments";
import { Crumbs, Empty, ErrorBox, Json, Loading, TabBar, ago, cost, seconds, useTitle, when } from "../components/common";
import { FeedbackChips } from "../components/Feedback";

type Tab = "examples" | "experiments" | "versions" | "schema";

export function DatasetPage() {
  const { workspaceId = "", datasetId = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const dataset = useQuery({ queryKey: ["dataset", datasetId], queryFn: () => call(api.GET("/api/v1/datasets/{id}", { params: { path: { id: datasetId } } })) });
  useTitle(dataset.data?.name ?? "Dataset");
  const tab = (["examples", "experiments", "versions", "schema"].includes(search.get("tab") ?? "") ? search.get("tab") : "examples") as Tab;
  const setTab = (t: Tab) => {
    const next = new URLSearchParams(search);
    next.set("tab", t);
    setSearch(next);
  };
  if (dataset.isPending) return <Loading what="the dataset" />;
  if (dataset.error) return <ErrorBox error={dataset.error} />;
  const d = dataset.data;
  return (
    <div className="page">
      <Crumbs items={[["Datasets & experiments", `/o/${workspaceId}/datasets`], [d.name, null]]} />
      <header className="page-head">
        <h1>{d.name}</h1>
        <dl className="stats">
          <div><dt>Examples</dt><dd>{d.example_count}</dd></div>
          <div><dt>Experiments</dt><dd>{d.session_count}</dd></div>
          <div><dt>Modified</dt><dd>{ago(d.modified_at)}</dd></div>
        </dl>
      </header>
      {d.description && <p className="muted">{d.description}</p>}
      <TabBar<Tab> tabs={[["examples", "Examples"], ["experiments", "Experiments"], ["versions", "Versions"], ["schema", "Schema"]]} value={tab} onChange={setTab} />
      {tab === "examples" && <Examples datasetId={datasetId} asOf={search.get("as_of")} />}
      {tab === "experiments" && <Experiments datasetId={datasetId} workspaceId={workspaceId} />}
      {tab === "schema" && <Schema inputs={d.inputs_schema_definition} outputs={d.outputs_schema_definition} />}
      {tab === "versions" && <Versions datasetId={datasetId} onView={(asOf) => { const n = new URLSearchParams(); n.set("tab", "examples"); n.set("as_of", asOf); setSearch(n); }} />}
    </div>
  );
}

const EXAMPLES_PAGE = 100;

function Examples({ datasetId, asOf }: { datasetId: string; asOf: string | null }) {
  const [adding, setAdding] = useState(false);
  const [split, setSplit] = useState("");
  const splits = useQuery({
    queryKey: ["splits", datasetId],
    queryFn: () => call(api.GET("/api/v1/datasets/{id}/splits", { params: { path: { id: datasetId } } })) as Promise<unknown> as Promise<string[]>,
  });
  const examples = useInfiniteQuery({
    queryKey: ["examples", datasetId, asOf, split],
    initialPageParam: 0,
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/api/v1/examples", {
          params: {
            query: { dataset: datasetId, as_of: asOf ?? undefined, offset: pageParam, limit: EXAMPLES_PAGE, splits: split ? [split] : undefined },
          },
        }),
      ),
    getNextPageParam: (last, pages) => (last.length < EXAMPLES_PAGE ? undefined : pages.length * EXAMPLES_PAGE),
  });
  const rows = useMemo(() => examples.data?.pages.flat() ?? [], [examples.data]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 96,
    // Measured heights follow the example, not its position, when rows are edited or deleted.
    getItemKey: (index) => rows[index]?.id ?? index,
    overscan: 6,
  });
  const items = virtual.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (lastIndex >= rows.length - 10 && examples.hasNextPage && !examples.isFetchingNextPage) void examples.fetchNextPage();
  }, [lastIndex, rows.length, examples]);
  return (
    <section>
      <div className="toolbar">
        {asOf ? <span className="chip">As of {asOf}</span> : null}
        {(splits.data ?? []).length > 0 && (
          <select aria-label="Split" value={split} onChange={(e) => setSplit(e.target.value)}>
            <option value="">All splits</option>
            {(splits.data ?? []).map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        )}
        {!asOf && <button className="primary" onClick={() => setAdding(true)}>Add example</button>}
      </div>
      {adding && <ExampleForm datasetId={datasetId} onDone={() => setAdding(false)} />}
      {examples.isPending && <Loading what="examples" />}
      <ErrorBox error={examples.error} />
      {examples.data && rows.length === 0 && <Empty>No examples{split ? " in this split" : " yet"}.</Empty>}
      {rows.length > 0 && (
        <div className="examples-table">
          <div role="table" aria-label="Examples" aria-rowcount={rows.length + 1} className="runs-grid">
            <div role="row" className="examples-head">
              {["Inputs", "Reference outputs", "Metadata", "Modified"].map((h) => <div role="columnheader" key={h}>{h}</div>)}
              <div role="columnheader"><span className="visually-hidden">Actions</span></div>
            </div>
            <div className="examples-body" role="rowgroup" ref={scroller}>
              <div role="none" style={{ height: virtual.getTotalSize(), position: "relative" }}>
                {items.map((item) => {
                  const example = rows[item.index];
                  if (!example) return null;
                  return (
                    <ExampleRow
                      key={example.id}
                      ref={virtual.measureElement}
                      index={item.index}
                      start={item.start}
                      example={example}
                      readOnly={!!asOf}
                    />
                  );
                })}
              </div>
            </div>
          </div>
          <div className="runs-foot muted small" aria-live="polite">
            {rows.length.toLocaleString()} shown{examples.hasNextPage ? " · scroll for more" : ""}
            {examples.isFetchingNextPage ? " · loading…" : ""}
          </div>
        </div>
      )}
    </section>
  );
}

function ExampleRow({
  example,
  readOnly,
  index,
  start,
  ref,
}: {
  example: Example;
  readOnly: boolean;
  index: number;
  start: number;
  ref: (element: HTMLElement | null) => void;
}) {
  const queries = useQueryClient();
  const [editing, setEditing] = useState(false);
  const remove = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/examples/{id}", { params: { path: { id: example.id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["examples", example.dataset_id] }),
  });
  const placed = { transform: `translateY(${start}px)` };
  if (editing) {
    return (
      <div role="row" ref={ref} data-index={index} className="examples-row editing" style={placed}>
        <div role="cell"><ExampleForm datasetId={example.dataset_id} example={example} onDone={() => setEditing(false)} /></div>
      </div>
    );
  }
  return (
    <div role="row" ref={ref} data-index={index} className="examples-row" style={placed}>
      <div role="cell">
        <Json value={example.inputs} />
        <Attachments urls={example.attachment_urls} compact />
      </div>
      <div role="cell"><Json value={example.outputs} /></div>
      <div role="cell">{example.metadata && Object.keys(example.metadata).length > 0 ? <Json value={example.metadata} /> : <span className="muted">–</span>}</div>
      <div role="cell">{ago(example.modified_at)}</div>
      <div role="cell">
        {!readOnly && (
          <span className="button-row">
            <button className="link" onClick={() => setEditing(true)}>Edit</button>
            <button className="link danger" onClick={() => { if (confirm("Delete this example?")) remove.mutate(); }}>Delete</button>
          </span>
        )}
        <ErrorBox error={remove.error} />
      </div>
    </div>
  );
}

function parseObject(text: string, what: string): Record<string, unknown> | null {
  if (!text.trim()) return null;
  const value: unknown = JSON.parse(text);
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** A random UUID (v4), also where `crypto.randomUUID` is not offered (plain-HTTP origins). */
function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A new example with files: the multipart create the SDKs use (`{id}`, `{id}.inputs`, …). */
function multipartExample(id: string, inputs: object, outputs: object | null, files: File[]): FormData {
  const form = new FormData();
  const json = (value: unknown) => new Blob([JSON.stringify(value)], { type: "application/json" });
  form.append(id, json({}));
  form.append(`${id}.inputs`, json(inputs));
  if (outputs) form.append(`${id}.outputs`, json(outputs));
  for (const file of files) {
    form.append(`${id}.attachment.${file.name}`, new Blob([file], { type: file.type || "application/octet-stream" }), file.name);
  }
  return form;
}

function ExampleForm({ datasetId, example, onDone }: { datasetId: string; example?: Example; onDone: () => void }) {
  const queries = useQueryClient();
  const [inputs, setInputs] = useState(example ? JSON.stringify(example.inputs, null, 2) : "{\n  \"question\": \"\"\n}");
  const [outputs, setOutputs] = useState(example?.outputs ? JSON.stringify(example.outputs, null, 2) : "");
  const [files, setFiles] = useState<File[]>([]);
  const save = useMutation({
    mutationFn: async () => {
      const parsedInputs = parseObject(inputs, "Inputs") ?? {};
      const parsedOutputs = parseObject(outputs, "Outputs");
      const body = { dataset_id: datasetId, inputs: parsedInputs, outputs: parsedOutputs };
      if (example) return call(api.PATCH("/api/v1/examples/{id}", { params: { path: { id: example.id } }, body }));
      if (files.length === 0) return call(api.POST("/api/v1/examples", { body }));
      const form = multipartExample(newId(), parsedInputs, parsedOutputs, files);
      return call(
        api.POST("/api/v1/platform/datasets/{id}/examples", {
          params: { path: { id: datasetId } },
          body: {},
          bodySerializer: () => form,
        }),
      );
    },
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["examples", datasetId] });
      void queries.invalidateQueries({ queryKey: ["dataset", datasetId] });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="card example-form" onSubmit={submit} aria-label={example ? "Edit example" : "Add example"}>
      <label>Inputs (JSON)<textarea className="mono" rows={6} value={inputs} onChange={(e) => setInputs(e.target.value)} /></label>
      <label>Reference outputs (JSON)<textarea className="mono" rows={6} value={outputs} onChange={(e) => setOutputs(e.target.value)} /></label>
      {example ? (
        <Attachments urls={example.attachment_urls} compact />
      ) : (
        <label>
          Attachments
          <input type="file" multiple onChange={(e) => setFiles(Array.from(e.target.files ?? []))} />
        </label>
      )}
      <div className="button-row">
        <button type="submit" className="primary" disabled={save.isPending}>{example ? "Save" : "Add"}</button>
        <button type="button" onClick={onDone}>Cancel</button>
      </div>
      <ErrorBox error={save.error} />
    </form>
  );
}

function Experiments({ datasetId, workspaceId }: { datasetId: string; workspaceId: string }) {
  const navigate = useNavigate();
  const [chosen, setChosen] = useState<string[]>([]);
  const experiments = useQuery({
    queryKey: ["experiments", datasetId],
    queryFn: () => call(api.GET("/api/v1/sessions", { params: { query: { reference_dataset: datasetId, include_stats: true, limit: 100 } } })),
  });
  const keys = [...new Set((experiments.data ?? []).flatMap((e) => Object.keys(e.feedback_stats ?? {})))].sort();
  const toggle = (id: string) => setChosen(chosen.includes(id) ? chosen.filter((c) => c !== id) : [...chosen, id]);
  return (
    <section>
      <div className="toolbar">
        <button
          className="primary"
          disabled={chosen.length < 1}
          onClick={() => navigate(`/o/${workspaceId}/datasets/${datasetId}/compare?selectedSessions=${chosen.join("%2C")}`)}
        >
          Compare {chosen.length > 0 ? `(${chosen.length})` : ""}
        </button>
        <span className="muted small">Select experiments to compare; the first chosen is the baseline.</span>
      </div>
      {experiments.isPending && <Loading what="experiments" />}
      <ErrorBox error={experiments.error} />
      {experiments.data && experiments.data.length === 0 && <Empty>No experiments yet. Run <code>evaluate()</code> with this dataset.</Empty>}
      {experiments.data && experiments.data.length > 0 && (
        <div className="table-wrap">
          <table className="grid">
            <thead>
              <tr>
                <th><span className="visually-hidden">Select</span></th><th>Experiment</th><th>Started</th><th>Runs</th><th>P50</th><th>Cost</th>
                {keys.map((k) => <th key={k}>{k}</th>)}
              </tr>
            </thead>
            <tbody>
              {experiments.data.map((e) => (
                <tr key={e.id}>
                  <td><input type="checkbox" aria-label={`Select ${e.name}`} checked={chosen.includes(e.id)} onChange={() => toggle(e.id)} /></td>
                  <td><Link to={`/o/${workspaceId}/datasets/${datasetId}/compare?selectedSessions=${e.id}`}>{e.name}</Link></td>
                  <td>{when(e.start_time)}</td>
                  <td className="num">{e.run_count}</td>
                  <td className="num">{seconds(e.latency_p50)}</td>
                  <td className="num">{cost(e.total_cost)}</td>
                  {keys.map((k) => {
                    const s = e.feedback_stats?.[k];
                    return <td key={k} className="num">{s?.avg !== undefined && s?.avg !== null ? s.avg.toFixed(2) : "–"}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {experiments.data && experiments.data.length > 0 && keys.length === 0 && <FeedbackChips stats={null} />}
    </section>
  );
}

function Versions({ datasetId, onView }: { datasetId: string; onView: (asOf: string) => void }) {
  const versions = useQuery({
    queryKey: ["versions", datasetId],
    queryFn: () => call(api.GET("/api/v1/datasets/{id}/versions", { params: { path: { id: datasetId } } })),
  });
  if (versions.isPending) return <Loading what="versions" />;
  if (versions.error) return <ErrorBox error={versions.error} />;
  const list = versions.data as unknown as { as_of: string; tags?: string[] | null }[];
  if (list.length === 0) return <Empty>No versions yet: each change to the examples makes one.</Empty>;
  return (
    <>
    <VersionDiff datasetId={datasetId} versions={list} />
    <table className="grid">
      <thead><tr><th>Version</th><th>Tags</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
      <tbody>
        {list.map((v) => (
          <tr key={v.as_of}>
            <td>{when(v.as_of)}</td>
            <td><span className="chips">{(v.tags ?? []).map((t) => <span className="chip" key={t}>{t}</span>)}</span></td>
            <td><button className="link" onClick={() => onView(v.as_of)}>View examples as of this version</button></td>
          </tr>
        ))}
      </tbody>
    </table>
    </>
  );
}

/** What changed between two versions: examples added, modified and removed. */
function VersionDiff({ datasetId, versions }: { datasetId: string; versions: { as_of: string; tags?: string[] | null }[] }) {
  const oldest = versions.at(-1)?.as_of ?? "";
  const [from, setFrom] = useState(oldest);
  const [to, setTo] = useState("");
  const diff = useQuery({
    queryKey: ["diff", datasetId, from, to],
    enabled: from !== "",
    queryFn: () =>
      call(api.GET("/api/v1/datasets/{id}/versions/diff", { params: { path: { id: datasetId }, query: { from_version: from, to_version: to || undefined } } })),
  });
  const label = (v: { as_of: string; tags?: string[] | null }) => `${when(v.as_of)}${v.tags?.length ? ` (${v.tags.join(", ")})` : ""}`;
  return (
    <div className="card">
      <div className="inline-form">
        <strong>Compare versions</strong>
        <label>From <select value={from} onChange={(e) => setFrom(e.target.value)}>{versions.map((v) => <option key={v.as_of} value={v.as_of}>{label(v)}</option>)}</select></label>
        <label>To <select value={to} onChange={(e) => setTo(e.target.value)}><option value="">now</option>{versions.map((v) => <option key={v.as_of} value={v.as_of}>{label(v)}</option>)}</select></label>
      </div>
      <ErrorBox error={diff.error} />
      {diff.data && (
        <dl className="stats small" aria-label="Differences">
          <div><dt>Added</dt><dd>{diff.data.examples_added.length}</dd></div>
          <div><dt>Modified</dt><dd>{diff.data.examples_modified.length}</dd></div>
          <div><dt>Removed</dt><dd>{diff.data.examples_removed.length}</dd></div>
        </dl>
      )}
      {diff.data && (
        <ul className="diff-ids mono small">
          {diff.data.examples_added.map((id) => <li key={`a${id}`} className="improved">+ {id}</li>)}
          {diff.data.examples_modified.map((id) => <li key={`m${id}`}>~ {id}</li>)}
          {diff.data.examples_removed.map((id) => <li key={`r${id}`} className="regressed">− {id}</li>)}
        </ul>
      )}
    </div>
  );
}

/** The JSON schemas examples' inputs and outputs must match (none: anything goes). */
function Schema({ inputs, outputs }: { inputs: unknown; outputs: unknown }) {
  return (
    <section className="run-tab">
      <div className="payload">
        <div className="section-head"><h3>Inputs schema</h3></div>
        {inputs ? <Json value={inputs} expanded label="Inputs schema" /> : <p className="muted">None: inputs are not checked.</p>}
      </div>
      <div className="payload">
        <div className="section-head"><h3>Outputs schema</h3></div>
        {outputs ? <Json value={outputs} expanded label="Outputs schema" /> : <p className="muted">None: reference outputs are not checked.</p>}
      </div>
      <p className="muted small">Set schemas with the SDK (<code>create_dataset(..., inputs_schema=…, outputs_schema=…)</code>); examples that do not match are refused with the failing path.</p>
    </section>
  );
}
