-- Workspace secrets (provider API keys for the playground), encrypted at rest with envelope
-- encryption: `ciphertext` is the value encrypted with a random data key, `wrapped_key` that
-- data key encrypted with the key-encryption key `key_id` from the configuration. Both bind the
-- workspace and the name as associated data. Only the last four characters are kept in clear.
CREATE TABLE workspace_secrets (
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key TEXT NOT NULL CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
    ciphertext BYTEA NOT NULL,
    wrapped_key BYTEA NOT NULL,
    key_id TEXT NOT NULL,
    last_four TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX workspace_secrets_key_id ON workspace_secrets (key_id);

-- Saved model configurations of the playground: a provider, a model and its parameters, and the
-- name of the workspace secret holding the provider key.
CREATE TABLE model_configs (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    provider TEXT NOT NULL,
    model TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 300),
    base_url TEXT,
    secret_key TEXT,
    -- temperature, max_tokens, top_p, stop, seed, reasoning_effort…
    parameters JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Provider specifics: Azure's deployment and api_version, Bedrock's region…
    options JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
