import { useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, call, type Run } from "../api/client";
import { ErrorBox, Empty, Loading, StatusBadge, RunTypeBadge, cost, latencyOf, preview, seconds, tokens, when, whenShort } from "./common";
import { FeedbackChips } from "./Feedback";

export type RunsView = "traces" | "runs" | "llm";

export type Column = "name" | "input" | "output" | "error" | "start" | "latency" | "tokens" | "cost" | "first_token" | "tags" | "metadata" | "feedback";
export const ALL_COLUMNS: [Column, string][] = [
  ["name", "Name"],
  ["input", "Input"],
  ["output", "Output"],
  ["error", "Error"],
  ["start", "Start time"],
  ["latency", "Latency"],
  ["first_token", "First token"],
  ["tokens", "Tokens"],
  ["cost", "Cost"],
  ["tags", "Tags"],
  ["metadata", "Metadata"],
  ["feedback", "Feedback"],
];
const WIDTH: Record<Column, string> = {
  name: "minmax(200px, 1.4fr)",
  input: "minmax(120px, 1.6fr)",
  output: "minmax(120px, 1.6fr)",
  error: "minmax(120px, 1fr)",
  start: "175px",
  latency: "80px",
  first_token: "90px",
  tokens: "70px",
  cost: "80px",
  tags: "minmax(100px, 1fr)",
  metadata: "minmax(120px, 1fr)",
  feedback: "minmax(140px, 1fr)",
};

// The fields each column reads: a query selects only these, so pages stay small.
export const SELECT = [
  "inputs_preview",
  "outputs_preview",
  "error",
  "end_time",
  "first_token_time",
  "total_tokens",
  "total_cost",
  "tags",
  "extra",
  "feedback_stats",
  "parent_run_id",
  "app_path",
];

export interface RunsQuery {
  projectId: string;
  view: RunsView;
  filter: string;
  startTime: string | null;
}

const PAGE = 100;
const ROW_HEIGHT = 40;

export function RunsTable({
  query,
  columns,
  workspaceId,
  live = [],
}: {
  query: RunsQuery;
  columns: Column[];
  workspaceId: string;
  /** Runs streamed by the live tail, newest first, shown above the loaded pages. */
  live?: Run[];
}) {
  const runs = useInfiniteQuery({
    queryKey: ["runs", query],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      call(
        api.POST("/api/v1/runs/query", {
          body: {
            session: [query.projectId],
            is_root: query.view === "traces" ? true : null,
            run_type: query.view === "llm" ? "llm" : null,
            filter: query.filter.trim() || null,
            start_time: query.startTime,
            cursor: pageParam,
            limit: PAGE,
            select: SELECT,
          },
        }),
      ),
    getNextPageParam: (last) => last.cursors.next ?? null,
  });
  const rows = useMemo(() => {
    const loaded = runs.data?.pages.flatMap((p) => p.runs) ?? [];
    if (live.length === 0) return loaded;
    const streamed = new Set(live.map((r) => r.id));
    return [...live, ...loaded.filter((r) => !streamed.has(r.id))];
  }, [runs.data, live]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtual.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (lastIndex >= rows.length - 20 && runs.hasNextPage && !runs.isFetchingNextPage) {
      void runs.fetchNextPage();
    }
  }, [lastIndex, rows.length, runs]);

  const template = columns.map((c) => WIDTH[c]).join(" ");
  if (runs.isPending) return <Loading what="runs" />;
  if (runs.error) return <FilterError error={runs.error} />;
  if (rows.length === 0) return <Empty>No runs match. Widen the time range or change the filter.</Empty>;
  return (
    <div className="runs-table">
      <div className="runs-grid" role="table" aria-label="Runs" aria-rowcount={rows.length + 1}>
      <div className="runs-head" role="row" style={{ gridTemplateColumns: template }}>
        {columns.map((c) => (
          <div role="columnheader" key={c}>
            {ALL_COLUMNS.find(([id]) => id === c)?.[1]}
          </div>
        ))}
      </div>
      <div className="runs-body" role="rowgroup" ref={scroller}>
        <div role="none" style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const run = rows[item.index];
            if (!run) return null;
            return (
              <div
                key={run.id}
                role="row"
                aria-rowindex={item.index + 2}
                className="runs-row"
                style={{ gridTemplateColumns: template, transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
              >
                {columns.map((c) => (
                  <div role="cell" key={c} className={`cell cell-${c}`}>
                    <Cell column={c} run={run} workspaceId={workspaceId} />
                  </div>
                ))}
              </div>
            );
          })}
        </div>
      </div>
      </div>
      <div className="runs-foot muted small" aria-live="polite">
        {rows.length.toLocaleString()} shown{runs.hasNextPage ? " · scroll for more" : ""}
        {runs.isFetchingNextPage ? " · loading…" : ""}
      </div>
    </div>
  );
}

function runLink(run: Run, workspaceId: string): string {
  return `/o/${workspaceId}/projects/p/${run.session_id}/r/${run.id}?trace_id=${run.trace_id}`;
}

function Cell({ column, run, workspaceId }: { column: Column; run: Run; workspaceId: string }) {
  switch (column) {
    case "name":
      return (
        <span className="name-cell">
          <StatusBadge status={run.status} error={run.error} />
          <Link to={runLink(run, workspaceId)} title={run.name}>{run.name}</Link>
          <RunTypeBadge type={run.run_type} />
        </span>
      );
    case "input":
      return <span className="preview" title={run.inputs_preview ?? ""}>{run.inputs_preview ?? preview(run.inputs)}</span>;
    case "output":
      return <span className="preview" title={run.outputs_preview ?? ""}>{run.outputs_preview ?? preview(run.outputs)}</span>;
    case "error":
      return <span className="preview bad" title={run.error ?? ""}>{run.error?.split("\n")[0] ?? ""}</span>;
    case "start":
      return <span title={when(run.start_time)}>{whenShort(run.start_time)}</span>;
    case "latency":
      return <span className="num">{seconds(latencyOf(run.start_time, run.end_time))}</span>;
    case "first_token":
      return <span className="num">{seconds(latencyOf(run.start_time, run.first_token_time))}</span>;
    case "tokens":
      return <span className="num">{run.total_tokens ? tokens(run.total_tokens) : "–"}</span>;
    case "cost":
      return <span className="num">{cost(run.total_cost as number | string | null | undefined)}</span>;
    case "tags":
      return <span className="chips">{(run.tags ?? []).map((t) => <span className="chip" key={t}>{t}</span>)}</span>;
    case "metadata": {
      const metadata = ((run.extra as { metadata?: Record<string, unknown> } | undefined)?.metadata ?? {}) as Record<string, unknown>;
      const shown = Object.entries(metadata).filter(([k]) => !k.startsWith("ls_") && k !== "revision_id");
      return <span className="chips">{shown.slice(0, 4).map(([k, v]) => <span className="chip" key={k}>{k}: {String(typeof v === "object" ? JSON.stringify(v) : v)}</span>)}</span>;
    }
    case "feedback":
      return <FeedbackChips stats={run.feedback_stats} />;
  }
}

/** A refused filter shows the server's reason (with the position it names) under the bar. */
export function FilterError({ error }: { error: unknown }) {
  return <ErrorBox error={error} title="The query was refused" />;
}

export function useColumns(): [Column[], (c: Column[]) => void] {
  const [columns, setColumns] = useState<Column[]>(() => {
    try {
      const saved = JSON.parse(localStorage.getItem("ironsmith.columns") ?? "null") as Column[] | null;
      if (Array.isArray(saved) && saved.length > 0) return saved.filter((c) => ALL_COLUMNS.some(([id]) => id === c));
    } catch {
      // A damaged saved choice falls back to the default.
    }
    return ["name", "input", "output", "start", "latency", "tokens", "cost", "feedback"];
  });
  const save = (next: Column[]) => {
    setColumns(next);
    localStorage.setItem("ironsmith.columns", JSON.stringify(next));
  };
  return [columns, save];
}
