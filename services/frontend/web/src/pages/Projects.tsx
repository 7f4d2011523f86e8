import { useMemo, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { usePermissions } from "../api/hooks";
import { api, call, type Project } from "../api/client";
import { ErrorBox, Empty, Loading, ago, cost, percent, seconds, tokens, useTitle } from "../components/common";
import { FeedbackChips } from "../components/Feedback";

type SortKey = "name" | "run_count" | "error_rate" | "latency_p50" | "latency_p99" | "total_tokens" | "total_cost" | "last_run_start_time";
const COLUMNS: [SortKey, string][] = [
  ["name", "Name"],
  ["run_count", "Runs"],
  ["error_rate", "Error rate"],
  ["latency_p50", "P50 latency"],
  ["latency_p99", "P99 latency"],
  ["total_tokens", "Tokens"],
  ["total_cost", "Cost"],
  ["last_run_start_time", "Last run"],
];

function sortValue(p: Project, key: SortKey): string | number {
  const v = (p as Record<string, unknown>)[key];
  if (typeof v === "number") return v;
  if (typeof v === "string") return key === "total_cost" ? Number(v) : v;
  return key === "name" ? "" : -Infinity;
}

export function Projects() {
  useTitle("Tracing projects");
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<[SortKey, boolean]>(["last_run_start_time", true]);
  const [creating, setCreating] = useState(false);
  const projects = useQuery({
    queryKey: ["projects", workspaceId],
    queryFn: () => call(api.GET("/api/v1/sessions", { params: { query: { reference_free: true, include_stats: true, limit: 100 } } })),
  });
  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const list = (projects.data ?? []).filter((p) => !needle || p.name.toLowerCase().includes(needle));
    const [key, desc] = sort;
    return [...list].sort((a, b) => {
      const x = sortValue(a, key);
      const y = sortValue(b, key);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return desc ? -order : order;
    });
  }, [projects.data, search, sort]);

  return (
    <div className="page">
      <header className="page-head">
        <h1>Tracing projects</h1>
        <div className="actions">
          <input type="search" placeholder="Search projects" aria-label="Search projects" value={search} onChange={(e) => setSearch(e.target.value)} />
          {can.has("projects:create") && <button className="primary" onClick={() => setCreating(true)}>New project</button>}
        </div>
      </header>
      {creating && <NewProject onDone={() => setCreating(false)} />}
      {projects.isPending && <Loading what="projects" />}
      <ErrorBox error={projects.error} />
      {projects.data && projects.data.length === 0 && (
        <Empty>
          No projects yet. Send a trace with the SDK (<code>LANGSMITH_TRACING=true</code>) and its project appears here.
        </Empty>
      )}
      {shown.length > 0 && (
        <div className="table-wrap">
          <table className="grid">
            <thead>
              <tr>
                {COLUMNS.map(([key, label]) => (
                  <th key={key} aria-sort={sort[0] === key ? (sort[1] ? "descending" : "ascending") : "none"}>
                    <button className="sort" onClick={() => setSort([key, sort[0] === key ? !sort[1] : key !== "name"])}>
                      {label} {sort[0] === key ? (sort[1] ? "↓" : "↑") : ""}
                    </button>
                  </th>
                ))}
                <th>Feedback</th>
                <th><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {shown.map((p) => (
                <ProjectRow key={p.id} project={p} workspaceId={workspaceId} canDelete={can.has("projects:delete")} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function ProjectRow({ project: p, workspaceId, canDelete }: { project: Project; workspaceId: string; canDelete: boolean }) {
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/sessions/{id}", { params: { path: { id: p.id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["projects"] }),
  });
  return (
    <tr>
      <td>
        <Link to={`/o/${workspaceId}/projects/p/${p.id}`}>{p.name}</Link>
        {remove.error ? <ErrorBox error={remove.error} /> : null}
      </td>
      <td className="num">{tokens(p.run_count)}</td>
      <td className={`num ${(p.error_rate ?? 0) > 0 ? "bad" : ""}`}>{percent(p.error_rate)}</td>
      <td className="num">{seconds(p.latency_p50)}</td>
      <td className="num">{seconds(p.latency_p99)}</td>
      <td className="num">{tokens(p.total_tokens)}</td>
      <td className="num">{cost(p.total_cost)}</td>
      <td>{ago(p.last_run_start_time)}</td>
      <td><FeedbackChips stats={p.feedback_stats} /></td>
      <td>
        {canDelete && <button
          className="link danger"
          aria-label={`Delete project ${p.name}`}
          onClick={() => {
            if (confirm(`Delete the project “${p.name}” and all its runs?`)) remove.mutate();
          }}
        >
          Delete
        </button>}
      </td>
    </tr>
  );
}

function NewProject({ onDone }: { onDone: () => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () => call(api.POST("/api/v1/sessions", { body: { name, description: description || null } })),
    onSuccess: () => {
      queries.invalidateQueries({ queryKey: ["projects"] });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-label="New project">
      <label>
        Name <input required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Description <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <button className="primary" type="submit" disabled={create.isPending}>Create</button>
      <button type="button" onClick={onDone}>Cancel</button>
      <ErrorBox error={create.error} />
    </form>
  );
}
