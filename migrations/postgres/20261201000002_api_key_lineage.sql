-- The key that minted a key, when a key (not a signed-in user) did: revoking a key revokes
-- every key minted through it, so a leaked key cannot leave keys behind that outlive it.
ALTER TABLE api_keys ADD COLUMN created_by_key UUID REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX api_keys_created_by_key ON api_keys (created_by_key) WHERE created_by_key IS NOT NULL;
