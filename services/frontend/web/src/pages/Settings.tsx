import { useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { useMe } from "../api/hooks";
import { ErrorBox, Json, Loading, TabBar, ago, useTitle, when } from "../components/common";

type Tab = "keys" | "members" | "workspaces" | "feedback" | "prices" | "usage" | "audit";
const TABS: [Tab, string][] = [
  ["keys", "API keys"],
  ["members", "Members"],
  ["workspaces", "Workspaces"],
  ["feedback", "Feedback configurations"],
  ["prices", "Model prices"],
  ["usage", "Usage & limits"],
  ["audit", "Audit log"],
];

export function Settings() {
  useTitle("Settings");
  const [search, setSearch] = useSearchParams();
  const tab = (TABS.find(([t]) => t === search.get("tab"))?.[0] ?? "keys") as Tab;
  return (
    <div className="page">
      <header className="page-head"><h1>Settings</h1></header>
      <TabBar<Tab> tabs={TABS} value={tab} onChange={(t) => setSearch({ tab: t })} />
      {tab === "keys" && <ApiKeys />}
      {tab === "members" && <Members />}
      {tab === "workspaces" && <Workspaces />}
      {tab === "feedback" && <FeedbackConfigs />}
      {tab === "prices" && <ModelPrices />}
      {tab === "usage" && <Usage />}
      {tab === "audit" && <AuditLog />}
    </div>
  );
}

function ApiKeys() {
  const queries = useQueryClient();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => call(api.GET("/api/v1/api-key")) });
  const [description, setDescription] = useState("");
  const [created, setCreated] = useState<Schemas["KeyView"] | null>(null);
  const create = useMutation({
    mutationFn: () => call(api.POST("/api/v1/api-key", { body: { description } })),
    onSuccess: (key) => {
      setCreated(key);
      setDescription("");
      void queries.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/api-key/{id}", { params: { path: { id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section aria-label="API keys">
      <p className="muted">
        Service keys act for this workspace. Set one as <code>LANGSMITH_API_KEY</code> (with <code>LANGSMITH_ENDPOINT</code> set to this
        site) and the SDKs send their traces here.
      </p>
      <form className="card inline-form" onSubmit={submit} aria-label="New API key">
        <label>Description <input required value={description} onChange={(e) => setDescription(e.target.value)} placeholder="CI tracing" /></label>
        <button type="submit" className="primary" disabled={create.isPending}>Create API key</button>
        <ErrorBox error={create.error} />
      </form>
      {created?.key && (
        <div className="card secret" role="status">
          <strong>Copy this key now: it is not shown again.</strong>
          <div className="secret-row">
            <code className="mono" data-testid="new-api-key">{created.key}</code>
            <button onClick={() => void navigator.clipboard?.writeText(created.key ?? "")}>Copy</button>
            <button className="link" onClick={() => setCreated(null)}>Hide</button>
          </div>
        </div>
      )}
      {keys.isPending && <Loading what="API keys" />}
      <ErrorBox error={keys.error ?? revoke.error} />
      {keys.data && (
        <table className="grid">
          <thead><tr><th>Description</th><th>Key</th><th>Created</th><th>Last used</th><th>Expires</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {keys.data.length === 0 && <tr><td colSpan={6} className="muted">No API keys yet.</td></tr>}
            {keys.data.map((k) => (
              <tr key={k.id}>
                <td>{k.description}</td>
                <td className="mono">{k.short_key}</td>
                <td>{when(k.created_at)}</td>
                <td>{ago(k.last_used_at)}</td>
                <td>{k.expires_at ? when(k.expires_at) : "never"}</td>
                <td>
                  <button
                    className="danger"
                    aria-label={`Revoke ${k.description || k.short_key}`}
                    disabled={revoke.isPending}
                    onClick={() => {
                      if (confirm(`Revoke the key "${k.description || k.short_key}"? Clients using it are refused from now on.`)) revoke.mutate(k.id);
                    }}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Members() {
  const queries = useQueryClient();
  const members = useQuery({ queryKey: ["members"], queryFn: () => call(api.GET("/api/v1/orgs/current/members")) });
  const pending = useQuery({ queryKey: ["invites"], queryFn: () => call(api.GET("/api/v1/orgs/current/members/pending")) });
  const roles = useQuery({ queryKey: ["roles"], queryFn: () => call(api.GET("/api/v1/orgs/current/roles")) });
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("");
  const invite = useMutation({
    mutationFn: () => call(api.POST("/api/v1/orgs/current/members", { body: { email, role_id: role || null } })),
    onSuccess: () => {
      setEmail("");
      void queries.invalidateQueries({ queryKey: ["invites"] });
    },
  });
  const changeRole = useMutation({
    mutationFn: ({ id, role }: { id: string; role: string }) =>
      call(api.PATCH("/api/v1/orgs/current/members/{identity_id}", { params: { path: { identity_id: id } }, body: { role_id: role } })),
    onSettled: () => void queries.invalidateQueries({ queryKey: ["members"] }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/orgs/current/members/{identity_id}", { params: { path: { identity_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["members"] }),
  });
  const orgRoles = (roles.data ?? []).filter((r) => r.access_scope === "organization");
  const revokeInvite = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/orgs/current/members/pending/{invite_id}", { params: { path: { invite_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["invites"] }),
  });
  const me = useMe();
  const myUserId = me.data?.identity.type === "user" ? me.data.identity.user_id : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    invite.mutate();
  };
  return (
    <section aria-label="Members">
      <form className="card inline-form" onSubmit={submit} aria-label="Invite a member">
        <label>Email <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} /></label>
        <label>
          Role{" "}
          <select value={role} onChange={(e) => setRole(e.target.value)} aria-label="Role">
            <option value="">Default</option>
            {(roles.data ?? []).filter((r) => r.access_scope === "organization").map((r) => <option key={r.id} value={r.id}>{r.display_name}</option>)}
          </select>
        </label>
        <button type="submit" className="primary" disabled={invite.isPending}>Invite</button>
        <ErrorBox error={invite.error} />
      </form>
      {members.isPending && <Loading what="members" />}
      <ErrorBox error={members.error} />
      <ErrorBox error={changeRole.error ?? remove.error ?? revokeInvite.error} />
      {members.data && (
        <table className="grid">
          <thead><tr><th>Name</th><th>Email</th><th>Role</th><th>Joined</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {members.data.map((m) => (
              <tr key={m.id}>
                <td>{m.full_name}</td>
                <td>{m.email}</td>
                <td>
                  <select
                    aria-label={`Role of ${m.email}`}
                    value={m.role_id ?? ""}
                    disabled={changeRole.isPending || m.user_id === myUserId}
                    onChange={(e) => changeRole.mutate({ id: m.id, role: e.target.value })}
                  >
                    {!m.role_id && <option value="">{m.role_name}</option>}
                    {orgRoles.map((r) => <option key={r.id} value={r.id}>{r.display_name}</option>)}
                  </select>
                </td>
                <td>{when(m.created_at)}</td>
                <td>
                  {m.user_id !== myUserId && <button
                    className="danger"
                    aria-label={`Remove ${m.email}`}
                    disabled={remove.isPending}
                    onClick={() => {
                      if (confirm(`Remove ${m.email} from the organisation? Their personal tokens are revoked.`)) remove.mutate(m.id);
                    }}
                  >
                    Remove
                  </button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pending.data && pending.data.length > 0 && (
        <>
          <h2>Pending invitations</h2>
          <table className="grid compact">
            <thead><tr><th>Email</th><th>Role</th><th>Expires</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {pending.data.map((i) => (
                <tr key={i.id}>
                  <td>{i.email}</td>
                  <td>{i.role_name}</td>
                  <td>{when(i.expires_at)}</td>
                  <td><button className="danger" aria-label={`Revoke the invitation of ${i.email}`} onClick={() => revokeInvite.mutate(i.id)}>Revoke</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <WorkspaceMembers roles={(roles.data ?? []).filter((r) => r.access_scope === "workspace")} myUserId={myUserId} />
      {roles.data && (
        <>
          <h2>Roles</h2>
          <table className="grid compact">
            <thead><tr><th>Role</th><th>Scope</th><th>Description</th><th>Permissions</th></tr></thead>
            <tbody>
              {roles.data.map((r) => (
                <tr key={r.id}><td>{r.display_name}</td><td>{r.access_scope}</td><td>{r.description}</td><td className="num">{r.permissions.length}</td></tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/** The current workspace's members and their workspace roles. */
function WorkspaceMembers({ roles, myUserId }: { roles: Schemas["RoleView"][]; myUserId: string | null }) {
  const queries = useQueryClient();
  const members = useQuery({ queryKey: ["workspace-members"], queryFn: () => call(api.GET("/api/v1/workspaces/current/members")) });
  const changeRole = useMutation({
    mutationFn: ({ id, role }: { id: string; role: string }) =>
      call(api.PATCH("/api/v1/workspaces/current/members/{identity_id}", { params: { path: { identity_id: id } }, body: { role_id: role } })),
    onSettled: () => void queries.invalidateQueries({ queryKey: ["workspace-members"] }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/workspaces/current/members/{identity_id}", { params: { path: { identity_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["workspace-members"] }),
  });
  return (
    <>
      <h2>This workspace's members</h2>
      <ErrorBox error={members.error ?? changeRole.error ?? remove.error} />
      {members.data && (
        <table className="grid compact">
          <thead><tr><th>Email</th><th>Workspace role</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {members.data.map((m) => (
              <tr key={m.id}>
                <td>{m.email}</td>
                <td>
                  <select
                    aria-label={`Workspace role of ${m.email}`}
                    value={m.role_id ?? ""}
                    disabled={changeRole.isPending || m.user_id === myUserId}
                    onChange={(e) => changeRole.mutate({ id: m.id, role: e.target.value })}
                  >
                    {!m.role_id && <option value="">{m.role_name}</option>}
                    {roles.map((r) => <option key={r.id} value={r.id}>{r.display_name}</option>)}
                  </select>
                </td>
                <td>
                  {m.user_id !== myUserId && (
                    <button className="danger" aria-label={`Remove from workspace ${m.email}`} onClick={() => remove.mutate(m.id)} disabled={remove.isPending}>
                      Remove from workspace
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Workspaces() {
  const queries = useQueryClient();
  const list = useQuery({ queryKey: ["workspaces"], queryFn: () => call(api.GET("/api/v1/workspaces")) });
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => call(api.POST("/api/v1/workspaces", { body: { display_name: name } })),
    onSuccess: () => {
      setName("");
      void queries.invalidateQueries({ queryKey: ["workspaces"] });
      void queries.invalidateQueries({ queryKey: ["me"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section aria-label="Workspaces">
      <form className="card inline-form" onSubmit={submit} aria-label="New workspace">
        <label>Name <input required value={name} onChange={(e) => setName(e.target.value)} /></label>
        <button type="submit" className="primary" disabled={create.isPending}>Create workspace</button>
        <ErrorBox error={create.error} />
      </form>
      {list.isPending && <Loading what="workspaces" />}
      <ErrorBox error={list.error} />
      {list.data && (
        <table className="grid">
          <thead><tr><th>Name</th><th>Handle</th><th>Your role</th><th>Created</th><th>Id</th></tr></thead>
          <tbody>
            {list.data.map((w) => (
              <tr key={w.id}><td>{w.display_name}</td><td>{w.tenant_handle ?? ""}</td><td>{w.role_name}</td><td>{when(w.created_at)}</td><td className="mono small">{w.id}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function describeConfig(c: Schemas["FeedbackConfig"]): string {
  if (c.type === "continuous") return `continuous ${c.min ?? "−∞"} … ${c.max ?? "∞"}`;
  if (c.type === "categorical") return `categorical: ${c.categories.map((x) => x.label ?? String(x.value)).join(", ")}`;
  return "freeform";
}

function FeedbackConfigs() {
  const queries = useQueryClient();
  const list = useQuery({ queryKey: ["feedback-configs"], queryFn: () => call(api.GET("/api/v1/feedback-configs", { params: { query: { limit: 100 } } })) });
  const [key, setKey] = useState("");
  const [kind, setKind] = useState<"continuous" | "categorical" | "freeform">("continuous");
  const [min, setMin] = useState("0");
  const [max, setMax] = useState("1");
  const [categories, setCategories] = useState("");
  const create = useMutation({
    mutationFn: () => {
      const feedback_config: Schemas["FeedbackConfig"] =
        kind === "continuous"
          ? { type: "continuous", min: min === "" ? null : Number(min), max: max === "" ? null : Number(max) }
          : kind === "categorical"
            ? { type: "categorical", categories: categories.split(",").map((label, value) => ({ label: label.trim(), value })) }
            : { type: "freeform" };
      return call(api.POST("/api/v1/feedback-configs", { body: { feedback_key: key, feedback_config } }));
    },
    onSuccess: () => {
      setKey("");
      void queries.invalidateQueries({ queryKey: ["feedback-configs"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section aria-label="Feedback configurations">
      <p className="muted">A feedback key's configuration says which scores or values it takes; feedback outside it is refused.</p>
      <form className="card inline-form" onSubmit={submit} aria-label="New feedback configuration">
        <label>Key <input required value={key} onChange={(e) => setKey(e.target.value)} /></label>
        <label>
          Type{" "}
          <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)} aria-label="Type">
            <option value="continuous">Continuous</option>
            <option value="categorical">Categorical</option>
            <option value="freeform">Free-form</option>
          </select>
        </label>
        {kind === "continuous" && (
          <>
            <label>Min <input type="number" step="any" value={min} onChange={(e) => setMin(e.target.value)} /></label>
            <label>Max <input type="number" step="any" value={max} onChange={(e) => setMax(e.target.value)} /></label>
          </>
        )}
        {kind === "categorical" && <label>Categories <input required value={categories} onChange={(e) => setCategories(e.target.value)} placeholder="bad, ok, good" /></label>}
        <button type="submit" className="primary" disabled={create.isPending}>Save</button>
        <ErrorBox error={create.error} />
      </form>
      {list.isPending && <Loading what="feedback configurations" />}
      <ErrorBox error={list.error} />
      {list.data && (
        <table className="grid">
          <thead><tr><th>Key</th><th>Configuration</th><th>Enforced</th><th>Modified</th></tr></thead>
          <tbody>
            {list.data.length === 0 && <tr><td colSpan={4} className="muted">No feedback configurations yet.</td></tr>}
            {list.data.map((c) => (
              <tr key={c.id}><td>{c.feedback_key}</td><td>{describeConfig(c.feedback_config)}</td><td>{c.is_enforced ? "yes" : "no"}</td><td>{ago(c.modified_at)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ModelPrices() {
  const queries = useQueryClient();
  const list = useQuery({ queryKey: ["model-prices"], queryFn: () => call(api.GET("/api/v1/model-price-map")) });
  const [name, setName] = useState("");
  const [pattern, setPattern] = useState("");
  const [prompt, setPrompt] = useState("");
  const [completion, setCompletion] = useState("");
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/model-price-map", {
          body: { name, match_pattern: pattern, prompt_cost_per_million: Number(prompt), completion_cost_per_million: Number(completion) },
        }),
      ),
    onSuccess: () => {
      setName("");
      setPattern("");
      void queries.invalidateQueries({ queryKey: ["model-prices"] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/model-price-map/{id}", { params: { path: { id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["model-prices"] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section aria-label="Model prices">
      <p className="muted">Token prices give LLM runs their cost. The workspace's own entries win over the built-in ones.</p>
      <form className="card inline-form" onSubmit={submit} aria-label="New model price">
        <label>Name <input required value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label>Model pattern <input required value={pattern} onChange={(e) => setPattern(e.target.value)} placeholder="^gpt-4o" /></label>
        <label>Prompt $/1M <input required type="number" step="any" min="0" value={prompt} onChange={(e) => setPrompt(e.target.value)} /></label>
        <label>Completion $/1M <input required type="number" step="any" min="0" value={completion} onChange={(e) => setCompletion(e.target.value)} /></label>
        <button type="submit" className="primary" disabled={create.isPending}>Add</button>
        <ErrorBox error={create.error ?? remove.error} />
      </form>
      {list.isPending && <Loading what="model prices" />}
      <ErrorBox error={list.error} />
      {list.data && (
        <div className="table-wrap">
          <table className="grid compact">
            <thead><tr><th>Name</th><th>Pattern</th><th>Provider</th><th>Prompt $/1M</th><th>Completion $/1M</th><th>Scope</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {list.data.map((p) => (
                <tr key={p.id}>
                  <td>{p.name}</td>
                  <td className="mono">{p.match_pattern}</td>
                  <td>{p.provider ?? ""}</td>
                  <td className="num">{p.prompt_cost_per_million}</td>
                  <td className="num">{p.completion_cost_per_million}</td>
                  <td>{p.tenant_id ? "workspace" : "built-in"}</td>
                  <td>{p.tenant_id && <button className="danger" aria-label={`Delete ${p.name}`} onClick={() => remove.mutate(p.id)}>Delete</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Usage() {
  const limits = useQuery({ queryKey: ["limits"], queryFn: () => call(api.GET("/api/v1/orgs/current/limits")) });
  if (limits.isPending) return <Loading what="limits" />;
  if (limits.error) return <ErrorBox error={limits.error} />;
  const { effective, usage_this_hour: usage } = limits.data;
  return (
    <section aria-label="Usage and limits">
      <dl className="stats">
        <div><dt>Events this hour</dt><dd>{usage ? usage.events.toLocaleString() : "–"}{effective.events_per_hour ? ` of ${effective.events_per_hour.toLocaleString()}` : ""}</dd></div>
        <div><dt>Bytes this hour</dt><dd>{usage ? usage.bytes.toLocaleString() : "–"}{effective.bytes_per_hour ? ` of ${effective.bytes_per_hour.toLocaleString()}` : ""}</dd></div>
        <div><dt>Limits</dt><dd>{limits.data.enabled === false ? "off" : "on"}</dd></div>
      </dl>
      <h2>Effective limits</h2>
      <Json value={effective} expanded label="Effective limits" />
    </section>
  );
}

function AuditLog() {
  const [offset, setOffset] = useState(0);
  const log = useQuery({
    queryKey: ["audit", offset],
    queryFn: () => call(api.GET("/api/v1/orgs/current/audit-logs", { params: { query: { offset, limit: 50 } } })),
  });
  return (
    <section aria-label="Audit log">
      {log.isPending && <Loading what="the audit log" />}
      <ErrorBox error={log.error} />
      {log.data && (
        <>
          <table className="grid compact">
            <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Details</th></tr></thead>
            <tbody>
              {log.data.length === 0 && <tr><td colSpan={5} className="muted">Nothing recorded yet.</td></tr>}
              {log.data.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.created_at)}</td>
                  <td>{e.actor.email ?? (e.actor.api_key_id ? "API key" : "")}</td>
                  <td>{e.action}</td>
                  <td>{e.target_type} <span className="mono small">{e.target_id}</span></td>
                  <td className="mono small">{Object.keys(e.details).length > 0 ? JSON.stringify(e.details) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="pager">
            <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>Newer</button>
            <button disabled={log.data.length < 50} onClick={() => setOffset(offset + 50)}>Older</button>
          </div>
        </>
      )}
    </section>
  );
}
