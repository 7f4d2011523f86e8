import { useNavigate, useParams, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call, type Run } from "../api/client";
import { useProject } from "../api/hooks";
import { Crumbs, ErrorBox, Loading, useTitle } from "../components/common";
import { RunDetail } from "../components/RunDetail";
import { TraceTree } from "../components/TraceTree";

// What the tree and waterfall draw; the selected run is read whole.
export const TREE_SELECT = ["parent_run_id", "end_time", "error", "total_tokens", "total_cost"];

/** Every run of a trace, page after page (the tree needs all of them). */
export async function traceRuns(fetchPage: (cursor: string | null) => Promise<{ runs: Run[]; cursors: { next?: string | null } }>): Promise<Run[]> {
  const runs: Run[] = [];
  let cursor: string | null = null;
  do {
    const page = await fetchPage(cursor);
    runs.push(...page.runs);
    cursor = page.cursors.next ?? null;
  } while (cursor);
  return runs;
}

export function TracePage() {
  const { workspaceId = "", projectId = "", runId = "" } = useParams();
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const project = useProject(projectId);
  const selected = useQuery({
    queryKey: ["run", runId],
    queryFn: () => call(api.GET("/api/v1/runs/{id}", { params: { path: { id: runId } } })),
  });
  const traceId = search.get("trace_id") ?? selected.data?.trace_id ?? null;
  const runs = useQuery({
    queryKey: ["trace", traceId],
    enabled: traceId !== null,
    queryFn: () =>
      // The whole trace in one read (up to 25,000 runs); pages of /runs/query after that.
      traceRuns((cursor) =>
        cursor === null
          ? call(api.GET("/api/v1/runs/{id}/trace", { params: { path: { id: traceId ?? "" }, query: { session: projectId, select: TREE_SELECT } } }))
          : call(api.POST("/api/v1/runs/query", { body: { trace: traceId, session: [projectId], cursor, limit: 100, order: "asc", select: TREE_SELECT } })),
      ),
    // A trace still running (`?poll=true`, as the SDKs print while tracing) refreshes.
    refetchInterval: search.get("poll") === "true" ? 2000 : false,
  });
  const root = runs.data?.find((r) => !r.parent_run_id);
  useTitle(root?.name ?? selected.data?.name ?? "Trace");
  const select = (run: Run) => {
    const next = new URLSearchParams(search);
    next.set("trace_id", run.trace_id);
    navigate(`/o/${workspaceId}/projects/p/${projectId}/r/${run.id}?${next.toString()}`, { replace: true });
  };
  return (
    <div className="page trace-page">
      <Crumbs
        items={[
          ["Tracing projects", `/o/${workspaceId}/projects`],
          [project.data?.name ?? "Project", `/o/${workspaceId}/projects/p/${projectId}`],
          [root?.name ?? "Trace", null],
        ]}
      />
      <div className="trace-split">
        <div className="trace-left">
          {runs.isPending && traceId !== null && <Loading what="the trace" />}
          <ErrorBox error={runs.error} />
          {runs.data && <TraceTree runs={runs.data} selected={runId} onSelect={select} />}
        </div>
        <div className="trace-right">
          {selected.isPending && <Loading what="the run" />}
          <ErrorBox error={selected.error} />
          {selected.data && <RunDetail run={selected.data} />}
        </div>
      </div>
    </div>
  );
}
