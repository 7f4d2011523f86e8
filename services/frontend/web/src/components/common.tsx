import { useEffect, type ReactNode } from "react";
import { isRouteErrorResponse, Link, useRouteError } from "react-router";
import { JsonView, allExpanded, collapseAllNested, defaultStyles } from "react-json-view-lite";
import "react-json-view-lite/dist/index.css";
import { ApiError } from "../api/client";

export function useTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · Ironsmith` : "Ironsmith";
  }, [title]);
}

export function Loading({ what }: { what?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading{what ? ` ${what}` : ""}…
    </div>
  );
}

/** A failed load or action, with the server's `detail` as written. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const status = error instanceof ApiError ? error.status : undefined;
  const text = error instanceof Error ? error.message : String(error);
  return (
    <div className="error-box" role="alert">
      <strong>{title ?? (status === 404 ? "Not found" : status === 403 ? "Not allowed" : "Something went wrong")}</strong>
      <p>{text}</p>
    </div>
  );
}

export function RouteError() {
  const error = useRouteError();
  const text = isRouteErrorResponse(error) ? `${error.status} ${error.statusText}` : error instanceof Error ? error.message : "Unknown error";
  return (
    <main className="centered">
      <h1>This page failed to load</h1>
      <p>{text}</p>
      <p>
        <a href="/">Back to the start</a>
      </p>
    </main>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

// The viewer's layout with our colours (its defaults miss WCAG contrast on a grey ground).
const jsonStyle = {
  ...defaultStyles,
  container: `${defaultStyles.container} jv-container`,
  stringValue: "jv-string",
  numberValue: "jv-number",
  booleanValue: "jv-bool",
  nullValue: "jv-null",
  undefinedValue: "jv-null",
  otherValue: "jv-other",
  label: `${defaultStyles.label} jv-label`,
  punctuation: `${defaultStyles.punctuation} jv-punctuation`,
};

export function Json({ value, expanded = false, label }: { value: unknown; expanded?: boolean; label?: string }) {
  if (value === null || value === undefined) return <span className="muted">null</span>;
  if (typeof value !== "object") return <pre className="json-scalar">{String(value)}</pre>;
  return (
    <div className="json" aria-label={label}>
      <JsonView data={value as object} shouldExpandNode={expanded ? allExpanded : collapseAllNested} style={jsonStyle} />
    </div>
  );
}

export function StatusBadge({ status, error }: { status?: string | null; error?: string | null }) {
  const s = error ? "error" : (status ?? "pending");
  return <span className={`badge status-${s}`}>{s}</span>;
}

export function RunTypeBadge({ type }: { type: string }) {
  return <span className={`badge type-${type}`}>{type}</span>;
}

export function TabBar<T extends string>({ tabs, value, onChange }: { tabs: [T, string][]; value: T; onChange: (t: T) => void }) {
  return (
    <div className="tabs" role="tablist">
      {tabs.map(([id, label]) => (
        <button key={id} role="tab" aria-selected={value === id} className={value === id ? "tab active" : "tab"} onClick={() => onChange(id)}>
          {label}
        </button>
      ))}
    </div>
  );
}

export function Crumbs({ items }: { items: [string, string | null][] }) {
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      {items.map(([label, to], i) => (
        <span key={i}>
          {i > 0 && <span className="sep"> / </span>}
          {to ? <Link to={to}>{label}</Link> : <span aria-current="page">{label}</span>}
        </span>
      ))}
    </nav>
  );
}

// Formatting.
export function seconds(value?: number | null): string {
  if (value === null || value === undefined) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 60) return `${value.toFixed(2)} s`;
  return `${Math.floor(value / 60)} m ${Math.round(value % 60)} s`;
}

export function latencyOf(start?: string | null, end?: string | null): number | null {
  if (!start || !end) return null;
  return (Date.parse(asUtc(end)) - Date.parse(asUtc(start))) / 1000;
}

/** The API writes naive UTC timestamps (`2026-12-01T10:00:00.123456`): read them as UTC. */
export function asUtc(ts?: string | null): string {
  if (!ts) return "";
  return /[zZ]|[+-]\d\d:?\d\d$/.test(ts) ? ts : `${ts}Z`;
}

export function when(ts?: string | null): string {
  if (!ts) return "–";
  const date = new Date(asUtc(ts));
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** A compact time for tables: the date without the year when it is this year. */
export function whenShort(ts?: string | null): string {
  if (!ts) return "–";
  const date = new Date(asUtc(ts));
  const sameYear = date.getFullYear() === new Date().getFullYear();
  return date.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    ...(sameYear ? {} : { year: "numeric" }),
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function ago(ts?: string | null): string {
  if (!ts) return "never";
  const diff = (Date.now() - Date.parse(asUtc(ts))) / 1000;
  if (diff < 60) return "just now";
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.floor(diff / 3600)} h ago`;
  return `${Math.floor(diff / 86400)} d ago`;
}

export function tokens(value?: number | null): string {
  if (value === null || value === undefined) return "–";
  return value.toLocaleString();
}

export function cost(value?: number | string | null): string {
  if (value === null || value === undefined || value === "") return "–";
  const n = typeof value === "string" ? Number(value) : value;
  if (!Number.isFinite(n)) return "–";
  if (n === 0) return "$0";
  return n < 0.01 ? `$${n.toFixed(5)}` : `$${n.toFixed(3)}`;
}

export function percent(value?: number | null): string {
  if (value === null || value === undefined) return "–";
  return `${(value * 100).toFixed(1)}%`;
}

/** A one-line preview of a payload, as the runs table shows it. */
export function preview(value: unknown, max = 120): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value.slice(0, max);
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const only = entries[0]?.[1];
      if (typeof only === "string") return only.slice(0, max);
    }
    // Chat input: the last message's content.
    const messages = (value as { messages?: unknown }).messages;
    if (Array.isArray(messages) && messages.length > 0) {
      const last = messages.flat().at(-1) as { content?: unknown; kwargs?: { content?: unknown } } | undefined;
      const content = last?.content ?? last?.kwargs?.content;
      if (typeof content === "string") return content.slice(0, max);
    }
  }
  return JSON.stringify(value).slice(0, max);
}
