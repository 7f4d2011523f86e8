-- A feedback key may hold more than one configuration: its first (which feedback that names
-- no configuration was written against), others added next to it, and at most one enforced
-- configuration that sets the rules for the whole workspace.

ALTER TABLE feedback_configs ADD COLUMN id UUID;
UPDATE feedback_configs SET id = gen_random_uuid();
ALTER TABLE feedback_configs ALTER COLUMN id SET NOT NULL;
ALTER TABLE feedback_configs DROP CONSTRAINT feedback_configs_pkey;
ALTER TABLE feedback_configs ADD PRIMARY KEY (id);
ALTER TABLE feedback_configs ADD COLUMN is_enforced BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE feedback_configs ADD COLUMN is_first BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE feedback_configs ADD COLUMN created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp();

CREATE INDEX feedback_configs_by_key ON feedback_configs (tenant_id, feedback_key);
CREATE UNIQUE INDEX feedback_configs_one_first ON feedback_configs (tenant_id, feedback_key)
    WHERE is_first AND deleted_at IS NULL;
CREATE UNIQUE INDEX feedback_configs_one_enforced ON feedback_configs (tenant_id, feedback_key)
    WHERE is_enforced AND deleted_at IS NULL;
