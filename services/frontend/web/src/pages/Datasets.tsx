import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { Empty, ErrorBox, Loading, ago, useTitle } from "../components/common";

export function Datasets() {
  useTitle("Datasets & experiments");
  const { workspaceId = "" } = useParams();
  const [search, setSearch] = useState("");
  const [creating, setCreating] = useState(false);
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
          <button className="primary" onClick={() => setCreating(true)}>New dataset</button>
        </div>
      </header>
      {creating && <NewDataset onDone={() => setCreating(false)} />}
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
