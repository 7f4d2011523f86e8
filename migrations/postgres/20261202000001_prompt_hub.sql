-- The prompt hub: repositories of versioned prompts (and directory repos: agents, skills),
-- their commits, tags on commits and likes. A repository belongs to one workspace; others
-- reach it through the workspace's `tenant_handle` when it is public.

CREATE TABLE hub_repos (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    repo_handle TEXT NOT NULL CHECK (length(repo_handle) BETWEEN 1 AND 128),
    -- 'prompt', 'file', 'agent' or 'skill'.
    repo_type TEXT NOT NULL DEFAULT 'prompt',
    description TEXT NOT NULL DEFAULT '',
    readme TEXT NOT NULL DEFAULT '',
    tags TEXT[] NOT NULL DEFAULT '{}',
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    is_archived BOOLEAN NOT NULL DEFAULT FALSE,
    num_views BIGINT NOT NULL DEFAULT 0,
    num_downloads BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, repo_handle)
);
CREATE INDEX hub_repos_public ON hub_repos (is_public) WHERE is_public;

CREATE TABLE hub_commits (
    id UUID PRIMARY KEY,
    repo_id UUID NOT NULL REFERENCES hub_repos (id) ON DELETE CASCADE,
    -- Lower-case hex; readers may name a commit by its first 8 characters.
    commit_hash TEXT NOT NULL,
    parent_id UUID REFERENCES hub_commits (id) ON DELETE SET NULL,
    -- The manifest exactly as it was pushed (JSON text, never re-serialised), or, when large,
    -- the object-storage key holding it.
    manifest TEXT,
    manifest_key TEXT,
    manifest_bytes BIGINT NOT NULL,
    description TEXT,
    num_views BIGINT NOT NULL DEFAULT 0,
    num_downloads BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CHECK ((manifest IS NULL) <> (manifest_key IS NULL)),
    UNIQUE (repo_id, commit_hash)
);
CREATE INDEX hub_commits_newest ON hub_commits (repo_id, created_at DESC);
CREATE INDEX hub_commits_hash_prefix ON hub_commits (repo_id, commit_hash text_pattern_ops);

CREATE TABLE hub_tags (
    id UUID PRIMARY KEY,
    repo_id UUID NOT NULL REFERENCES hub_repos (id) ON DELETE CASCADE,
    tag_name TEXT NOT NULL CHECK (length(tag_name) BETWEEN 1 AND 128),
    commit_id UUID NOT NULL REFERENCES hub_commits (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (repo_id, tag_name)
);

-- One like per liker (a user, or a service key) per repository.
CREATE TABLE hub_likes (
    repo_id UUID NOT NULL REFERENCES hub_repos (id) ON DELETE CASCADE,
    liker_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, liker_id)
);
