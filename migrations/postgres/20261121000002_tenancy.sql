-- Tenancy: organisations, their workspaces (the API's "tenants"), users and their memberships,
-- invitations, API keys, login sessions and the audit log (CONTROL_PLANE.md §5).
--
-- Roles are the six system roles of §5.2, stored by name; their permission strings live in the
-- auth crate, the one place that maps a role to what it may do.

CREATE TABLE organizations (
    id UUID PRIMARY KEY,
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    pat_creation_disabled BOOLEAN NOT NULL DEFAULT FALSE,
    disable_public_sharing BOOLEAN NOT NULL DEFAULT FALSE,
    -- Rate and usage limits overriding the stack's defaults (auth crate `OrgLimits`).
    limits JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE workspaces (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    tenant_handle TEXT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX workspaces_organization ON workspaces (organization_id);

CREATE TABLE users (
    id UUID PRIMARY KEY,
    -- Stored lower-cased: one account per address whatever its spelling.
    email TEXT NOT NULL UNIQUE CHECK (email = lower(email) AND position('@' IN email) > 1),
    full_name TEXT NOT NULL DEFAULT '',
    -- argon2id PHC string; NULL for users who only sign in through OIDC.
    password_hash TEXT,
    -- The OIDC issuer and subject this user signed in with, once they have.
    oidc_issuer TEXT,
    oidc_subject TEXT,
    default_workspace_id UUID REFERENCES workspaces (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (oidc_issuer, oidc_subject)
);

-- A user's membership of an organisation: the "identity" of the API.
CREATE TABLE org_members (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('ORGANIZATION_ADMIN', 'ORGANIZATION_USER', 'ORGANIZATION_VIEWER')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (organization_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE workspace_members (
    id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('WORKSPACE_ADMIN', 'WORKSPACE_EDITOR', 'WORKSPACE_VIEWER')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

CREATE TABLE invitations (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL CHECK (email = lower(email)),
    org_role TEXT NOT NULL CHECK (org_role IN ('ORGANIZATION_ADMIN', 'ORGANIZATION_USER', 'ORGANIZATION_VIEWER')),
    workspace_ids UUID[] NOT NULL DEFAULT '{}',
    workspace_role TEXT NOT NULL CHECK (workspace_role IN ('WORKSPACE_ADMIN', 'WORKSPACE_EDITOR', 'WORKSPACE_VIEWER')),
    -- HMAC of the invitation token, which is shown once to whoever invited.
    token_hash BYTEA NOT NULL UNIQUE,
    invited_by UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
-- At most one open invitation per address and organisation.
CREATE UNIQUE INDEX invitations_open ON invitations (organization_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

CREATE TABLE api_keys (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('pat', 'service')),
    -- A PAT's default workspace; a service key's only workspace; NULL for an org-scoped service key.
    workspace_id UUID REFERENCES workspaces (id) ON DELETE CASCADE,
    -- The PAT's owner; NULL for service keys.
    user_id UUID REFERENCES users (id) ON DELETE CASCADE,
    -- The workspace role a service key acts with.
    service_role TEXT CHECK (service_role IN ('WORKSPACE_ADMIN', 'WORKSPACE_EDITOR', 'WORKSPACE_VIEWER')),
    created_by UUID REFERENCES users (id) ON DELETE SET NULL,
    description TEXT NOT NULL DEFAULT '',
    -- The first characters of the key and its last four, e.g. `lsv2_pt_…1a2b`.
    short_key TEXT NOT NULL,
    -- HMAC-SHA256 of the whole key under `auth.api_key_salt`; the key itself is never stored.
    key_hash BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    CHECK ((kind = 'pat') = (user_id IS NOT NULL)),
    CHECK (kind = 'service' OR workspace_id IS NOT NULL),
    CHECK ((kind = 'service') = (service_role IS NOT NULL))
);
CREATE INDEX api_keys_organization ON api_keys (organization_id);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Login sessions: a session token names its row, so logging out or changing the password
-- revokes it server-side before it expires.
CREATE TABLE login_sessions (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method TEXT NOT NULL CHECK (method IN ('password', 'oidc')),
    user_agent TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id UUID,
    -- Who did it: a user, or a service key (then actor_user_id is NULL).
    actor_user_id UUID,
    actor_api_key_id UUID,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    details JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_organization ON audit_log (organization_id, id DESC);
