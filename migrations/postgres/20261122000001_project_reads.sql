-- Project reads, deletion and run sharing.

-- A deleted project frees its name at once: uniqueness holds among live projects only.
ALTER TABLE tracer_sessions DROP CONSTRAINT tracer_sessions_tenant_id_name_key;
CREATE UNIQUE INDEX tracer_sessions_live_name ON tracer_sessions (tenant_id, name)
    WHERE deleted_at IS NULL;
CREATE INDEX tracer_sessions_reference_dataset ON tracer_sessions (tenant_id, reference_dataset_id)
    WHERE deleted_at IS NULL;

-- Every workspace has a project (API.md §8: the Python SDK discovers its workspace id from the
-- first project listed). New workspaces get `default` when they are created.
INSERT INTO tracer_sessions (id, tenant_id, name)
SELECT gen_random_uuid(), w.id, 'default'
FROM workspaces w
WHERE NOT EXISTS (
    SELECT 1 FROM tracer_sessions s WHERE s.tenant_id = w.id AND s.deleted_at IS NULL
);

-- Public links to traces (API.md §7.7). The token is the capability: whoever has it reads the
-- shared run's trace without a key. One link per run.
CREATE TABLE run_shares (
    share_token UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    run_id UUID NOT NULL,
    trace_id UUID NOT NULL,
    session_id UUID NOT NULL,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, run_id)
);
