-- Datasets and their versioned examples, comparative experiments, feedback configurations and
-- tokens, and annotation queues (API.md §9–§12).

CREATE TABLE datasets (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    data_type TEXT NOT NULL DEFAULT 'kv' CHECK (data_type IN ('kv', 'llm', 'chat')),
    inputs_schema JSONB,
    outputs_schema JSONB,
    transformations JSONB,
    metadata JSONB,
    externally_managed BOOLEAN NOT NULL DEFAULT false,
    baseline_experiment_id UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

-- One row per dataset version: every example write makes one, at the write's time. Writes to a
-- dataset are serialised (they lock its row), so versions are strictly increasing.
CREATE TABLE dataset_versions (
    dataset_id UUID NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    as_of TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (dataset_id, as_of)
);

-- A tag names one version; tagging again moves it.
CREATE TABLE dataset_tags (
    dataset_id UUID NOT NULL,
    tag TEXT NOT NULL,
    as_of TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (dataset_id, tag),
    FOREIGN KEY (dataset_id, as_of) REFERENCES dataset_versions (dataset_id, as_of) ON DELETE CASCADE
);

-- Example revisions. A write closes the example's current revision (`valid_to`) and, unless it
-- deletes, opens a new one from the same instant. Reading as of `t` takes the revisions with
-- `valid_from <= t < valid_to`; the current state is `valid_to IS NULL`.
CREATE TABLE example_revisions (
    revision BIGSERIAL PRIMARY KEY,
    id UUID NOT NULL,
    tenant_id UUID NOT NULL,
    dataset_id UUID NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    inputs JSONB NOT NULL,
    outputs JSONB,
    metadata JSONB,
    -- `{name: {"key": object-storage key, "mime_type": …}}`.
    attachments JSONB NOT NULL DEFAULT '{}',
    source_run_id UUID,
    created_at TIMESTAMPTZ NOT NULL,
    valid_from TIMESTAMPTZ NOT NULL,
    valid_to TIMESTAMPTZ,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX example_revisions_current ON example_revisions (tenant_id, id)
    WHERE valid_to IS NULL;
CREATE INDEX example_revisions_dataset ON example_revisions (dataset_id, valid_from);
CREATE INDEX example_revisions_history ON example_revisions (id, valid_from);

-- Public links to datasets; the token is the capability.
CREATE TABLE dataset_shares (
    share_token UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    dataset_id UUID NOT NULL UNIQUE REFERENCES datasets (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Pairwise comparisons of experiments over one dataset.
CREATE TABLE comparative_experiments (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    reference_dataset_id UUID NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    experiment_ids UUID[] NOT NULL,
    extra JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX comparative_experiments_dataset ON comparative_experiments (tenant_id, reference_dataset_id);

-- How a feedback key is scored. Deleting is soft; re-creating revives the row.
CREATE TABLE feedback_configs (
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    feedback_key TEXT NOT NULL,
    config JSONB NOT NULL,
    is_lower_score_better BOOLEAN,
    modified_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, feedback_key)
);

-- Presigned feedback: whoever holds the id may leave one feedback key on one run until expiry.
CREATE TABLE feedback_tokens (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    run_id UUID NOT NULL,
    feedback_key TEXT NOT NULL,
    feedback_config JSONB,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX feedback_tokens_run ON feedback_tokens (tenant_id, run_id);

CREATE TABLE annotation_queues (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    queue_type TEXT NOT NULL DEFAULT 'single',
    rubric_instructions TEXT,
    rubric_items JSONB NOT NULL DEFAULT '[]',
    default_dataset UUID,
    num_reviewers_per_item INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX annotation_queues_tenant ON annotation_queues (tenant_id, created_at);

CREATE TABLE annotation_queue_runs (
    id UUID PRIMARY KEY,
    queue_id UUID NOT NULL REFERENCES annotation_queues (id) ON DELETE CASCADE,
    run_id UUID NOT NULL,
    session_id UUID,
    trace_id UUID,
    start_time TIMESTAMPTZ,
    added_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_reviewed_time TIMESTAMPTZ,
    UNIQUE (queue_id, run_id)
);
CREATE INDEX annotation_queue_runs_order ON annotation_queue_runs (queue_id, added_at, id);

-- Who has finished reviewing which item. A reviewer is a user, or a service key's id.
CREATE TABLE annotation_queue_reviews (
    queue_run_id UUID NOT NULL REFERENCES annotation_queue_runs (id) ON DELETE CASCADE,
    reviewer_id UUID NOT NULL,
    completed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (queue_run_id, reviewer_id)
);
