import { useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Run } from "../api/client";
import { RunTypeBadge, StatusBadge, asUtc, seconds, tokens } from "./common";

export interface TreeRow {
  run: Run;
  depth: number;
  hasChildren: boolean;
}

/** Orders a trace's runs as a tree (by dotted order), depth-first, skipping collapsed subtrees. */
export function flatten(runs: Run[], collapsed: Set<string>): TreeRow[] {
  const sorted = [...runs].sort((a, b) => (a.dotted_order < b.dotted_order ? -1 : a.dotted_order > b.dotted_order ? 1 : 0));
  const parents = new Set(runs.map((r) => r.parent_run_id).filter((p): p is string => !!p));
  const ids = new Set(runs.map((r) => r.id));
  const depthOf = new Map<string, number>();
  const rows: TreeRow[] = [];
  let hiddenUnder: string | null = null;
  let hiddenDepth = 0;
  for (const run of sorted) {
    const parent = run.parent_run_id && ids.has(run.parent_run_id) ? run.parent_run_id : null;
    const depth = parent ? (depthOf.get(parent) ?? 0) + 1 : 0;
    depthOf.set(run.id, depth);
    if (hiddenUnder !== null) {
      if (depth > hiddenDepth) continue;
      hiddenUnder = null;
    }
    rows.push({ run, depth, hasChildren: parents.has(run.id) });
    if (collapsed.has(run.id)) {
      hiddenUnder = run.id;
      hiddenDepth = depth;
    }
  }
  return rows;
}

const ROW = 30;

/** The run tree beside a waterfall of each run's start and duration within the trace. */
export function TraceTree({ runs, selected, onSelect }: { runs: Run[]; selected: string; onSelect: (run: Run) => void }) {
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const rows = useMemo(() => flatten(runs, collapsed), [runs, collapsed]);
  const [start, span] = useMemo(() => {
    let min = Infinity;
    let max = -Infinity;
    for (const r of runs) {
      const s = Date.parse(asUtc(r.start_time));
      const e = r.end_time ? Date.parse(asUtc(r.end_time)) : s;
      if (s < min) min = s;
      if (e > max) max = e;
    }
    return [min, Math.max(max - min, 1)];
  }, [runs]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 20 });
  const toggle = (id: string) => {
    const next = new Set(collapsed);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setCollapsed(next);
  };
  const move = (delta: number) => {
    const index = rows.findIndex((r) => r.run.id === selected);
    const next = rows[Math.min(Math.max(index + delta, 0), rows.length - 1)];
    if (next) {
      onSelect(next.run);
      virtual.scrollToIndex(rows.indexOf(next));
    }
  };
  return (
    <div
      className="trace-tree"
      role="tree"
      aria-label="Runs of the trace"
      tabIndex={0}
      onKeyDown={(e) => {
        if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
        if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
      }}
    >
      <div className="tree-head" aria-hidden="true">
        <span>Run</span>
        <span>Timeline ({seconds(span / 1000)})</span>
      </div>
      <div className="tree-body" role="none" ref={scroller}>
        <div role="none" style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {virtual.getVirtualItems().map((item) => {
            const row = rows[item.index];
            if (!row) return null;
            const { run, depth, hasChildren } = row;
            const s = Date.parse(asUtc(run.start_time));
            const e = run.end_time ? Date.parse(asUtc(run.end_time)) : s;
            const left = ((s - start) / span) * 100;
            const width = Math.max(((e - s) / span) * 100, 0.4);
            const isSelected = run.id === selected;
            return (
              <div
                key={run.id}
                role="treeitem"
                aria-level={depth + 1}
                aria-selected={isSelected}
                aria-expanded={hasChildren ? !collapsed.has(run.id) : undefined}
                className={`tree-row ${isSelected ? "selected" : ""}`}
                style={{ transform: `translateY(${item.start}px)`, height: ROW }}
                onClick={() => onSelect(run)}
              >
                <span className="tree-label" style={{ paddingLeft: depth * 14 }}>
                  {hasChildren ? (
                    <button
                      className="twisty"
                      aria-label={collapsed.has(run.id) ? `Expand ${run.name}` : `Collapse ${run.name}`}
                      onClick={(ev) => { ev.stopPropagation(); toggle(run.id); }}
                    >
                      {collapsed.has(run.id) ? "▸" : "▾"}
                    </button>
                  ) : (
                    <span className="twisty" />
                  )}
                  <RunTypeBadge type={run.run_type} />
                  <span className="tree-name" title={run.name}>{run.name}</span>
                  <StatusBadge status={run.status} error={run.error} />
                  <span className="muted small num">{run.end_time ? seconds((e - s) / 1000) : "running"}</span>
                  {run.total_tokens ? <span className="muted small num">{tokens(run.total_tokens)} tok</span> : null}
                </span>
                <span className="waterfall" aria-hidden="true">
                  <span className={`bar type-${run.run_type} ${run.error ? "bar-error" : ""}`} style={{ left: `${left}%`, width: `${width}%` }} />
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
