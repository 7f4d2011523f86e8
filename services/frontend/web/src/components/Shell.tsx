import { useEffect } from "react";
import { NavLink, Outlet, useNavigate, useParams, useLocation } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, setWorkspace } from "../api/client";
import { useHostEnabled, useMe } from "../api/hooks";
import { ErrorBox } from "./common";

/** The signed-in frame: navigation, the workspace switcher and the user menu. */
export function Shell() {
  const { workspaceId = "" } = useParams();
  const me = useMe();
  // The organisations the user belongs to; a switcher shows when there is more than one.
  const orgs = useQuery({ queryKey: ["my-orgs", workspaceId], queryFn: () => call(api.GET("/api/v1/orgs")), staleTime: 60_000 });
  const hostEnabled = useHostEnabled();
  const navigate = useNavigate();
  const location = useLocation();
  const queries = useQueryClient();
  setWorkspace(workspaceId);
  useEffect(() => {
    setWorkspace(workspaceId);
  }, [workspaceId]);

  if (me.error) return <main className="centered"><ErrorBox error={me.error} /></main>;
  // The page loads while the user's workspaces do (its own calls are authorised by the API on
  // their own), so the first screen waits for one round trip fewer; a workspace the user turns
  // out not to belong to replaces it with a notice.
  const workspaces = me.data?.workspaces ?? [];
  const current = workspaces.find((w) => w.id === workspaceId);
  const identity = me.data?.identity;
  const who = !identity ? "" : identity.type === "user" ? identity.email : "API key";

  const switchTo = (id: string) => {
    queries.clear();
    // Keep the section (projects, datasets, …), not the ids of the old workspace.
    const section = location.pathname.split("/")[3] ?? "projects";
    navigate(`/o/${id}/${section}`);
  };
  const signOut = async () => {
    await call(api.POST("/api/v1/auth/logout")).catch(() => undefined);
    queries.clear();
    navigate("/login");
  };
  const base = `/o/${workspaceId}`;
  return (
    <div className="shell">
      <aside className="sidebar">
        <a className="brand" href={base}>
          <img src="/favicon.svg" alt="" width="22" height="22" /> Ironsmith
        </a>
        {orgs.data && orgs.data.length > 1 && (
          <label className="switcher">
            <span className="label">Organisation</span>
            <select
              aria-label="Organisation"
              value={orgs.data.find((o) => o.is_current)?.id ?? ""}
              onChange={(e) => {
                const target = orgs.data?.find((o) => o.id === e.target.value)?.workspace_id;
                if (target) {
                  queries.clear();
                  navigate(`/o/${target}/projects`);
                }
              }}
            >
              {orgs.data.map((o) => (
                <option key={o.id} value={o.id} disabled={!o.workspace_id}>
                  {o.display_name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label className="switcher">
          <span className="label">Workspace</span>
          <select value={workspaceId} onChange={(e) => switchTo(e.target.value)} aria-label="Workspace" disabled={me.isPending}>
            {!current && <option value={workspaceId}>{me.isPending ? "Loading…" : "Unknown workspace"}</option>}
            {workspaces.map((w) => (
              <option key={w.id} value={w.id}>
                {w.display_name}
              </option>
            ))}
          </select>
        </label>
        <nav aria-label="Main">
          <NavLink to={`${base}/projects`}>Tracing projects</NavLink>
          <NavLink to={`${base}/datasets`}>Datasets &amp; experiments</NavLink>
          <NavLink to={`${base}/annotation-queues`}>Annotation queues</NavLink>
          <NavLink to={`${base}/prompts`}>Prompts</NavLink>
          <NavLink to={`${base}/playground`}>Playground</NavLink>
          {hostEnabled.data && <NavLink to={`${base}/host/deployments`}>Deployments</NavLink>}
          <NavLink to={`${base}/settings`}>Settings</NavLink>
        </nav>
        <div className="user-menu">
          <span className="who" title={who}>{who}</span>
          {current && <span className="muted small">{current.role_name}</span>}
          <button className="link" onClick={signOut}>Sign out</button>
        </div>
      </aside>
      <main className="content">
        {current || me.isPending ? <Outlet /> : <ErrorBox title="No access" error={new Error("You are not a member of this workspace, or it does not exist.")} />}
      </main>
    </div>
  );
}
