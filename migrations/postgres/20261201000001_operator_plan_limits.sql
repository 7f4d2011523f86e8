-- Plan limits belong to the installation's operator; an organisation may only lower its own.
-- `limits` now holds the operator's plan for the organisation (over the stack's defaults), and
-- `tenant_limits` the organisation's own, lower, limits. Until now organisation admins wrote
-- `limits`, and could raise them: what they wrote moves to `tenant_limits`, where it can only
-- lower what the plan allows.
ALTER TABLE organizations ADD COLUMN tenant_limits JSONB NOT NULL DEFAULT '{}'::jsonb;
UPDATE organizations SET tenant_limits = limits, limits = '{}'::jsonb;
