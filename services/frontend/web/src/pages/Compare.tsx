import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call, type Run } from "../api/client";
import { ChatView, chatMessages } from "../components/Chat";
import { Crumbs, Empty, ErrorBox, Json, Loading, seconds, latencyOf, useTitle } from "../components/common";

/** An experiment's output: chat messages as a chat (a model's answer), anything else as JSON. */
function Output({ value }: { value: unknown }) {
  const chat = chatMessages(value);
  return chat ? <ChatView messages={chat} /> : <Json value={value} />;
}

/** Scores of one run by feedback key (averages). */
function scores(run: Run | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, s] of Object.entries(run?.feedback_stats ?? {})) {
    if (s.avg !== null && s.avg !== undefined) out[key] = s.avg;
  }
  return out;
}

/**
 * Two or more experiments on one dataset, example by example: the input, the reference
 * output, then each experiment's output and scores; against the first (the baseline), a
 * higher score is marked an improvement and a lower one a regression.
 */
export function Compare() {
  const { workspaceId = "", datasetId = "" } = useParams();
  const [search] = useSearchParams();
  const sessions = (search.get("selectedSessions") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const dataset = useQuery({ queryKey: ["dataset", datasetId], queryFn: () => call(api.GET("/api/v1/datasets/{id}", { params: { path: { id: datasetId } } })) });
  const experiments = useQuery({
    queryKey: ["experiments-by-id", sessions],
    enabled: sessions.length > 0,
    queryFn: () => call(api.GET("/api/v1/sessions", { params: { query: { id: sessions, include_stats: true, limit: 100 } } })),
  });
  const rows = useQuery({
    queryKey: ["compare", datasetId, sessions],
    enabled: sessions.length > 0,
    queryFn: () => call(api.POST("/api/v1/datasets/{id}/runs", { params: { path: { id: datasetId } }, body: { session_ids: sessions, limit: 100, offset: 0 } })),
  });
  // Pairwise comparisons (evaluate_comparative) over exactly these experiments, and their feedback.
  const pairwise = useQuery({
    queryKey: ["pairwise", datasetId, sessions],
    enabled: sessions.length > 1,
    queryFn: async () => {
      const all = await call(api.GET("/api/v1/datasets/{id}/comparative", { params: { path: { id: datasetId } } }));
      const wanted = [...sessions].sort().join(",");
      const matching = all.filter((c) => [...c.experiment_ids].sort().join(",") === wanted);
      const feedback = await Promise.all(
        matching.map((c) => call(api.GET("/api/v1/feedback", { params: { query: { comparative_experiment_id: c.id, limit: 100 } } }))),
      );
      const byRun = new Map<string, { key: string; score: number }[]>();
      for (const f of feedback.flat() as unknown as { run_id?: string | null; key: string; score?: number | null }[]) {
        if (!f.run_id || f.score === null || f.score === undefined) continue;
        byRun.set(f.run_id, [...(byRun.get(f.run_id) ?? []), { key: f.key, score: Number(f.score) }]);
      }
      return { comparisons: matching, byRun };
    },
  });
  useTitle(`Compare · ${dataset.data?.name ?? "dataset"}`);
  const ordered = sessions.map((id) => experiments.data?.find((e) => e.id === id)).filter((e) => e !== undefined);
  const keys = [...new Set(ordered.flatMap((e) => Object.keys(e.feedback_stats ?? {})))].sort();
  const [show, setShow] = useState<"all" | "regressed" | "improved">("all");
  // Whether any experiment scored an example lower (or higher) than the baseline did.
  const changed = (example: { runs: Run[] }, direction: "regressed" | "improved") => {
    const byExperiment = sessions.map((s) => example.runs.find((r) => r.session_id === s));
    const baseline = scores(byExperiment[0]);
    return byExperiment.slice(1).some((run) =>
      Object.entries(scores(run)).some(([k, v]) => {
        const base = baseline[k];
        return base !== undefined && (direction === "regressed" ? v < base : v > base);
      }),
    );
  };
  const shown = (rows.data ?? []).filter((example) => show === "all" || changed(example, show));
  return (
    <div className="page">
      <Crumbs
        items={[
          ["Datasets & experiments", `/o/${workspaceId}/datasets`],
          [dataset.data?.name ?? "Dataset", `/o/${workspaceId}/datasets/${datasetId}?tab=experiments`],
          ["Compare", null],
        ]}
      />
      <h1>{sessions.length > 1 ? `Comparing ${sessions.length} experiments` : "Experiment results"}</h1>
      {sessions.length === 0 && <Empty>No experiments selected: choose them on the dataset's Experiments tab.</Empty>}
      {(experiments.isPending || rows.isPending) && sessions.length > 0 && <Loading what="the experiments" />}
      <ErrorBox error={dataset.error ?? experiments.error ?? rows.error} />
      {ordered.length > 0 && (
        <table className="grid compact summary">
          <thead><tr><th>Experiment</th>{keys.map((k) => <th key={k}>{k}</th>)}<th>P50</th></tr></thead>
          <tbody>
            {ordered.map((e, i) => (
              <tr key={e.id}>
                <td>{i === 0 && sessions.length > 1 ? <span className="chip">baseline</span> : null} {e.name}</td>
                {keys.map((k) => <td key={k} className="num">{e.feedback_stats?.[k]?.avg?.toFixed(2) ?? "–"}</td>)}
                <td className="num">{seconds(e.latency_p50)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rows.data && rows.data.length === 0 && <Empty>The dataset has no examples.</Empty>}
      {pairwise.data && pairwise.data.comparisons.length > 0 && (
        <p className="muted small">
          Pairwise: {pairwise.data.comparisons.map((c) => c.name).join(", ")} (preferences shown beside each output)
        </p>
      )}
      {rows.data && rows.data.length > 0 && sessions.length > 1 && (
        <div className="toolbar">
          <label className="inline">
            Show{" "}
            <select aria-label="Show examples" value={show} onChange={(e) => setShow(e.target.value as typeof show)}>
              <option value="all">All examples</option>
              <option value="regressed">Regressions against the baseline</option>
              <option value="improved">Improvements against the baseline</option>
            </select>
          </label>
          <span className="muted small">{shown.length} of {rows.data.length} examples</span>
        </div>
      )}
      {rows.data && rows.data.length > 0 && (
        <div className="table-wrap">
          <table className="grid compare">
            <thead>
              <tr>
                <th>Input</th>
                <th>Reference output</th>
                {ordered.map((e) => <th key={e.id}>{e.name}</th>)}
              </tr>
            </thead>
            <tbody>
              {shown.map((example) => {
                const byExperiment = sessions.map((s) => example.runs.find((r) => r.session_id === s));
                const baseline = scores(byExperiment[0]);
                return (
                  <tr key={example.id}>
                    <td><Json value={example.inputs} /></td>
                    <td><Json value={example.outputs} /></td>
                    {byExperiment.map((run, i) => {
                      const mine = scores(run);
                      return (
                        <td key={sessions[i]}>
                          {run ? (
                            <>
                              <Output value={run.outputs} />
                              {run.error && <pre className="error-text small">{run.error.split("\n")[0]}</pre>}
                              <div className="chips">
                                {Object.entries(mine).map(([k, v]) => {
                                  const base = baseline[k];
                                  const change = i === 0 || base === undefined ? "" : v > base ? "improved" : v < base ? "regressed" : "";
                                  return (
                                    <span key={k} className={`chip ${change}`} title={change ? `${change} against the baseline (${base})` : undefined}>
                                      {k} <strong>{v.toFixed(2)}</strong>
                                      {change === "improved" ? " ▲" : change === "regressed" ? " ▼" : ""}
                                    </span>
                                  );
                                })}
                              </div>
                              {(pairwise.data?.byRun.get(run.id) ?? []).length > 0 && (
                                <div className="chips" aria-label="Pairwise">
                                  {(pairwise.data?.byRun.get(run.id) ?? []).map((p) => (
                                    <span key={p.key} className={`chip ${p.score >= 1 ? "improved" : ""}`} title="Pairwise preference (evaluate_comparative)">
                                      {p.key} {p.score >= 1 ? "preferred" : p.score.toFixed(2)}
                                    </span>
                                  ))}
                                </div>
                              )}
                              <div className="muted small">
                                {seconds(latencyOf(run.start_time, run.end_time))} ·{" "}
                                <Link to={`/o/${workspaceId}/projects/p/${run.session_id}/r/${run.id}?trace_id=${run.trace_id}`}>trace</Link>
                              </div>
                            </>
                          ) : (
                            <span className="muted">no run</span>
                          )}
                        </td>
                      );
                    })}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
