-- Public links to conversations: the token is the capability; whoever has it reads the
-- traces of one thread (the root runs carrying its thread_id) of one project, without a key.
-- One link per thread and project.
CREATE TABLE thread_shares (
    share_token UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    session_id UUID NOT NULL,
    thread_id TEXT NOT NULL,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, session_id, thread_id)
);
