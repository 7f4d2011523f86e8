-- Runs, their lookup tables, and feedback. Must run on ClickHouse 18.16 and current releases
-- (see README.md): times are Int64 microseconds, metadata is flattened into parallel arrays.
--
-- Every table is a ReplacingMergeTree over `version` (a UInt64 write time in microseconds): an
-- update inserts a complete new row, and reads deduplicate explicitly (latest version per id)
-- before filtering `is_deleted = 0`. Partitions are weeks of an immutable time, so dropping a
-- partition expires whole weeks and every version of a row lands in the same partition.

-- One row per run version. Sorted for "a project's runs, newest first". Payload columns
-- (inputs, outputs, extra, events, serialized) are separate columns that listings never read;
-- payloads of 20 KB and more live in object storage and only their key is here.
CREATE TABLE IF NOT EXISTS runs (
    tenant_id UUID,
    session_id UUID,
    start_time_us Int64,
    id UUID,
    trace_id UUID,
    parent_run_id Nullable(UUID),
    dotted_order String,
    depth UInt16,
    parent_run_ids Array(UUID),
    name String,
    run_type String,
    status String,
    end_time_us Nullable(Int64),
    first_token_time_us Nullable(Int64),
    error String,
    inputs String,
    outputs String,
    inputs_preview String,
    outputs_preview String,
    inputs_s3_key String,
    outputs_s3_key String,
    extra String,
    events String,
    serialized String,
    attachments String,
    tags Array(String),
    metadata_keys Array(String),
    metadata_values Array(String),
    reference_example_id Nullable(UUID),
    thread_id String,
    ls_provider String,
    ls_model_name String,
    prompt_tokens Int64,
    completion_tokens Int64,
    total_tokens Int64,
    prompt_cost Nullable(Float64),
    completion_cost Nullable(Float64),
    total_cost Nullable(Float64),
    prompt_token_details String,
    completion_token_details String,
    prompt_cost_details String,
    completion_cost_details String,
    price_model_id Nullable(UUID),
    trace_tier String,
    has_create UInt8,
    first_received_us Int64,
    received_us Int64,
    version UInt64,
    is_deleted UInt8
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toMonday(toDateTime(intDiv(first_received_us, 1000000)))
ORDER BY (tenant_id, session_id, start_time_us, id);

-- Where each run is, by id: the worker's look-up of a run's previous version and GET /runs/{id}.
CREATE TABLE IF NOT EXISTS run_ids (
    tenant_id UUID,
    id UUID,
    session_id UUID,
    start_time_us Int64,
    trace_id UUID,
    dotted_order String,
    first_received_us Int64,
    version UInt64,
    is_deleted UInt8
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toMonday(toDateTime(intDiv(first_received_us, 1000000)))
ORDER BY (tenant_id, id);

-- A whole trace in execution order: the trace view and trace-level filters.
CREATE TABLE IF NOT EXISTS runs_by_trace (
    tenant_id UUID,
    trace_id UUID,
    dotted_order String,
    id UUID,
    session_id UUID,
    start_time_us Int64,
    first_received_us Int64,
    version UInt64,
    is_deleted UInt8
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toMonday(toDateTime(intDiv(first_received_us, 1000000)))
ORDER BY (tenant_id, trace_id, dotted_order, id);

-- Feedback, from multipart `feedback.<id>` parts (and, later, the REST API). Accepted before
-- its run exists, so it is keyed by trace rather than by project.
CREATE TABLE IF NOT EXISTS feedback (
    tenant_id UUID,
    trace_id UUID,
    id UUID,
    run_id Nullable(UUID),
    session_id Nullable(UUID),
    key String,
    score Nullable(Float64),
    value String,
    comment String,
    correction String,
    feedback_source String,
    feedback_config String,
    comparative_experiment_id Nullable(UUID),
    feedback_group_id Nullable(UUID),
    extra String,
    created_at_us Int64,
    modified_at_us Int64,
    version UInt64,
    is_deleted UInt8
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toMonday(toDateTime(intDiv(created_at_us, 1000000)))
ORDER BY (tenant_id, trace_id, id);
