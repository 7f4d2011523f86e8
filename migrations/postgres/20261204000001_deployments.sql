-- The deployment control plane: listeners (a data plane's registration), deployments of Agent
-- Servers, their append-only revisions, and the logs the data plane reports for them.

-- A listener: one data-plane install in one Kubernetes cluster, serving one workspace and
-- deploying into its namespaces. `is_default` marks the workspace's in-cluster listener of a
-- self-hosted install, which deployments created without a listener bind to.
CREATE TABLE deployment_listeners (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    compute_type TEXT NOT NULL DEFAULT 'k8s' CHECK (compute_type = 'k8s'),
    compute_id TEXT NOT NULL CHECK (length(compute_id) BETWEEN 1 AND 253),
    k8s_namespaces TEXT[] NOT NULL,
    version TEXT,
    is_default BOOLEAN NOT NULL DEFAULT false,
    -- What the data plane last reported: the uid of its cluster's kube-system namespace and
    -- the namespaces it watches.
    cluster_uid TEXT,
    watch_namespaces TEXT[],
    last_heartbeat_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, compute_id)
);
CREATE UNIQUE INDEX deployment_listeners_one_default ON deployment_listeners (tenant_id) WHERE is_default;
CREATE INDEX deployment_listeners_cluster ON deployment_listeners (cluster_uid) WHERE cluster_uid IS NOT NULL;

-- A deployment. `secrets_*` hold its secrets (a JSON list of {name, value}) sealed with the
-- envelope encryption of workspace secrets, bound to the workspace and the deployment.
CREATE TABLE deployments (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
    display_name TEXT,
    source TEXT NOT NULL,
    source_config JSONB NOT NULL DEFAULT '{}'::jsonb,
    secret_references JSONB,
    secrets_ciphertext BYTEA,
    secrets_wrapped_key BYTEA,
    secrets_key_id TEXT,
    listener_id UUID REFERENCES deployment_listeners (id) ON DELETE RESTRICT,
    k8s_namespace TEXT,
    project_id UUID,
    status TEXT NOT NULL,
    latest_revision_id UUID,
    active_revision_id UUID,
    image_version TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
CREATE INDEX deployments_listener ON deployments (listener_id);
CREATE INDEX deployments_tenant_created ON deployments (tenant_id, created_at DESC);

-- A revision: what one rollout deploys. Append-only apart from its status. `lease_holder` is
-- the listener replica rolling it out, until `lease_expires_at`.
CREATE TABLE deployment_revisions (
    id UUID PRIMARY KEY,
    deployment_id UUID NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq BIGSERIAL NOT NULL,
    source TEXT NOT NULL,
    source_revision_config JSONB NOT NULL DEFAULT '{}'::jsonb,
    status TEXT NOT NULL,
    status_message TEXT,
    endpoint TEXT,
    lease_holder TEXT,
    lease_expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX deployment_revisions_deployment ON deployment_revisions (deployment_id, seq DESC);

-- Build and deploy logs of a revision, as the data plane reported them.
CREATE TABLE deployment_logs (
    id BIGSERIAL PRIMARY KEY,
    deployment_id UUID NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    revision_id UUID NOT NULL REFERENCES deployment_revisions (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('build', 'deploy')),
    logged_at TIMESTAMPTZ NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX deployment_logs_revision ON deployment_logs (revision_id, kind, id);
CREATE INDEX deployment_logs_deployment ON deployment_logs (deployment_id, kind, id);
