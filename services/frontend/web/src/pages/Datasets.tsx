import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, api, call, currentWorkspace, detailOf, type Dataset } from "../api/client";
import { usePermissions } from "../api/hooks";
import { Empty, ErrorBox, Loading, ago, useTitle } from "../components/common";

export function Datasets() {
  useTitle("Datasets & experiments");
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const [search, setSearch] = useState("");
  const [creating, setCreating] = useState(false);
  const [uploading, setUploading] = useState(false);
  const datasets = useQuery({
    queryKey: ["datasets", workspaceId, search],
    queryFn: () => call(api.GET("/api/v1/datasets", { params: { query: { limit: 100, name_contains: search.trim() || undefined } } })),
  });
  return (
    <div className="page">
      <header className="page-head">
        <h1>Datasets &amp; experiments</h1>
        <div className="actions">
          <input type="search" aria-label="Search datasets" placeholder="Search datasets" value={search} onChange={(e) => setSearch(e.target.value)} />
          {can.has("datasets:create") && (
            <>
              <button onClick={() => setUploading(true)}>Upload CSV or JSONL</button>
              <button className="primary" onClick={() => setCreating(true)}>New dataset</button>
            </>
          )}
        </div>
      </header>
      {creating && <NewDataset onDone={() => setCreating(false)} />}
      {uploading && <Upload onDone={() => setUploading(false)} />}
      {datasets.isPending && <Loading what="datasets" />}
      <ErrorBox error={datasets.error} />
      {datasets.data && datasets.data.length === 0 && <Empty>No datasets{search ? " match" : " yet"}. Create one here or with the SDK's <code>create_dataset</code>.</Empty>}
      {datasets.data && datasets.data.length > 0 && (
        <div className="table-wrap">
          <table className="grid">
            <thead><tr><th>Name</th><th>Description</th><th>Examples</th><th>Experiments</th><th>Last experiment</th><th>Modified</th></tr></thead>
            <tbody>
              {datasets.data.map((d) => (
                <tr key={d.id}>
                  <td><Link to={`/o/${workspaceId}/datasets/${d.id}`}>{d.name}</Link></td>
                  <td className="muted">{d.description}</td>
                  <td className="num">{d.example_count}</td>
                  <td className="num">{d.session_count}</td>
                  <td>{ago(d.last_session_start_time)}</td>
                  <td>{ago(d.modified_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function NewDataset({ onDone }: { onDone: () => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () => call(api.POST("/api/v1/datasets", { body: { name, description: description || null } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["datasets"] });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-label="New dataset">
      <label>Name <input required value={name} onChange={(e) => setName(e.target.value)} /></label>
      <label>Description <input value={description} onChange={(e) => setDescription(e.target.value)} /></label>
      <button type="submit" className="primary" disabled={create.isPending}>Create</button>
      <button type="button" onClick={onDone}>Cancel</button>
      <ErrorBox error={create.error} />
    </form>
  );
}

type Role = "input" | "output" | "skip";

/** The columns of a CSV header line (quoted names may hold commas) or of a JSONL file's first object. */
function columnsOf(text: string, jsonl: boolean): string[] {
  const first = text.split(/\r?\n/, 1)[0] ?? "";
  if (jsonl) {
    try {
      const row = JSON.parse(first) as Record<string, unknown>;
      if ("inputs" in row) return [];
      return Object.keys(row);
    } catch {
      return [];
    }
  }
  const out: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < first.length; i++) {
    const c = first[i];
    if (c === '"') {
      if (quoted && first[i + 1] === '"') {
        cell += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === "," && !quoted) {
      out.push(cell.trim());
      cell = "";
    } else cell += c;
  }
  out.push(cell.trim());
  return out.filter(Boolean);
}

const OUTPUT_NAMES = /^(output|outputs|answer|expected|reference|label|target)/i;

/** A new dataset from a CSV or JSON Lines file: each column is an input, a reference output or left out. */
function Upload({ onDone }: { onDone: () => void }) {
  const queries = useQueryClient();
  const navigate = useNavigate();
  const { workspaceId = "" } = useParams();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [columns, setColumns] = useState<[string, Role][]>([]);
  const [structured, setStructured] = useState(false);
  const jsonl = !!file && /\.(jsonl|ndjson)$/i.test(file.name);
  const pick = async (chosen: File | null) => {
    setFile(chosen);
    if (!chosen) return;
    setName(chosen.name.replace(/\.[^.]+$/, ""));
    const head = await chosen.slice(0, 64 * 1024).text();
    const isJsonl = /\.(jsonl|ndjson)$/i.test(chosen.name);
    const found = columnsOf(head, isJsonl);
    setStructured(isJsonl && found.length === 0);
    setColumns(found.map((c, i) => [c, OUTPUT_NAMES.test(c) && i > 0 ? "output" : "input"]));
  };
  const upload = useMutation({
    mutationFn: async (): Promise<Dataset> => {
      if (!file) throw new Error("Choose a file");
      const form = new FormData();
      form.append("file", file, file.name);
      form.append("name", name);
      form.append("data_type", "kv");
      for (const [c, role] of columns) {
        if (role === "input") form.append("input_keys", c);
        if (role === "output") form.append("output_keys", c);
      }
      const headers: Record<string, string> = {};
      const workspace = currentWorkspace();
      if (workspace) headers["X-Tenant-Id"] = workspace;
      const response = await fetch("/api/v1/datasets/upload", { method: "POST", body: form, headers, credentials: "same-origin" });
      const body: unknown = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(response.status, detailOf(body, response.status), body);
      return body as Dataset;
    },
    onSuccess: (dataset) => {
      void queries.invalidateQueries({ queryKey: ["datasets"] });
      onDone();
      navigate(`/o/${workspaceId}/datasets/${dataset.id}`);
    },
  });
  return (
    <form className="card example-form" aria-label="Upload a dataset" onSubmit={(e) => { e.preventDefault(); upload.mutate(); }}>
      <label>
        File (CSV with a header line, or JSON Lines)
        <input type="file" accept=".csv,.jsonl,.ndjson,text/csv" required onChange={(e) => void pick(e.target.files?.[0] ?? null)} />
      </label>
      {file && <label>Dataset name <input required value={name} onChange={(e) => setName(e.target.value)} /></label>}
      {structured && <p className="muted small">Each line holds <code>inputs</code> and <code>outputs</code>: they are used as they are.</p>}
      {columns.length > 0 && (
        <table className="grid compact">
          <thead><tr><th>Column</th><th>Input</th><th>Reference output</th><th>Leave out</th></tr></thead>
          <tbody>
            {columns.map(([c, role], i) => (
              <tr key={c}>
                <td className="mono">{c}</td>
                {(["input", "output", "skip"] as Role[]).map((r) => (
                  <td key={r}>
                    <input
                      type="radio"
                      name={`column-${i}`}
                      aria-label={`${c}: ${r === "skip" ? "leave out" : r}`}
                      checked={role === r}
                      onChange={() => setColumns(columns.map((x, j) => (j === i ? [x[0], r] : x)))}
                    />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="button-row">
        <button type="submit" className="primary" disabled={!file || upload.isPending || (!structured && !columns.some(([, r]) => r === "input"))}>
          Upload
        </button>
        <button type="button" onClick={onDone}>Cancel</button>
        {jsonl && !structured && <span className="muted small">JSON Lines with flat keys: choose a role for each.</span>}
      </div>
      <ErrorBox error={upload.error} />
    </form>
  );
}
