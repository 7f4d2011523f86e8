import { useEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { api, call, type Schemas } from "../api/client";
import { Empty, ErrorBox, Loading, asUtc, cost, percent, seconds } from "../components/common";

type Timeseries = Schemas["RunTimeseries"];
type Point = Schemas["RunSeriesPoint"];

const RANGES: [string, string, number][] = [
  ["1h", "Last hour", 3600],
  ["1d", "Last day", 86400],
  ["7d", "Last 7 days", 7 * 86400],
  ["30d", "Last 30 days", 30 * 86400],
];
const COLOURS = ["#1f5fbf", "#d9822b", "#17703a", "#b42318", "#6b3fb5", "#11645a", "#8a5a00", "#c2418b", "#3b4450", "#5b8def"];

interface Metric {
  title: string;
  value: (p: Point) => number | null;
  format: (v: number) => string;
  tick?: (v: number) => string;
}
/** Latency axis ticks: milliseconds with a decimal while small, so close ticks stay distinct. */
function latencyTick(v: number): string {
  if (v < 0.01) return `${(v * 1000).toFixed(1)} ms`;
  return seconds(v);
}

const METRICS: Metric[] = [
  { title: "Runs", value: (p) => p.run_count, format: (v) => v.toLocaleString() },
  { title: "Error rate", value: (p) => p.error_rate, format: (v) => percent(v) },
  { title: "Latency p50", value: (p) => p.latency_p50 ?? null, format: (v) => seconds(v), tick: latencyTick },
  { title: "Latency p99", value: (p) => p.latency_p99 ?? null, format: (v) => seconds(v), tick: latencyTick },
  { title: "Tokens", value: (p) => p.total_tokens, format: (v) => v.toLocaleString() },
  { title: "Cost", value: (p) => (p.total_cost === null || p.total_cost === undefined ? null : p.total_cost), format: (v) => cost(v) },
];

/** A project's runs over time: counts, errors, latency, tokens and cost per bucket, optionally split by group. */
export function MonitorTab({ projectId }: { projectId: string }) {
  const [range, setRange] = useState("7d");
  const [groupBy, setGroupBy] = useState("");
  const [metadataKey, setMetadataKey] = useState("");
  const [appliedKey, setAppliedKey] = useState("");
  const [traces, setTraces] = useState(true);
  const span = RANGES.find(([id]) => id === range)?.[2] ?? 7 * 86400;
  // Rounded to the minute, so the query (and its cache key) is stable while the page is open.
  const end = Math.ceil(Date.now() / 60_000) * 60_000;
  const start = end - span * 1000;
  const grouping = groupBy === "metadata" && !appliedKey ? "" : groupBy;
  const data = useQuery({
    queryKey: ["timeseries", projectId, start, end, grouping, appliedKey, traces],
    queryFn: () =>
      call(
        api.POST("/api/v1/runs/timeseries", {
          body: {
            session: [projectId],
            is_root: traces,
            start_time: new Date(start).toISOString(),
            end_time: new Date(end).toISOString(),
            group_by: grouping || null,
            metadata_key: grouping === "metadata" ? appliedKey : null,
          },
        }),
      ),
  });
  return (
    <section className="monitor" aria-label="Monitoring">
      <div className="toolbar">
        <div className="segmented" role="group" aria-label="Which runs">
          <button aria-pressed={traces} className={traces ? "active" : ""} onClick={() => setTraces(true)}>Traces</button>
          <button aria-pressed={!traces} className={!traces ? "active" : ""} onClick={() => setTraces(false)}>All runs</button>
        </div>
        <select value={range} onChange={(e) => setRange(e.target.value)} aria-label="Time range">
          {RANGES.map(([id, label]) => <option key={id} value={id}>{label}</option>)}
        </select>
        <select value={groupBy} onChange={(e) => setGroupBy(e.target.value)} aria-label="Group by">
          <option value="">No grouping</option>
          <option value="name">By run name</option>
          <option value="run_type">By run type</option>
          <option value="tag">By tag</option>
          <option value="metadata">By metadata key</option>
        </select>
        {groupBy === "metadata" && (
          <form className="inline-form" onSubmit={(e) => { e.preventDefault(); setAppliedKey(metadataKey.trim()); }}>
            <input aria-label="Metadata key" placeholder="key, e.g. ls_model_name" value={metadataKey} onChange={(e) => setMetadataKey(e.target.value)} />
            <button type="submit">Group</button>
          </form>
        )}
        {data.data && <span className="muted small">one point per {strideText(data.data.stride_seconds)}</span>}
      </div>
      {data.isPending && <Loading what="the charts" />}
      <ErrorBox error={data.error} />
      {data.data && data.data.series.length === 0 && <Empty>No runs in this time range.</Empty>}
      {data.data && data.data.series.length > 0 && <Charts data={data.data} />}
      {data.data && data.data.feedback.length > 0 && <FeedbackChart data={data.data} />}
      {data.data && data.data.groups_left_out > 0 && <p className="muted small">{data.data.groups_left_out} smaller groups are not drawn.</p>}
    </section>
  );
}

function strideText(s: number): string {
  if (s % 86400 === 0) return s === 86400 ? "day" : `${s / 86400} days`;
  if (s % 3600 === 0) return s === 3600 ? "hour" : `${s / 3600} hours`;
  return s === 60 ? "minute" : `${s / 60} minutes`;
}

/** Every bucket of the range, so gaps read as gaps (no runs) rather than as lines across them. */
function useBuckets(data: Timeseries): number[] {
  return useMemo(() => {
    const stride = data.stride_seconds;
    const first = Math.floor(Date.parse(asUtc(data.start_time)) / 1000 / stride) * stride;
    const last = Date.parse(asUtc(data.end_time)) / 1000;
    const out: number[] = [];
    for (let t = first; t < last; t += stride) out.push(t);
    return out;
  }, [data]);
}

function Charts({ data }: { data: Timeseries }) {
  const xs = useBuckets(data);
  const bySeries = useMemo(
    () => data.series.map((s) => new Map(s.points.map((p) => [Math.round(Date.parse(asUtc(p.start_time)) / 1000), p]))),
    [data],
  );
  return (
    <div className="charts">
      {METRICS.map((m) => (
        <Chart
          key={m.title}
          metric={m}
          xs={xs}
          labels={data.series.map((s) => (s.group === null || s.group === undefined ? "all" : s.group || "(none)"))}
          values={bySeries.map((points) => xs.map((x) => {
            const p = points.get(x);
            if (!p) return m.title === "Runs" || m.title === "Tokens" ? 0 : null;
            return m.value(p);
          }))}
        />
      ))}
    </div>
  );
}

/** Average feedback score per bucket, one line per feedback key. */
function FeedbackChart({ data }: { data: Timeseries }) {
  const xs = useBuckets(data);
  const values = useMemo(
    () =>
      data.feedback.map((f) => {
        const byStart = new Map(f.points.map((p) => [Math.round(Date.parse(asUtc(p.start_time)) / 1000), p.avg]));
        return xs.map((x) => byStart.get(x) ?? null);
      }),
    [data, xs],
  );
  const labels = useMemo(() => data.feedback.map((f) => f.key), [data]);
  return (
    <div className="charts">
      <Chart metric={FEEDBACK_METRIC} xs={xs} labels={labels} values={values} legend />
    </div>
  );
}

const FEEDBACK_METRIC: Metric = { title: "Feedback score (average)", value: () => null, format: (v) => v.toFixed(2) };

function Chart({ metric, xs, labels, values, legend = false }: { metric: Metric; xs: number[]; labels: string[]; values: (number | null)[][]; legend?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const options: uPlot.Options = {
      width: el.clientWidth,
      height: 200,
      // The legend names the groups (and shows values under the cursor) once series are split.
      legend: { show: legend || labels.length > 1 || labels[0] !== "all" },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ stroke: "#566070" }, { stroke: "#566070", size: 64, values: (_u, ticks) => ticks.map((t) => (metric.tick ?? metric.format)(t)) }],
      series: [
        {},
        ...labels.map((label, i) => ({
          label,
          stroke: COLOURS[i % COLOURS.length],
          width: 2,
          spanGaps: false,
          points: { show: xs.length < 60 },
          value: (_u: uPlot, v: number | null) => (v === null ? "–" : metric.format(v)),
        })),
      ],
    };
    const plot = new uPlot(options, [xs, ...values] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 200 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [metric, xs, labels, values, legend]);
  const total = values.flat().filter((v): v is number => v !== null);
  return (
    <figure className="chart card">
      <figcaption>
        <strong>{metric.title}</strong>
        {total.length > 0 && metric.title !== "Runs" && metric.title !== "Tokens" && (
          <span className="muted small"> · peak {metric.format(Math.max(...total))}</span>
        )}
      </figcaption>
      <div ref={box} role="img" aria-label={`${metric.title} over time`} />
    </figure>
  );
}
