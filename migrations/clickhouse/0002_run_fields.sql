-- Top-level fields of inputs and outputs, flattened like metadata, for the `input_key`,
-- `input_value`, `output_key` and `output_value` filters (API.md §7.3). Values are the field's
-- text (a string as itself, anything else as JSON), cut to 256 characters. Rows written before
-- this migration have none. One statement, so a failure never leaves it half applied
-- (18.16 has no `ADD COLUMN IF NOT EXISTS`).
ALTER TABLE runs
    ADD COLUMN input_keys Array(String) AFTER metadata_values,
    ADD COLUMN input_values Array(String) AFTER input_keys,
    ADD COLUMN output_keys Array(String) AFTER input_values,
    ADD COLUMN output_values Array(String) AFTER output_keys;
