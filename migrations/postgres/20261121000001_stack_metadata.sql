-- The regional stack this database belongs to. An organisation's data never leaves its region,
-- so a service configured for another region reports this database as not ready instead of
-- writing to it. `migrate` records the region on first run.
CREATE TABLE stack_metadata (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    region TEXT NOT NULL CHECK (region IN ('us', 'eu', 'apac', 'aws')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
