-- Keys of a run's free-form fields kept in object storage: `extra`, `events`, `serialized` and
-- `error` above the offload threshold are written there (like large inputs and outputs), so
-- neither the ingestion stream nor ClickHouse carries them. `extra` keeps, inline, the parts
-- derived columns and filters read (`metadata`, the model name); `error` keeps a preview, so
-- status and error filters work unchanged. Empty when the field is inline. One statement, so a
-- failure never leaves it half applied (18.16 has no `ADD COLUMN IF NOT EXISTS`).
ALTER TABLE runs
    ADD COLUMN extra_s3_key String AFTER outputs_s3_key,
    ADD COLUMN events_s3_key String AFTER extra_s3_key,
    ADD COLUMN serialized_s3_key String AFTER events_s3_key,
    ADD COLUMN error_s3_key String AFTER serialized_s3_key;
