import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { useHostEnabled, usePermissions } from "../api/hooks";
import { Crumbs, Empty, ErrorBox, Loading, TabBar, ago, useTitle, when } from "../components/common";

type Deployment = Schemas["Deployment"];
type Revision = Schemas["Revision"];
type Listener = Schemas["Listener"];

const FINAL = new Set(["DEPLOYED", "CREATE_FAILED", "BUILD_FAILED", "DEPLOY_FAILED", "SKIPPED", "INTERRUPTED"]);

/** A revision or deployment status as a coloured badge. */
export function DeployStatus({ status }: { status: string }) {
  const kind = status === "DEPLOYED" || status === "READY"
    ? "status-success"
    : status.includes("FAILED")
      ? "status-error"
      : FINAL.has(status) ? "" : "status-pending";
  return <span className={`badge ${kind}`} data-status={status}>{status}</span>;
}

/** `KEY=value` lines as secrets; blank lines and `#` comments skipped. */
function parseSecrets(text: string): { name: string; value: string }[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const at = l.indexOf("=");
      return at < 0 ? { name: l, value: "" } : { name: l.slice(0, at).trim(), value: l.slice(at + 1).trim() };
    });
}

/** `/o/{workspace}/host/deployments`: the workspace's Agent Server deployments. */
export function Deployments() {
  useTitle("Deployments");
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const [creating, setCreating] = useState(false);
  const deployments = useQuery({
    queryKey: ["deployments", workspaceId],
    queryFn: () => call(api.GET("/api-host/v2/deployments", { params: { query: { limit: 100 } } })),
    refetchInterval: 3000,
  });
  const rows = deployments.data?.resources ?? [];
  return (
    <div className="page">
      <header className="page-head">
        <h1>Deployments</h1>
        <div className="actions">
          <Link className="button" to={`/o/${workspaceId}/host/listeners`}>Listeners</Link>
          {can.has("deployments:create") && <button className="primary" onClick={() => setCreating(true)}>New deployment</button>}
        </div>
      </header>
      {creating && <NewDeployment onDone={() => setCreating(false)} />}
      {deployments.isPending && <Loading what="deployments" />}
      <ErrorBox error={deployments.error} />
      {deployments.data && rows.length === 0 && (
        <Empty>No deployments yet. Create one from an image here, or run <code>langgraph deploy</code> in a LangGraph project.</Empty>
      )}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="grid" aria-label="Deployments">
            <thead><tr><th>Name</th><th>Status</th><th>Source</th><th>URL</th><th>Namespace</th><th>Updated</th></tr></thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id}>
                  <td><Link to={`/o/${workspaceId}/host/deployments/${d.id}`}>{d.name}</Link></td>
                  <td><DeployStatus status={d.status} /></td>
                  <td className="mono small">{d.source_revision_config.image_uri ?? d.source}</td>
                  <td className="mono small">{d.source_config.custom_url ?? <span className="muted">not deployed yet</span>}</td>
                  <td>{d.source_config.listener_config?.k8s_namespace}</td>
                  <td>{ago(d.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function NewDeployment({ onDone }: { onDone: () => void }) {
  const { workspaceId = "" } = useParams();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [image, setImage] = useState("");
  const [listenerId, setListenerId] = useState("");
  const [namespace, setNamespace] = useState("");
  const [secrets, setSecrets] = useState("");
  const listeners = useQuery({
    queryKey: ["listeners", workspaceId],
    queryFn: () => call(api.GET("/api-host/v2/listeners", { params: { query: { limit: 100 } } })),
  });
  const chosen: Listener | undefined = listeners.data?.resources.find((l) => l.id === listenerId);
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api-host/v2/deployments", {
          body: {
            name,
            source: "external_docker",
            source_config: listenerId
              ? { listener_id: listenerId, listener_config: { k8s_namespace: namespace || chosen?.compute_config.k8s_namespaces?.[0] } }
              : {},
            source_revision_config: { image_uri: image },
            secrets: parseSecrets(secrets),
          },
        }),
      ),
    onSuccess: (created) => {
      void queries.invalidateQueries({ queryKey: ["deployments"] });
      onDone();
      navigate(`/o/${workspaceId}/host/deployments/${created.id}`);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="card example-form" onSubmit={submit} aria-label="New deployment">
      <label>Name <input required pattern="[a-z][a-z0-9\-]*" title="lowercase letters, digits and dashes, starting with a letter" value={name} onChange={(e) => setName(e.target.value)} placeholder="my-agent" /></label>
      <label>Image <input required value={image} onChange={(e) => setImage(e.target.value)} placeholder="registry.example.com/agents/my-agent@sha256:…" /></label>
      <label>
        Listener
        <select value={listenerId} onChange={(e) => setListenerId(e.target.value)} aria-label="Listener">
          <option value="">The installation's in-cluster listener</option>
          {listeners.data?.resources.filter((l) => !l.is_default).map((l) => (
            <option key={l.id} value={l.id}>{l.compute_id}</option>
          ))}
        </select>
      </label>
      {chosen && (
        <label>
          Namespace
          <select value={namespace} onChange={(e) => setNamespace(e.target.value)} aria-label="Namespace">
            {(chosen.compute_config.k8s_namespaces ?? []).map((ns) => <option key={ns} value={ns}>{ns}</option>)}
          </select>
        </label>
      )}
      <label>
        Secrets (one <code>NAME=value</code> per line: the Agent Server's environment)
        <textarea rows={3} value={secrets} onChange={(e) => setSecrets(e.target.value)} placeholder="OPENAI_API_KEY=sk-…" />
      </label>
      <div className="button-row">
        <button type="submit" className="primary" disabled={create.isPending}>Create</button>
        <button type="button" onClick={onDone}>Cancel</button>
      </div>
      <ErrorBox error={create.error} />
    </form>
  );
}

type Tab = "revisions" | "logs" | "secrets" | "settings";

/** `/o/{workspace}/host/deployments/{id}`, the link `langgraph deploy` prints. */
export function Deployment() {
  const enabled = useHostEnabled();
  if (enabled.data === false) {
    return (
      <div className="page">
        <header className="page-head"><h1>Deployment</h1></header>
        <Empty>This installation does not run the deployment control plane (an operator turns it on with <code>deployment.enabled</code>).</Empty>
      </div>
    );
  }
  if (!enabled.data) return <Loading what="the deployment" />;
  return <DeploymentPage />;
}

function DeploymentPage() {
  const { workspaceId = "", deploymentId = "" } = useParams();
  const [tab, setTab] = useState<Tab>("revisions");
  const [logsOf, setLogsOf] = useState<string | null>(null);
  const deployment = useQuery({
    queryKey: ["deployment", deploymentId],
    queryFn: () => call(api.GET("/api-host/v2/deployments/{deployment_id}", { params: { path: { deployment_id: deploymentId } } })),
    refetchInterval: 2000,
    retry: false,
  });
  const revisions = useQuery({
    queryKey: ["revisions", deploymentId],
    queryFn: () =>
      call(api.GET("/api-host/v2/deployments/{deployment_id}/revisions", { params: { path: { deployment_id: deploymentId }, query: { limit: 100 } } })),
    refetchInterval: 2000,
    enabled: deployment.isSuccess,
  });
  useTitle(deployment.data?.name ?? "Deployment");
  const d = deployment.data;
  return (
    <div className="page">
      <Crumbs items={[["Deployments", `/o/${workspaceId}/host/deployments`], [d?.name ?? deploymentId, null]]} />
      {deployment.isPending && <Loading what="the deployment" />}
      <ErrorBox error={deployment.error} />
      {d && (
        <>
          <header className="page-head">
            <h1>{d.display_name ?? d.name}</h1>
            <DeployStatus status={d.status} />
          </header>
          <dl className="facts">
            <dt>URL</dt><dd className="mono">{d.source_config.custom_url ?? <span className="muted">assigned when the first revision is deployed</span>}</dd>
            <dt>Source</dt><dd className="mono">{d.source_revision_config.image_uri ?? d.source}</dd>
            <dt>Namespace</dt><dd>{d.source_config.listener_config?.k8s_namespace}</dd>
            <dt>Tracing project</dt><dd>{d.tracer_session_id ? <Link to={`/o/${workspaceId}/projects/p/${d.tracer_session_id}`}>{d.name}</Link> : "—"}</dd>
            <dt>Created</dt><dd>{when(d.created_at)}</dd>
          </dl>
          <TabBar<Tab> tabs={[["revisions", "Revisions"], ["logs", "Logs"], ["secrets", "Secrets"], ["settings", "Settings"]]} value={tab} onChange={setTab} />
          {tab === "revisions" && (
            <Revisions
              deployment={d}
              revisions={revisions.data?.resources ?? []}
              onLogs={(id) => {
                setLogsOf(id);
                setTab("logs");
              }}
            />
          )}
          {tab === "logs" && <Logs deployment={d} revisionId={logsOf ?? d.latest_revision_id ?? null} revisions={revisions.data?.resources ?? []} onPick={setLogsOf} />}
          {tab === "secrets" && <Secrets deployment={d} />}
          {tab === "settings" && <DeleteDeployment deployment={d} />}
        </>
      )}
    </div>
  );
}

function Revisions({ deployment, revisions, onLogs }: { deployment: Deployment; revisions: Revision[]; onLogs: (id: string) => void }) {
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const queries = useQueryClient();
  const redeploy = useMutation({
    mutationFn: (revisionId: string) =>
      call(
        api.POST("/api-host/v2/deployments/{deployment_id}/revisions/{revision_id}/redeploy", {
          params: { path: { deployment_id: deployment.id, revision_id: revisionId } },
        }),
      ),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["revisions", deployment.id] }),
  });
  if (revisions.length === 0) return <Empty>No revisions yet.</Empty>;
  return (
    <>
      <ErrorBox error={redeploy.error} />
      <div className="table-wrap">
        <table className="grid" aria-label="Revisions">
          <thead><tr><th>Revision</th><th>Status</th><th>Deploys</th><th>Created</th><th></th></tr></thead>
          <tbody>
            {revisions.map((r) => (
              <tr key={r.id} data-revision={r.id}>
                <td className="mono small">
                  {r.id.slice(0, 8)}
                  {r.id === deployment.active_revision_id && <span className="badge status-success"> serving</span>}
                </td>
                <td>
                  <DeployStatus status={r.status} />
                  {r.status_message && <div className="small muted revision-message">{r.status_message.split("\n")[0]}</div>}
                </td>
                <td className="mono small">{r.source_revision_config.image_uri ?? (r.source_revision_config.source_tarball_path ? "uploaded source" : "nothing yet")}</td>
                <td>{ago(r.created_at)}</td>
                <td className="button-row">
                  <button className="link" onClick={() => onLogs(r.id)}>Logs</button>
                  {can.has("deployments:update") && (r.source_revision_config.image_uri || r.source_revision_config.source_tarball_path) && (
                    <button onClick={() => redeploy.mutate(r.id)} disabled={redeploy.isPending} aria-label={`Redeploy ${r.id.slice(0, 8)}`}>Redeploy</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Logs({ deployment, revisionId, revisions, onPick }: { deployment: Deployment; revisionId: string | null; revisions: Revision[]; onPick: (id: string) => void }) {
  const [kind, setKind] = useState<"deploy" | "build">("deploy");
  const logs = useQuery({
    queryKey: ["logs", deployment.id, revisionId, kind],
    queryFn: () =>
      call(
        api.GET("/api-host/v2/deployments/{deployment_id}/revisions/{revision_id}/logs", {
          params: { path: { deployment_id: deployment.id, revision_id: revisionId ?? "" }, query: { type: kind, order: "asc", limit: 1000 } },
        }),
      ),
    enabled: !!revisionId,
    refetchInterval: 3000,
  });
  return (
    <div className="card">
      <div className="button-row">
        <label>
          Revision
          <select value={revisionId ?? ""} onChange={(e) => onPick(e.target.value)} aria-label="Revision">
            {revisions.map((r) => <option key={r.id} value={r.id}>{r.id.slice(0, 8)} — {r.status}</option>)}
          </select>
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as "deploy" | "build")} aria-label="Log kind">
            <option value="deploy">Deploy</option>
            <option value="build">Build</option>
          </select>
        </label>
      </div>
      <ErrorBox error={logs.error} />
      {logs.data && logs.data.logs.length === 0 && <Empty>No {kind} logs for this revision.</Empty>}
      {logs.data && logs.data.logs.length > 0 && (
        <pre className="logs" tabIndex={0} aria-label="Logs">
          {logs.data.logs.map((l) => `${l.timestamp.slice(11, 19)} ${l.level.padEnd(5)} ${l.message}`).join("\n")}
        </pre>
      )}
    </div>
  );
}

function Secrets({ deployment }: { deployment: Deployment }) {
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const queries = useQueryClient();
  const [text, setText] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (secrets: { name: string; value: string }[]) =>
      call(api.PATCH("/api-host/v2/deployments/{deployment_id}", { params: { path: { deployment_id: deployment.id } }, body: { secrets } })),
    onSuccess: () => {
      setText(null);
      void queries.invalidateQueries({ queryKey: ["deployment", deployment.id] });
      void queries.invalidateQueries({ queryKey: ["revisions", deployment.id] });
    },
  });
  return (
    <div className="card">
      {deployment.secrets.length === 0 && <Empty>No secrets.</Empty>}
      {deployment.secrets.length > 0 && (
        <table className="grid" aria-label="Secrets">
          <thead><tr><th>Name</th><th>Value</th></tr></thead>
          <tbody>
            {deployment.secrets.map((s) => (
              <tr key={s.name}><td className="mono">{s.name}</td><td className="mono muted">********</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {can.has("deployments:update") && text === null && (
        <button onClick={() => setText(deployment.secrets.map((s) => `${s.name}=********`).join("\n"))}>Edit secrets</button>
      )}
      {text !== null && (
        <form
          className="example-form"
          aria-label="Edit secrets"
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate(parseSecrets(text));
          }}
        >
          <label>
            One <code>NAME=value</code> per line; <code>********</code> keeps a stored value. Saving makes a new revision.
            <textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} />
          </label>
          <div className="button-row">
            <button type="submit" className="primary" disabled={save.isPending}>Save and redeploy</button>
            <button type="button" onClick={() => setText(null)}>Cancel</button>
          </div>
          <ErrorBox error={save.error} />
        </form>
      )}
    </div>
  );
}

function DeleteDeployment({ deployment }: { deployment: Deployment }) {
  const { workspaceId = "" } = useParams();
  const can = usePermissions(workspaceId);
  const navigate = useNavigate();
  const [withProject, setWithProject] = useState(false);
  const [confirm, setConfirm] = useState("");
  const remove = useMutation({
    mutationFn: () =>
      call(
        api.DELETE("/api-host/v2/deployments/{deployment_id}", {
          params: { path: { deployment_id: deployment.id }, query: { delete_tracing_project: withProject } },
        }),
      ),
    onSuccess: () => navigate(`/o/${workspaceId}/host/deployments`),
  });
  if (!can.has("deployments:delete")) return <Empty>You may not delete deployments in this workspace.</Empty>;
  return (
    <form
      className="card example-form danger-zone"
      aria-label="Delete deployment"
      onSubmit={(e) => {
        e.preventDefault();
        remove.mutate();
      }}
    >
      <p>Deleting stops the Agent Server and removes its database. The data plane confirms the teardown, then the deployment disappears.</p>
      <label className="inline"><input type="checkbox" checked={withProject} onChange={(e) => setWithProject(e.target.checked)} /> Also delete the tracing project and its traces</label>
      <label>Type <strong>{deployment.name}</strong> to confirm <input value={confirm} onChange={(e) => setConfirm(e.target.value)} aria-label="Confirm name" /></label>
      <div className="button-row">
        <button type="submit" className="danger" disabled={confirm !== deployment.name || remove.isPending}>Delete deployment</button>
      </div>
      <ErrorBox error={remove.error} />
    </form>
  );
}
