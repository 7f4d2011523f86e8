import { Fragment, useState, type FormEvent } from "react";
import { useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { usePermissions } from "../api/hooks";
import { Crumbs, Empty, ErrorBox, Loading, ago, useTitle } from "../components/common";

type Listener = Schemas["Listener"];

/** The environment of a data-plane install serving `listener` (values of upstream's chart). */
function installValues(listener: Listener, workspaceId: string): string {
  const origin = location.origin;
  return [
    `HOST_BACKEND_ENDPOINT=${origin}/api-host`,
    `HOST_LANGCHAIN_API_ENDPOINT=${origin}/api/v1`,
    `HOST_WORKER_TENANT_ID=${workspaceId}`,
    listener.is_default ? "# HOST_WORKER_LISTENER_ID unset: the in-cluster default listener" : `HOST_WORKER_LISTENER_ID=${listener.id}`,
    "HOST_WORKER_LANGSMITH_API_KEY=<a service key of this workspace>",
    `WATCH_NAMESPACES=${(listener.compute_config.k8s_namespaces ?? []).join(",")}`,
    "ENABLE_LGP_DEPLOYMENT_HEALTH_CHECK=true",
  ].join("\n");
}

function Connection({ listener }: { listener: Listener }) {
  const kind = listener.connection === "CONNECTED" ? "status-success" : listener.connection === "STALE" ? "status-error" : "";
  return <span className={`badge ${kind}`} data-connection={listener.connection}>{listener.connection.replace("_", " ").toLowerCase()}</span>;
}

/** `/o/{workspace}/host/listeners`: the data planes this workspace deploys into. */
export function Listeners() {
  useTitle("Listeners");
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const queries = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const listeners = useQuery({
    queryKey: ["listeners", workspaceId],
    queryFn: () => call(api.GET("/api-host/v2/listeners", { params: { query: { limit: 100 } } })),
    refetchInterval: 5000,
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api-host/v2/listeners/{listener_id}", { params: { path: { listener_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["listeners"] }),
  });
  const rows = listeners.data?.resources ?? [];
  return (
    <div className="page">
      <Crumbs items={[["Deployments", `/o/${workspaceId}/host/deployments`], ["Listeners", null]]} />
      <header className="page-head">
        <h1>Listeners</h1>
        <div className="actions">
          {can.has("workspaces:manage") && <button className="primary" onClick={() => setCreating(true)}>New listener</button>}
        </div>
      </header>
      <p className="muted">
        A listener is one install of the data plane in one Kubernetes cluster. It polls this control plane and deploys into its namespaces; listeners of one
        cluster must watch different namespaces.
      </p>
      {creating && <NewListener onDone={() => setCreating(false)} />}
      {listeners.isPending && <Loading what="listeners" />}
      <ErrorBox error={listeners.error ?? remove.error} />
      {listeners.data && rows.length === 0 && <Empty>No listeners yet. The in-cluster listener appears when the first deployment is created.</Empty>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="grid" aria-label="Listeners">
            <thead><tr><th>Compute id</th><th>Namespaces</th><th>Connection</th><th>Last heartbeat</th><th>Version</th><th></th></tr></thead>
            <tbody>
              {rows.map((l) => (
                <Fragment key={l.id}>
                  <tr data-listener={l.compute_id}>
                    <td>{l.compute_id}{l.is_default && <span className="muted small"> (in-cluster default)</span>}</td>
                    <td>{(l.compute_config.k8s_namespaces ?? []).join(", ")}</td>
                    <td><Connection listener={l} /></td>
                    <td>{l.last_heartbeat_at ? ago(l.last_heartbeat_at) : "never"}</td>
                    <td>{l.version ?? "—"}</td>
                    <td className="button-row">
                      <button className="link" onClick={() => setOpen(open === l.id ? null : l.id)}>Install values</button>
                      {can.has("workspaces:manage") && !l.is_default && (
                        <button className="link" onClick={() => remove.mutate(l.id)} aria-label={`Delete ${l.compute_id}`}>Delete</button>
                      )}
                    </td>
                  </tr>
                  {open === l.id && (
                    <tr>
                      <td colSpan={6}>
                        <pre className="logs" tabIndex={0} aria-label={`Install values of ${l.compute_id}`}>{installValues(l, workspaceId)}</pre>
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function NewListener({ onDone }: { onDone: () => void }) {
  const queries = useQueryClient();
  const [computeId, setComputeId] = useState("");
  const [namespaces, setNamespaces] = useState("");
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api-host/v2/listeners", {
          body: {
            compute_type: "k8s",
            compute_id: computeId,
            compute_config: { k8s_namespaces: namespaces.split(/[\s,]+/).filter(Boolean) },
          },
        }),
      ),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["listeners"] });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="card example-form" onSubmit={submit} aria-label="New listener">
      <label>Compute id (the cluster's name) <input required value={computeId} onChange={(e) => setComputeId(e.target.value)} placeholder="prod-cluster-eu-01" /></label>
      <label>Namespaces (comma-separated) <input required value={namespaces} onChange={(e) => setNamespaces(e.target.value)} placeholder="agents, agents-staging" /></label>
      <div className="button-row">
        <button type="submit" className="primary" disabled={create.isPending}>Create</button>
        <button type="button" onClick={onDone}>Cancel</button>
      </div>
      <ErrorBox error={create.error} />
    </form>
  );
}
