-- Prompt webhooks: URLs a workspace registers to receive a signed JSON event on every prompt
-- commit (and tag created or moved), delivered by the queue worker with retries; every
-- delivery attempt is recorded.

CREATE TABLE prompt_webhooks (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    -- Header name to value, sent with every delivery.
    headers JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Empty: every prompt of the workspace.
    include_prompts UUID[] NOT NULL DEFAULT '{}',
    exclude_prompts UUID[] NOT NULL DEFAULT '{}',
    -- 'commit', 'tag:create', 'tag:update'.
    triggers TEXT[] NOT NULL DEFAULT '{commit}',
    -- The HMAC-SHA256 key deliveries are signed with.
    signing_secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX prompt_webhooks_tenant ON prompt_webhooks (tenant_id);

CREATE TABLE prompt_webhook_deliveries (
    id UUID PRIMARY KEY,
    webhook_id UUID NOT NULL REFERENCES prompt_webhooks (id) ON DELETE CASCADE,
    tenant_id UUID NOT NULL,
    event TEXT NOT NULL,
    -- The JSON body sent, exactly.
    payload TEXT NOT NULL,
    -- 'pending', 'delivered' or 'failed' (every attempt failed).
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX prompt_webhook_deliveries_webhook ON prompt_webhook_deliveries (webhook_id, created_at DESC);
