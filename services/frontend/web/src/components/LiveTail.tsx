import { useEffect, useRef, useState } from "react";
import { currentWorkspace, type Run } from "../api/client";
import { SELECT, type RunsQuery } from "./RunsTable";

/** How many streamed runs the table keeps on top of the loaded pages. */
const KEEP = 500;
/** Streamed runs are drawn in batches at most this often. */
const FLUSH_MS = 250;

export interface LiveTail {
  runs: Run[];
  /** Runs that arrived while paused, not yet shown. */
  waiting: number;
  status: "off" | "connecting" | "live" | "reconnecting";
  notice: string | null;
}

/**
 * The live tail of a runs query: an `EventSource` on `/runs/stream` that receives each run
 * matching the query as it is written. Paused, runs wait (counted) and show on resume.
 */
export function useLiveTail(query: RunsQuery, on: boolean, paused: boolean): LiveTail {
  const [runs, setRuns] = useState<Run[]>([]);
  const [waiting, setWaiting] = useState(0);
  const [status, setStatus] = useState<LiveTail["status"]>("off");
  const [notice, setNotice] = useState<string | null>(null);
  const inbox = useRef<Run[]>([]);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    setRuns([]);
    inbox.current = [];
    setWaiting(0);
    setNotice(null);
    if (!on) {
      setStatus("off");
      return;
    }
    const params = new URLSearchParams({ session: query.projectId });
    const workspace = currentWorkspace();
    if (workspace) params.set("tenant_id", workspace);
    if (query.view === "traces") params.set("is_root", "true");
    if (query.view === "llm") params.set("run_type", "llm");
    if (query.filter.trim()) params.set("filter", query.filter.trim());
    for (const field of SELECT) params.append("select", field);
    setStatus("connecting");
    const source = new EventSource(`/api/v1/runs/stream?${params.toString()}`, { withCredentials: true });
    source.onopen = () => setStatus("live");
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? "off" : "reconnecting");
    source.addEventListener("run", (event) => {
      inbox.current.push(JSON.parse((event as MessageEvent<string>).data) as Run);
    });
    source.addEventListener("skipped", () => setNotice("Runs arrive faster than the live view shows them: some were skipped."));
    source.addEventListener("error", (event) => {
      const data = (event as MessageEvent<string>).data;
      if (data) setNotice(`The live view could not read new runs: ${(JSON.parse(data) as { detail?: string }).detail ?? data}`);
    });
    const flush = setInterval(() => {
      if (pausedRef.current) {
        setWaiting(inbox.current.length);
        return;
      }
      if (inbox.current.length === 0) return;
      const fresh = inbox.current.reverse();
      inbox.current = [];
      setWaiting(0);
      setRuns((shown) => {
        const ids = new Set(fresh.map((r) => r.id));
        return [...fresh, ...shown.filter((r) => !ids.has(r.id))].slice(0, KEEP);
      });
    }, FLUSH_MS);
    return () => {
      clearInterval(flush);
      source.close();
    };
  }, [on, query.projectId, query.view, query.filter]);

  return { runs, waiting, status: on ? status : "off", notice };
}
