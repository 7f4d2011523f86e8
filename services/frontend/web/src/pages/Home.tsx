import { Navigate, useLocation, useParams, useSearchParams } from "react-router";
import { useMe } from "../api/hooks";
import { ErrorBox, Loading } from "../components/common";

/** `/`: the signed-in user's workspace (its projects). */
export function Home() {
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.error) return <main className="centered"><ErrorBox error={me.error} /></main>;
  const id = me.data.current_workspace?.id ?? me.data.workspaces[0]?.id;
  if (!id) return <main className="centered"><ErrorBox title="No workspace" error={new Error("You are not a member of any workspace yet: ask an administrator to add you.")} /></main>;
  return <Navigate to={`/o/${id}/projects`} replace />;
}

/** Links without a workspace (`/datasets/{id}`, older SDKs): the same page in the current one. */
export function LegacyDatasetRedirect() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <Loading />;
  if (me.error) return <main className="centered"><ErrorBox error={me.error} /></main>;
  const id = me.data.current_workspace?.id ?? me.data.workspaces[0]?.id;
  return <Navigate to={`/o/${id}${location.pathname}${location.search}`} replace />;
}

/** `/prompts/{name}/{commit}?organizationId={workspace}`, as `push_prompt` prints it. */
export function PromptLinkRedirect() {
  const { name = "", commit } = useParams();
  const [search] = useSearchParams();
  const me = useMe();
  const workspace = search.get("organizationId") ?? me.data?.current_workspace?.id ?? me.data?.workspaces[0]?.id;
  if (!workspace) return me.error ? <main className="centered"><ErrorBox error={me.error} /></main> : <Loading />;
  const query = commit ? `?commit=${encodeURIComponent(commit)}` : "";
  return <Navigate to={`/o/${workspace}/prompts/${encodeURIComponent(name)}${query}`} replace />;
}
