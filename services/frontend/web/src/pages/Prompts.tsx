import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { Crumbs, Empty, ErrorBox, Json, Loading, TabBar, ago, useTitle, when } from "../components/common";

export function Prompts() {
  useTitle("Prompts");
  const { workspaceId = "" } = useParams();
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState("updated_at");
  const repos = useQuery({
    queryKey: ["repos", workspaceId, search, sort],
    queryFn: () =>
      call(
        api.GET("/api/v1/repos", {
          params: { query: { limit: 100, query: search.trim() || undefined, sort_field: sort, sort_direction: sort === "repo_handle" ? "asc" : "desc", tenant_handle: undefined } },
        }),
      ),
  });
  return (
    <div className="page">
      <header className="page-head">
        <h1>Prompts</h1>
        <div className="actions">
          <input type="search" aria-label="Search prompts" placeholder="Search prompts" value={search} onChange={(e) => setSearch(e.target.value)} />
          <label className="inline">
            Sort{" "}
            <select value={sort} onChange={(e) => setSort(e.target.value)} aria-label="Sort prompts">
              <option value="updated_at">Recently updated</option>
              <option value="num_likes">Most liked</option>
              <option value="num_downloads">Most downloaded</option>
              <option value="repo_handle">Name</option>
            </select>
          </label>
        </div>
      </header>
      {repos.isPending && <Loading what="prompts" />}
      <ErrorBox error={repos.error} />
      {repos.data && repos.data.repos.length === 0 && (
        <Empty>
          No prompts{search ? " match" : " yet"}. Push one with the SDK: <code>client.push_prompt("my-prompt", object=prompt)</code>.
        </Empty>
      )}
      {repos.data && repos.data.repos.length > 0 && (
        <div className="table-wrap">
          <table className="grid">
            <thead><tr><th>Name</th><th>Description</th><th>Tags</th><th>Commits</th><th>Likes</th><th>Downloads</th><th>Public</th><th>Updated</th></tr></thead>
            <tbody>
              {repos.data.repos.map((r) => (
                <tr key={r.id}>
                  <td><Link to={`/o/${workspaceId}/prompts/${encodeURIComponent(r.repo_handle)}`}>{r.repo_handle}</Link></td>
                  <td className="muted">{r.description}</td>
                  <td>{r.tags.map((t) => <span key={t} className="chip">{t}</span>)}</td>
                  <td className="num">{r.num_commits}</td>
                  <td className="num">{r.num_likes}</td>
                  <td className="num">{r.num_downloads}</td>
                  <td>{r.is_public ? "yes" : "no"}</td>
                  <td>{ago(r.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted small">{repos.data.total} prompt{repos.data.total === 1 ? "" : "s"}</p>
        </div>
      )}
    </div>
  );
}

type Tab = "prompt" | "commits" | "raw";

/** A prompt of the workspace: its messages at a commit (`?commit=`, else the latest), commits and tags. */
export function PromptPage() {
  const { workspaceId = "", name = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const ref = search.get("commit") ?? "latest";
  useTitle(`Prompt · ${name}`);
  const [tab, setTab] = useState<Tab>("prompt");
  const repo = useQuery({
    queryKey: ["repo", workspaceId, name],
    queryFn: () => call(api.GET("/api/v1/repos/{owner}/{repo}", { params: { path: { owner: "-", repo: name } } })),
  });
  const commits = useQuery({
    queryKey: ["commits", workspaceId, name],
    queryFn: () => call(api.GET("/api/v1/commits/{owner}/{repo}", { params: { path: { owner: "-", repo: name }, query: { limit: 100 } } })),
  });
  const tags = useQuery({
    queryKey: ["commit-tags", workspaceId, name],
    queryFn: () => call(api.GET("/api/v1/repos/{owner}/{repo}/tags", { params: { path: { owner: "-", repo: name } } })),
  });
  const commit = useQuery({
    queryKey: ["commit", workspaceId, name, ref],
    queryFn: () => call(api.GET("/api/v1/commits/{owner}/{repo}/{ref}", { params: { path: { owner: "-", repo: name, ref }, query: { include_model: true } } })),
  });
  return (
    <div className="page">
      <Crumbs items={[["Prompts", `/o/${workspaceId}/prompts`], [name, null]]} />
      <header className="page-head">
        <h1>{name}</h1>
        <div className="actions">
          <Link className="button" to={`/o/${workspaceId}/playground?prompt=${encodeURIComponent(name)}${ref === "latest" ? "" : `&commit=${encodeURIComponent(ref)}`}`}>Open in playground</Link>
          <label className="inline">
            Commit{" "}
            <select aria-label="Commit" value={ref} onChange={(e) => setSearch(e.target.value === "latest" ? {} : { commit: e.target.value })}>
              <option value="latest">latest</option>
              {(tags.data ?? []).map((t) => <option key={t.id} value={t.tag_name}>tag: {t.tag_name}</option>)}
              {(commits.data?.commits ?? []).map((c) => <option key={c.id} value={c.commit_hash.slice(0, 8)}>{c.commit_hash.slice(0, 8)}</option>)}
              {ref !== "latest" && !(commits.data?.commits ?? []).some((c) => c.commit_hash.startsWith(ref)) && !(tags.data ?? []).some((t) => t.tag_name === ref) && (
                <option value={ref}>{ref}</option>
              )}
            </select>
          </label>
        </div>
      </header>
      <ErrorBox error={repo.error} />
      {repo.data && (
        <dl className="stats">
          <div><dt>Commits</dt><dd>{repo.data.repo.num_commits}</dd></div>
          <div><dt>Likes</dt><dd>{repo.data.repo.num_likes}</dd></div>
          <div><dt>Downloads</dt><dd>{repo.data.repo.num_downloads}</dd></div>
          <div><dt>Visibility</dt><dd>{repo.data.repo.is_public ? "public" : "private"}</dd></div>
          <div><dt>Updated</dt><dd>{ago(repo.data.repo.updated_at)}</dd></div>
        </dl>
      )}
      {repo.data?.repo.description && <p>{repo.data.repo.description}</p>}
      <TabBar<Tab> tabs={[["prompt", "Prompt"], ["commits", "Commits"], ["raw", "Manifest"]]} value={tab} onChange={setTab} />
      {tab === "prompt" && <CommitView commit={commit.data} error={commit.error} pending={commit.isPending} />}
      {tab === "raw" && commit.data && <Json value={commit.data.manifest} expanded label="Manifest" />}
      {tab === "commits" && (
        <>
          <ErrorBox error={commits.error} />
          {commits.data && (
            <table className="grid compact">
              <thead><tr><th>Commit</th><th>Tags</th><th>Description</th><th>Downloads</th><th>Created</th></tr></thead>
              <tbody>
                {commits.data.commits.map((c) => (
                  <tr key={c.id}>
                    <td className="mono">
                      <Link to={`?commit=${c.commit_hash.slice(0, 8)}`} onClick={() => setTab("prompt")}>{c.commit_hash.slice(0, 8)}</Link>
                    </td>
                    <td>{(tags.data ?? []).filter((t) => t.commit_hash === c.commit_hash).map((t) => <span key={t.id} className="chip">{t.tag_name}</span>)}</td>
                    <td>{c.description}</td>
                    <td className="num">{c.num_downloads}</td>
                    <td>{when(c.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}

/** `/hub/{owner}/{name}:{commit}`: a public prompt, readable without signing in. */
export function PublicPrompt() {
  const { owner = "", nameAndCommit = "" } = useParams();
  const [name = "", ref = "latest"] = nameAndCommit.split(":");
  useTitle(`${owner}/${name}`);
  const commit = useQuery({
    queryKey: ["public-commit", owner, name, ref],
    queryFn: () => call(api.GET("/api/v1/commits/{owner}/{repo}/{ref}", { params: { path: { owner, repo: name, ref }, query: { include_model: true } } })),
  });
  return (
    <main className="public-page">
      <header className="public-head">
        <a className="brand" href="/"><img src="/favicon.svg" alt="" width="22" height="22" /> Ironsmith</a>
        <span className="muted">Public prompt</span>
      </header>
      <div className="page">
        <h1>{owner}/{name}</h1>
        <p className="muted mono">{ref}</p>
        <CommitView commit={commit.data} error={commit.error} pending={commit.isPending} />
      </div>
    </main>
  );
}

type Pulled = { commit_hash: string; description?: string | null; manifest: Record<string, unknown> };

function CommitView({ commit, error, pending }: { commit?: Pulled; error: unknown; pending: boolean }) {
  if (pending) return <Loading what="the prompt" />;
  if (error) return <ErrorBox error={error} />;
  if (!commit) return null;
  const { messages, variables, template, model } = readManifest(commit.manifest);
  return (
    <section className="prompt-view" aria-label="Prompt">
      <p className="muted small">
        Commit <span className="mono">{commit.commit_hash.slice(0, 8)}</span>
        {commit.description ? ` · ${commit.description}` : ""}
      </p>
      {variables.length > 0 && (
        <p>
          Variables: {variables.map((v) => <code key={v} className="chip">{`{${v}}`}</code>)}
        </p>
      )}
      {messages.length > 0 && (
        <div className="chat">
          {messages.map((m, i) => (
            <div key={i} className={`message role-${m.role}`}>
              <div className="role">{m.role}</div>
              <pre className="content">{m.text}</pre>
            </div>
          ))}
        </div>
      )}
      {template !== null && <pre className="code">{template}</pre>}
      {messages.length === 0 && template === null && <Json value={commit.manifest} expanded label="Manifest" />}
      {model !== null && (
        <>
          <h3>Model</h3>
          <Json value={model} label="Model" />
        </>
      )}
    </section>
  );
}

type Serialized = { id?: unknown; kwargs?: Record<string, unknown> };

/** The messages, variables and model of a LangChain-serialised prompt manifest. */
function readManifest(manifest: Record<string, unknown>) {
  const root = manifest as Serialized;
  const last = (s: Serialized) => (Array.isArray(s.id) ? String(s.id.at(-1) ?? "") : "");
  // A prompt-and-model manifest (RunnableSequence): the prompt is `first`, the model `last`.
  let prompt: Serialized = root;
  let model: unknown = null;
  if (last(root) === "RunnableSequence" && root.kwargs) {
    prompt = (root.kwargs.first as Serialized | undefined) ?? root;
    model = root.kwargs.last ?? null;
  }
  const kwargs = prompt.kwargs ?? {};
  const variables = Array.isArray(kwargs.input_variables) ? kwargs.input_variables.map(String) : [];
  const template = typeof kwargs.template === "string" ? kwargs.template : null;
  const messages: { role: string; text: string }[] = [];
  if (Array.isArray(kwargs.messages)) {
    for (const raw of kwargs.messages as Serialized[]) {
      const kind = last(raw);
      const inner = raw.kwargs ?? {};
      const promptKw = (inner.prompt as Serialized | undefined)?.kwargs;
      const text = typeof promptKw?.template === "string" ? promptKw.template : typeof inner.content === "string" ? inner.content : JSON.stringify(inner);
      const role = kind.startsWith("System")
        ? "system"
        : kind.startsWith("Human")
          ? "human"
          : kind.startsWith("AI")
            ? "ai"
            : kind === "MessagesPlaceholder"
              ? "placeholder"
              : typeof inner.role === "string"
                ? inner.role
                : kind;
      messages.push({ role, text: kind === "MessagesPlaceholder" ? `{${String(inner.variable_name ?? "")}}` : text });
    }
  }
  return { messages, variables, template, model };
}
