-- Traces upgraded to the long retention tier (CONTROL_PLANE.md §4.4): feedback on any of their
-- runs, an annotation-queue add, or an explicit `extend_trace_retention`. Reads only ask whether
-- a trace is upgraded; merges keep one row per trace. Kept apart from `runs`, so an upgrade never
-- rewrites run rows and can arrive before its trace does (feedback is accepted before its run).
CREATE TABLE IF NOT EXISTS trace_upgrades (
    tenant_id UUID,
    trace_id UUID,
    upgraded_at_us Int64,
    reason String
) ENGINE = ReplacingMergeTree()
ORDER BY (tenant_id, trace_id);
