-- A project id is unique within its workspace, not across the installation: a client may
-- propose a project id (the API takes one), and an id that happens to exist in another
-- workspace must be accepted exactly like a fresh one, or creating a project would tell whether
-- some other tenant has a project with that id. Every look-up already names the workspace.
ALTER TABLE tracer_sessions DROP CONSTRAINT tracer_sessions_pkey;
ALTER TABLE tracer_sessions ADD PRIMARY KEY (tenant_id, id);
