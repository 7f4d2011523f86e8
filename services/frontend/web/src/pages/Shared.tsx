import { useState } from "react";
import { useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call, type Dataset, type Example } from "../api/client";
import { Empty, ErrorBox, Json, Loading, useTitle } from "../components/common";
import { RunDetail } from "../components/RunDetail";
import { TraceTree } from "../components/TraceTree";
import { TREE_SELECT, traceRuns } from "./Trace";

/** A shared trace (`/public/{token}/r`): readable by anyone with the link, no sign-in. */
export function SharedRun() {
  const { token = "" } = useParams();
  const root = useQuery({ queryKey: ["shared-root", token], queryFn: () => call(api.GET("/api/v1/public/{token}/run", { params: { path: { token } } })) });
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const runs = useQuery({
    queryKey: ["shared-trace", token],
    queryFn: () => traceRuns((cursor) => call(api.POST("/api/v1/public/{token}/runs/query", { params: { path: { token } }, body: { cursor, limit: 100, select: TREE_SELECT } }))),
  });
  const runId = selectedId ?? root.data?.id ?? null;
  const selected = useQuery({
    queryKey: ["shared-run", token, runId],
    enabled: runId !== null,
    queryFn: () => call(api.GET("/api/v1/public/{token}/run/{run_id}", { params: { path: { token, run_id: runId ?? "" } } })),
  });
  useTitle(root.data ? `${root.data.name} (shared)` : "Shared trace");
  return (
    <div className="public-page">
      <header className="public-head">
        <a className="brand" href="/"><img src="/favicon.svg" alt="" width="22" height="22" /> Ironsmith</a>
        <span className="muted">A shared trace — read only</span>
      </header>
      <main className="page trace-page">
        <h1 className="visually-hidden">Shared trace</h1>
        {(root.isPending || runs.isPending) && <Loading what="the shared trace" />}
        <ErrorBox error={root.error ?? runs.error} title={root.error ? "This link does not open a trace" : undefined} />
        {runs.data && root.data && (
          <div className="trace-split">
            <div className="trace-left">
              <TraceTree runs={runs.data} selected={runId ?? ""} onSelect={(r) => setSelectedId(r.id)} />
            </div>
            <div className="trace-right">
              {selected.isPending && <Loading what="the run" />}
              <ErrorBox error={selected.error} />
              {selected.data && <RunDetail run={selected.data} readOnly />}
            </div>
          </div>
        )}
      </main>
    </div>
  );
}

/** A shared dataset (`/public/{token}/d`): its examples, no sign-in. */
export function SharedDataset() {
  const { token = "" } = useParams();
  const dataset = useQuery({
    queryKey: ["shared-dataset", token],
    queryFn: () => call(api.GET("/api/v1/public/{token}/{listing}", { params: { path: { token, listing: "datasets" } } })) as Promise<unknown> as Promise<Dataset>,
  });
  const examples = useQuery({
    queryKey: ["shared-examples", token],
    queryFn: () => call(api.GET("/api/v1/public/{token}/{listing}", { params: { path: { token, listing: "examples" } } })) as Promise<unknown> as Promise<Example[]>,
  });
  useTitle(dataset.data ? `${dataset.data.name} (shared)` : "Shared dataset");
  return (
    <div className="public-page">
      <header className="public-head">
        <a className="brand" href="/"><img src="/favicon.svg" alt="" width="22" height="22" /> Ironsmith</a>
        <span className="muted">A shared dataset — read only</span>
      </header>
      <main className="page">
        <h1>{dataset.data?.name ?? "Shared dataset"}</h1>
        {dataset.data?.description && <p className="muted">{dataset.data.description}</p>}
        {(dataset.isPending || examples.isPending) && <Loading what="the dataset" />}
        <ErrorBox error={dataset.error ?? examples.error} />
        {examples.data && examples.data.length === 0 && <Empty>This dataset has no examples.</Empty>}
        {examples.data && examples.data.length > 0 && (
          <table className="grid">
            <thead><tr><th>Inputs</th><th>Reference outputs</th></tr></thead>
            <tbody>
              {examples.data.map((e) => (
                <tr key={e.id}><td><Json value={e.inputs} /></td><td><Json value={e.outputs} /></td></tr>
              ))}
            </tbody>
          </table>
        )}
      </main>
    </div>
  );
}
