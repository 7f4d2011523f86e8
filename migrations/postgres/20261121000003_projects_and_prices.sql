-- Projects (the API's tracer sessions) and the model price table used to cost LLM runs.

CREATE TABLE tracer_sessions (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 1000),
    description TEXT,
    -- User metadata (`extra.metadata` on the wire) and anything else the client sent in `extra`.
    extra JSONB NOT NULL DEFAULT '{}'::jsonb,
    reference_dataset_id UUID,
    default_dataset_id UUID,
    trace_tier TEXT CHECK (trace_tier IN ('longlived', 'shortlived')),
    start_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    end_time TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when a project is deleted: its runs become unreachable at once and are removed later.
    deleted_at TIMESTAMPTZ,
    UNIQUE (tenant_id, name)
);

-- Prices per million tokens. A row without a tenant is a stack-wide default; a workspace's own
-- rows win over the defaults. `match_pattern` is a regular expression over the model name, and
-- `provider`, when set, must equal the run's `ls_provider`. Among the matching rows the highest
-- `priority` wins, then the newest.
CREATE TABLE model_prices (
    id UUID PRIMARY KEY,
    tenant_id UUID REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    provider TEXT,
    match_pattern TEXT NOT NULL,
    prompt_cost_per_million NUMERIC(18, 9) NOT NULL CHECK (prompt_cost_per_million >= 0),
    completion_cost_per_million NUMERIC(18, 9) NOT NULL CHECK (completion_cost_per_million >= 0),
    priority INTEGER NOT NULL DEFAULT 0,
    start_time TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX model_prices_tenant ON model_prices (tenant_id);

-- Defaults: list prices in USD per million tokens at the time of writing. Operators edit or
-- override them per workspace through the API.
INSERT INTO model_prices (id, tenant_id, name, provider, match_pattern, prompt_cost_per_million, completion_cost_per_million) VALUES
    ('00000000-0000-4000-8000-9a1ce0000001', NULL, 'gpt-4o', 'openai', '^gpt-4o(-\d{4}-\d{2}-\d{2})?$', 2.5, 10),
    ('00000000-0000-4000-8000-9a1ce0000002', NULL, 'gpt-4o-mini', 'openai', '^gpt-4o-mini(-\d{4}-\d{2}-\d{2})?$', 0.15, 0.6),
    ('00000000-0000-4000-8000-9a1ce0000003', NULL, 'gpt-4.1', 'openai', '^gpt-4\.1(-\d{4}-\d{2}-\d{2})?$', 2, 8),
    ('00000000-0000-4000-8000-9a1ce0000004', NULL, 'gpt-4.1-mini', 'openai', '^gpt-4\.1-mini(-\d{4}-\d{2}-\d{2})?$', 0.4, 1.6),
    ('00000000-0000-4000-8000-9a1ce0000005', NULL, 'o3-mini', 'openai', '^o3-mini(-\d{4}-\d{2}-\d{2})?$', 1.1, 4.4),
    ('00000000-0000-4000-8000-9a1ce0000006', NULL, 'gpt-3.5-turbo', 'openai', '^gpt-3\.5-turbo(-\d+)?$', 0.5, 1.5),
    ('00000000-0000-4000-8000-9a1ce0000007', NULL, 'claude-3-5-sonnet', 'anthropic', '^claude-3-5-sonnet', 3, 15),
    ('00000000-0000-4000-8000-9a1ce0000008', NULL, 'claude-3-5-haiku', 'anthropic', '^claude-3-5-haiku', 0.8, 4),
    ('00000000-0000-4000-8000-9a1ce0000009', NULL, 'claude-3-7-sonnet', 'anthropic', '^claude-3-7-sonnet', 3, 15),
    ('00000000-0000-4000-8000-9a1ce000000a', NULL, 'claude-sonnet-4', 'anthropic', '^claude-sonnet-4', 3, 15),
    ('00000000-0000-4000-8000-9a1ce000000b', NULL, 'claude-opus-4', 'anthropic', '^claude-opus-4', 15, 75),
    ('00000000-0000-4000-8000-9a1ce000000c', NULL, 'gemini-1.5-pro', 'google_genai', '^gemini-1\.5-pro', 1.25, 5),
    ('00000000-0000-4000-8000-9a1ce000000d', NULL, 'gemini-2.0-flash', 'google_genai', '^gemini-2\.0-flash', 0.1, 0.4);
