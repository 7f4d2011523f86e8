//! Folding operations into a run.
//!
//! Operations for one run arrive in any order, split across parts and requests, sometimes
//! twice. The worker folds each into the run's latest row:
//! - identity fields (`name`, `run_type`, `start_time`, `trace_id`, `parent_run_id`,
//!   `dotted_order`, project, `reference_example_id`) are set by whichever arrives first;
//! - an update (`patch`) overwrites `end_time`, `error`, `outputs`, `inputs`, `events`, `tags`
//!   and `serialized` with its non-null values; a create (`post`) only fills what is still unset,
//!   so a create that arrives after its update never erases what the update set;
//! - `extra` is merged deeply, key by key (`extra: {}` changes nothing); on an update the new
//!   values win, on a create the existing ones do;
//! - attachments are added by name, a repeated name replacing the old one;
//! - a free-form field kept in object storage (`*_stored`) sets its column's key instead of
//!   its text: `events` and `serialized` keep nothing inline, `error` its beginning. A stored
//!   `extra` is merged like an inline one once the worker has put the whole back, and a merged
//!   `extra` that reaches the offload threshold is moved out again by the worker, keeping
//!   [`extra_projection`] inline.
//!
//! Folding the same operation twice gives the same row, which is what makes redelivery safe.

use ironsmith_analytics::runs::RunRow;
use serde_json::{Map, Value};
use uuid::Uuid;

use serde_json::value::RawValue;

use crate::op::{Attachment, OpKind, Payload, RunOp, StoredField};
use crate::pricing::PriceTable;

/// How many characters of inputs and outputs the listing columns keep.
pub const PREVIEW_CHARS: usize = 200;

/// How many characters of an error kept in object storage stay inline, for listings and
/// error filters.
pub const ERROR_INLINE_CHARS: usize = 4096;

/// The beginning of `error` kept inline when the whole is in object storage.
pub fn error_beginning(error: &str) -> String {
    match error.char_indices().nth(ERROR_INLINE_CHARS) {
        Some((at, _)) => error[..at].to_owned(),
        None => error.to_owned(),
    }
}

/// A fresh row for a run first seen in a request accepted at `received_us`.
pub fn new_row(tenant_id: Uuid, id: Uuid, received_us: i64) -> RunRow {
    RunRow {
        tenant_id,
        id,
        first_received_us: received_us,
        received_us,
        trace_tier: "shortlived".into(),
        status: "pending".into(),
        ..RunRow::default()
    }
}

/// Folds `op` into `row`.
pub fn apply(row: &mut RunRow, op: &RunOp, received_us: i64) {
    let update = op.kind == OpKind::Patch;
    fill(&mut row.name, op.name.as_deref());
    fill(&mut row.run_type, op.run_type.as_deref());
    if row.start_time_us == 0
        && let Some(start) = op.start_time_us
    {
        row.start_time_us = start;
    }
    if row.trace_id.is_nil()
        && let Some(trace) = op.trace_id
    {
        row.trace_id = trace;
    }
    if row.parent_run_id.is_none() {
        row.parent_run_id = op.parent_run_id;
    }
    fill(&mut row.dotted_order, op.dotted_order.as_deref());
    if row.session_id.is_nil()
        && let Some(session) = op.session_id
    {
        row.session_id = session;
    }
    if row.reference_example_id.is_none() {
        row.reference_example_id = op.reference_example_id;
    }

    if let Some(end) = op.end_time_us
        && (update || row.end_time_us.is_none())
    {
        row.end_time_us = Some(end);
    }
    if let Some(error) = &op.error
        && (update || row.error.is_empty())
    {
        row.error.clone_from(error);
        match &op.error_stored {
            Some(stored) => stored.key.clone_into(&mut row.error_s3_key),
            None => row.error_s3_key.clear(),
        }
    }
    apply_payloads(row, op, update);
    if (op.events.is_some() || op.events_stored.is_some())
        && (update || (row.events.is_empty() && row.events_s3_key.is_empty()))
    {
        set_field(
            op.events.as_deref(),
            op.events_stored.as_ref(),
            &mut row.events,
            &mut row.events_s3_key,
        );
        if op.events_stored.is_some() && op.first_token_time_us.is_some() {
            row.first_token_time_us = op.first_token_time_us;
        }
    }
    if (op.serialized.is_some() || op.serialized_stored.is_some())
        && (update || (row.serialized.is_empty() && row.serialized_s3_key.is_empty()))
    {
        set_field(
            op.serialized.as_deref(),
            op.serialized_stored.as_ref(),
            &mut row.serialized,
            &mut row.serialized_s3_key,
        );
    }
    if let Some(tags) = &op.tags
        && (update || row.tags.is_empty())
    {
        row.tags.clone_from(tags);
    }
    // A stored `extra` is folded once the worker has put it back (`with_stored_extra`).
    if let Some(extra) = &op.extra
        && op.extra_stored.is_none()
    {
        row.extra = merge_extra(&row.extra, extra.get(), update);
    }
    if !op.attachments.is_empty() {
        row.attachments = merge_attachments(&row.attachments, &op.attachments);
    }
    if op.kind == OpKind::Post && op.has_run_part {
        row.has_create = 1;
    }
    row.received_us = row.received_us.max(received_us);
}

fn fill(slot: &mut String, value: Option<&str>) {
    if slot.is_empty()
        && let Some(value) = value
    {
        value.clone_into(slot);
    }
}

/// The columns one payload (inputs or outputs) fills.
struct PayloadColumns<'a> {
    inline: &'a mut String,
    key: &'a mut String,
    preview: &'a mut String,
    field_keys: &'a mut Vec<String>,
    field_values: &'a mut Vec<String>,
}

/// Folds `op`'s inputs and outputs: an update replaces them, a create fills them when unset.
fn apply_payloads(row: &mut RunRow, op: &RunOp, update: bool) {
    if let Some(payload) = &op.inputs
        && (update || (row.inputs.is_empty() && row.inputs_s3_key.is_empty()))
    {
        set_payload(
            payload,
            PayloadColumns {
                inline: &mut row.inputs,
                key: &mut row.inputs_s3_key,
                preview: &mut row.inputs_preview,
                field_keys: &mut row.input_keys,
                field_values: &mut row.input_values,
            },
        );
    }
    if let Some(payload) = &op.outputs
        && (update || (row.outputs.is_empty() && row.outputs_s3_key.is_empty()))
    {
        set_payload(
            payload,
            PayloadColumns {
                inline: &mut row.outputs,
                key: &mut row.outputs_s3_key,
                preview: &mut row.outputs_preview,
                field_keys: &mut row.output_keys,
                field_values: &mut row.output_values,
            },
        );
    }
}

/// Sets a free-form column to its inline value, or to nothing and the key of the object
/// holding it.
fn set_field(
    inline: Option<&RawValue>,
    stored: Option<&StoredField>,
    text: &mut String,
    key: &mut String,
) {
    match (stored, inline) {
        (Some(stored), _) => {
            text.clear();
            stored.key.clone_into(key);
        }
        (None, Some(value)) => {
            value.get().clone_into(text);
            key.clear();
        }
        (None, None) => {}
    }
}

/// Whether folding `op` into `row` needs the row's whole `extra` back from object storage:
/// the operation brings `extra` to merge, and the row keeps only a projection inline.
pub fn needs_whole_extra(row: &RunRow, op: &RunOp) -> bool {
    !row.extra_s3_key.is_empty() && (op.extra.is_some() || op.extra_stored.is_some())
}

/// `op` with its stored `extra` put back inline from `fetched` (by key); `None` when it has
/// none stored (or it was not fetched: then its `extra` is not folded).
pub fn with_stored_extra(
    op: &RunOp,
    fetched: &std::collections::HashMap<String, Box<RawValue>>,
) -> Option<RunOp> {
    let whole = fetched.get(&op.extra_stored.as_ref()?.key)?;
    let mut resolved = op.clone();
    resolved.extra = Some(whole.clone());
    resolved.extra_stored = None;
    Some(resolved)
}

/// What of a large `extra` stays inline once the whole is in object storage: the parts
/// [`finish`] derives columns from (`metadata`, the model in `invocation_params`).
pub fn extra_projection(extra: &str) -> String {
    let Ok(Value::Object(mut whole)) = serde_json::from_str::<Value>(extra) else {
        return "{}".into();
    };
    let mut kept = Map::new();
    if let Some(metadata) = whole.remove("metadata") {
        kept.insert("metadata".into(), metadata);
    }
    if let Some(Value::Object(mut params)) = whole.remove("invocation_params") {
        let mut model = Map::new();
        for key in ["model", "model_name"] {
            if let Some(value) = params.remove(key) {
                model.insert(key.into(), value);
            }
        }
        kept.insert("invocation_params".into(), Value::Object(model));
    }
    Value::Object(kept).to_string()
}

fn set_payload(payload: &Payload, columns: PayloadColumns<'_>) {
    let pairs = match payload {
        Payload::Inline(json) => {
            json.get().clone_into(columns.inline);
            columns.key.clear();
            *columns.preview = preview_of(json.get());
            top_level_fields(json.get())
        }
        Payload::Stored(stored) => {
            columns.inline.clear();
            stored.key.clone_into(columns.key);
            stored.preview.clone_into(columns.preview);
            stored.fields.clone()
        }
    };
    (*columns.field_keys, *columns.field_values) = pairs.into_iter().unzip();
}

/// Longest top-level value kept for `input_value`/`output_value` filters, in characters.
pub const FIELD_VALUE_CHARS: usize = 256;

/// The top-level keys of a JSON object payload and their values as filters compare them (a
/// string as itself, anything else as JSON), each value cut to [`FIELD_VALUE_CHARS`].
pub fn top_level_fields(json: &str) -> Vec<(String, String)> {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(json) else {
        return Vec::new();
    };
    object
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let text = match text.char_indices().nth(FIELD_VALUE_CHARS) {
                Some((at, _)) => text[..at].to_owned(),
                None => text,
            };
            (key, text)
        })
        .collect()
}

/// The listing preview of a JSON payload: its first characters, cut on a character boundary.
pub fn preview_of(json: &str) -> String {
    match json.char_indices().nth(PREVIEW_CHARS) {
        Some((at, _)) => json[..at].to_owned(),
        None => json.to_owned(),
    }
}

/// Deep-merges `incoming` into `existing` (both JSON objects as text). With `incoming_wins`
/// the incoming values replace existing ones; otherwise they only fill gaps.
fn merge_extra(existing: &str, incoming: &str, incoming_wins: bool) -> String {
    if existing.is_empty() {
        return incoming.to_owned();
    }
    if incoming.trim() == "{}" {
        return existing.to_owned();
    }
    let (Ok(Value::Object(mut base)), Ok(Value::Object(new))) = (
        serde_json::from_str::<Value>(existing),
        serde_json::from_str::<Value>(incoming),
    ) else {
        return existing.to_owned();
    };
    deep_merge(&mut base, new, incoming_wins);
    Value::Object(base).to_string()
}

fn deep_merge(base: &mut Map<String, Value>, incoming: Map<String, Value>, incoming_wins: bool) {
    for (key, value) in incoming {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => deep_merge(old, new, incoming_wins),
            (_, Value::Null) => {}
            (Some(_), value) if incoming_wins => {
                base.insert(key, value);
            }
            (Some(_), _) => {}
            (None, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn merge_attachments(existing: &str, incoming: &[Attachment]) -> String {
    let mut all: Map<String, Value> = serde_json::from_str(existing).unwrap_or_default();
    for attachment in incoming {
        all.insert(
            attachment.name.clone(),
            serde_json::json!({
                "key": attachment.key,
                "mime_type": attachment.mime_type,
                "size": attachment.size,
            }),
        );
    }
    Value::Object(all).to_string()
}

/// Computes the derived columns of a merged row: status, depth, metadata arrays, thread id,
/// model, tokens and cost, first-token time. `version` must exceed every earlier version.
pub fn finish(row: &mut RunRow, prices: &PriceTable, version: u64) {
    row.version = version;
    row.status = if !row.error.is_empty() {
        "error"
    } else if row.end_time_us.is_some() {
        "success"
    } else {
        "pending"
    }
    .into();
    row.depth = u16::try_from(row.dotted_order.matches('.').count()).unwrap_or(u16::MAX);

    let extra: Map<String, Value> = if row.extra.is_empty() {
        Map::new()
    } else {
        serde_json::from_str(&row.extra).unwrap_or_default()
    };
    let metadata = extra.get("metadata").and_then(Value::as_object);
    row.metadata_keys.clear();
    row.metadata_values.clear();
    if let Some(metadata) = metadata {
        for (key, value) in metadata {
            row.metadata_keys.push(key.clone());
            row.metadata_values.push(match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
    }
    let text = |key: &str| -> Option<String> {
        metadata.and_then(|m| m.get(key)).and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    row.thread_id = text("thread_id")
        .or_else(|| text("session_id"))
        .or_else(|| text("conversation_id"))
        .unwrap_or_default();
    row.ls_provider = text("ls_provider").unwrap_or_default();
    row.ls_model_name = text("ls_model_name")
        .or_else(|| {
            extra
                .get("invocation_params")
                .and_then(|p| p.get("model").or_else(|| p.get("model_name")))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();

    if row.run_type == "llm" {
        let usage = usage_from_outputs(&row.outputs).or_else(|| {
            metadata
                .and_then(|m| m.get("usage_metadata"))
                .and_then(Value::as_object)
                .cloned()
        });
        if let Some(usage) = usage {
            apply_usage(row, &usage);
        }
        if row.total_cost.is_none() && row.total_tokens > 0 {
            apply_price(row, prices);
        }
    }
    if row.first_token_time_us.is_none() && row.events.contains("new_token") {
        row.first_token_time_us = first_token_time(&row.events);
    }
}

fn usage_from_outputs(outputs: &str) -> Option<Map<String, Value>> {
    if !outputs.contains("usage_metadata") {
        return None;
    }
    let outputs: Value = serde_json::from_str(outputs).ok()?;
    outputs.get("usage_metadata")?.as_object().cloned()
}

/// Most tokens one run may report: client values are clamped to this, so sums over millions of
/// runs cannot overflow.
const MAX_TOKENS: i64 = 1_000_000_000_000;

fn apply_usage(row: &mut RunRow, usage: &Map<String, Value>) {
    // Float-to-integer casts saturate; the clamp keeps sums far from the i64 range.
    let int = |key: &str| {
        usage
            .get(key)
            .and_then(number)
            .map(|n| (n.round() as i64).clamp(0, MAX_TOKENS))
    };
    let cost = |key: &str| usage.get(key).and_then(number);
    let details = |key: &str| {
        usage
            .get(key)
            .filter(|v| v.is_object())
            .map(Value::to_string)
            .unwrap_or_default()
    };
    row.prompt_tokens = int("input_tokens").unwrap_or(0);
    row.completion_tokens = int("output_tokens").unwrap_or(0);
    row.total_tokens = int("total_tokens")
        .unwrap_or_else(|| row.prompt_tokens.saturating_add(row.completion_tokens));
    row.prompt_cost = cost("input_cost");
    row.completion_cost = cost("output_cost");
    row.total_cost = cost("total_cost").or(match (row.prompt_cost, row.completion_cost) {
        (None, None) => None,
        (p, c) => Some(p.unwrap_or(0.0) + c.unwrap_or(0.0)),
    });
    row.prompt_token_details = details("input_token_details");
    row.completion_token_details = details("output_token_details");
    row.prompt_cost_details = details("input_cost_details");
    row.completion_cost_details = details("output_cost_details");
}

/// A finite number, or a numeric string (costs arrive as decimals serialised either way); NaN
/// and infinities, which `"NaN"` or `"1e999"` would give, are not numbers here.
fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    n.is_finite().then_some(n)
}

fn apply_price(row: &mut RunRow, prices: &PriceTable) {
    if row.ls_model_name.is_empty() {
        return;
    }
    if let Some(price) = prices.find(row.tenant_id, &row.ls_provider, &row.ls_model_name) {
        let prompt = row.prompt_tokens as f64 * price.prompt_per_million / 1e6;
        let completion = row.completion_tokens as f64 * price.completion_per_million / 1e6;
        row.prompt_cost = Some(prompt);
        row.completion_cost = Some(completion);
        row.total_cost = Some(prompt + completion);
        row.price_model_id = Some(price.id);
    }
}

/// When the first `new_token` event of `events` (a JSON array) happened, µs since the epoch.
pub fn first_token_time(events: &str) -> Option<i64> {
    let events: Vec<Value> = serde_json::from_str(events).ok()?;
    events
        .iter()
        .filter(|e| e.get("name").and_then(Value::as_str) == Some("new_token"))
        .filter_map(|e| match e.get("time")? {
            Value::String(s) => ironsmith_api_types::timestamp::parse(s),
            Value::Number(n) => ironsmith_api_types::timestamp::from_epoch(n.as_f64()?),
            _ => None,
        })
        .map(|t| t.timestamp_micros())
        .min()
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).expect("json")
    }

    fn id() -> Uuid {
        Uuid::parse_str("0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d11").expect("uuid")
    }

    fn create() -> RunOp {
        let mut op = RunOp::new(OpKind::Post, id());
        op.has_run_part = true;
        op.name = Some("chat".into());
        op.run_type = Some("llm".into());
        op.start_time_us = Some(10);
        op.trace_id = Some(id());
        op.dotted_order = Some("d".into());
        op.inputs = Some(Payload::Inline(raw(r#"{"q":"hi"}"#)));
        op.extra = Some(raw(
            r#"{"metadata":{"a":"1","ls_provider":"openai","ls_model_name":"gpt-4o"},"runtime":{"sdk":"py"}}"#,
        ));
        op
    }

    fn end() -> RunOp {
        let mut op = RunOp::new(OpKind::Patch, id());
        op.has_run_part = true;
        op.end_time_us = Some(20);
        op.outputs = Some(Payload::Inline(raw(
            r#"{"answer":"yo","usage_metadata":{"input_tokens":1000,"output_tokens":500}}"#,
        )));
        op.extra = Some(raw(r#"{"metadata":{"b":"2"}}"#));
        op
    }

    fn fold(ops: &[RunOp]) -> RunRow {
        let mut row = new_row(Uuid::nil(), id(), 1);
        for op in ops {
            apply(&mut row, op, 1);
        }
        finish(&mut row, &PriceTable::defaults_for_tests(), 2);
        row
    }

    #[test]
    fn create_then_update_and_update_then_create_agree() {
        let in_order = fold(&[create(), end()]);
        let reversed = fold(&[end(), create()]);
        assert_eq!(in_order, reversed);
        assert_eq!(in_order.status, "success");
        assert_eq!(in_order.inputs, r#"{"q":"hi"}"#);
        assert!(in_order.outputs.contains("yo"));
        assert_eq!(
            in_order.metadata_keys,
            ["a", "b", "ls_model_name", "ls_provider"]
        );
        assert_eq!(in_order.prompt_tokens, 1000);
        assert_eq!(in_order.total_tokens, 1500);
        // 1000 × $2.5/M + 500 × $10/M from the price table.
        assert_eq!(in_order.total_cost, Some(0.0075));
        assert_eq!(in_order.has_create, 1);
    }

    #[test]
    fn redelivery_changes_nothing() {
        assert_eq!(
            fold(&[create(), end()]),
            fold(&[create(), end(), create(), end()])
        );
    }

    #[test]
    fn an_update_without_inputs_keeps_them_and_empty_extra_changes_nothing() {
        let mut patch = RunOp::new(OpKind::Patch, id());
        patch.extra = Some(raw("{}"));
        let row = fold(&[create(), patch]);
        assert_eq!(row.inputs, r#"{"q":"hi"}"#);
        assert_eq!(fold(&[create()]).extra, row.extra);
        assert_eq!(row.status, "pending");
    }

    #[test]
    fn a_late_create_does_not_erase_an_update() {
        let mut late = create();
        late.end_time_us = Some(15);
        late.outputs = Some(Payload::Inline(raw(r#"{"answer":"stale"}"#)));
        let row = fold(&[end(), late]);
        assert_eq!(row.end_time_us, Some(20));
        assert!(row.outputs.contains("yo"));
    }

    #[test]
    fn errors_and_given_costs() {
        let mut failed = end();
        failed.error = Some("boom".into());
        failed.outputs = Some(Payload::Inline(raw(
            r#"{"usage_metadata":{"input_tokens":1,"output_tokens":2,"total_tokens":3,"input_cost":"0.5","output_cost":0.25}}"#,
        )));
        let row = fold(&[create(), failed]);
        assert_eq!(row.status, "error");
        assert_eq!(row.total_cost, Some(0.75));
        assert_eq!(row.price_model_id, None);
    }

    #[test]
    fn hostile_usage_saturates_instead_of_overflowing() {
        let mut end = end();
        end.outputs = Some(Payload::Inline(raw(&format!(
            r#"{{"usage_metadata":{{"input_tokens":{max},"output_tokens":1e300,"input_cost":"NaN","output_cost":"1e999"}}}}"#,
            max = i64::MAX
        ))));
        let row = fold(&[create(), end]);
        assert_eq!(row.prompt_tokens, MAX_TOKENS);
        assert_eq!(row.completion_tokens, MAX_TOKENS);
        assert_eq!(row.total_tokens, 2 * MAX_TOKENS);
        // NaN and infinite costs are not taken; whatever is recorded is finite.
        for cost in [row.prompt_cost, row.completion_cost, row.total_cost] {
            assert!(cost.is_none_or(f64::is_finite), "{cost:?}");
        }
    }

    #[test]
    fn thread_id_and_previews() {
        let mut op = create();
        op.extra = Some(raw(r#"{"metadata":{"conversation_id":"c1"}}"#));
        let long = format!(r#"{{"q":"{}"}}"#, "é".repeat(500));
        op.inputs = Some(Payload::Inline(raw(&long)));
        let row = fold(&[op]);
        assert_eq!(row.thread_id, "c1");
        assert_eq!(row.inputs_preview.chars().count(), PREVIEW_CHARS);
    }

    fn stored(key: &str) -> Option<StoredField> {
        Some(StoredField {
            key: key.into(),
            size: 1,
        })
    }

    #[test]
    fn stored_fields_set_keys_and_an_inline_value_clears_them() {
        let mut op = create();
        op.events_stored = stored("runs/e");
        op.first_token_time_us = Some(15);
        op.serialized_stored = stored("runs/s");
        op.error = Some("Trace".into());
        op.error_stored = stored("runs/x");
        let row = fold(&[op]);
        assert_eq!(
            (row.events.as_str(), row.events_s3_key.as_str()),
            ("", "runs/e")
        );
        assert_eq!(row.first_token_time_us, Some(15));
        assert_eq!(row.serialized_s3_key, "runs/s");
        assert_eq!(
            (row.error.as_str(), row.error_s3_key.as_str()),
            ("Trace", "runs/x")
        );
        assert_eq!(row.status, "error");

        // An update with inline values replaces the stored ones; a create does not.
        let mut later_create = create();
        later_create.events = Some(raw("[]"));
        let mut update = end();
        update.events = Some(raw(r#"[{"name":"x"}]"#));
        update.error = Some("short".into());
        let mut op = create();
        op.events_stored = stored("runs/e");
        op.error = Some("Trace".into());
        op.error_stored = stored("runs/x");
        let row = fold(&[op.clone(), later_create]);
        assert_eq!(row.events_s3_key, "runs/e");
        let row = fold(&[op, update]);
        assert_eq!(
            (row.events.as_str(), row.events_s3_key.as_str()),
            (r#"[{"name":"x"}]"#, "")
        );
        assert_eq!(
            (row.error.as_str(), row.error_s3_key.as_str()),
            ("short", "")
        );
    }

    #[test]
    fn a_stored_extra_is_merged_once_put_back() {
        let mut op = end();
        op.extra = None;
        op.extra_stored = stored("runs/extra");
        // Not put back: not folded.
        assert_eq!(fold(&[create(), op.clone()]).extra, fold(&[create()]).extra);
        let fetched = std::collections::HashMap::from([(
            "runs/extra".to_owned(),
            raw(r#"{"metadata":{"b":"3"}}"#),
        )]);
        let resolved = with_stored_extra(&op, &fetched).expect("resolved");
        let row = fold(&[create(), resolved]);
        assert!(row.extra.contains(r#""b":"3""#), "{}", row.extra);
        assert!(row.extra.contains(r#""sdk":"py""#), "{}", row.extra);
        assert!(with_stored_extra(&end(), &fetched).is_none());

        let mut kept = fold(&[create()]);
        assert!(!needs_whole_extra(&kept, &end()));
        kept.extra_s3_key = "runs/whole".into();
        assert!(needs_whole_extra(&kept, &end()));
        let mut no_extra = end();
        no_extra.extra = None;
        assert!(!needs_whole_extra(&kept, &no_extra));
    }

    #[test]
    fn the_projection_keeps_what_derived_columns_read() {
        let whole = r#"{"metadata":{"thread_id":"t"},"runtime":{"sdk":"py"},
            "invocation_params":{"model":"m","tools":["big"]},"other":1}"#;
        let projection = extra_projection(whole);
        assert_eq!(
            serde_json::from_str::<Value>(&projection).ok(),
            Some(
                serde_json::json!({"metadata":{"thread_id":"t"},"invocation_params":{"model":"m"}})
            )
        );
        let mut from_whole = fold(&[create()]);
        from_whole.extra = whole.into();
        let mut from_projection = from_whole.clone();
        from_projection.extra = projection;
        finish(&mut from_whole, &PriceTable::default(), 1);
        finish(&mut from_projection, &PriceTable::default(), 1);
        assert_eq!(from_whole.thread_id, from_projection.thread_id);
        assert_eq!(from_whole.ls_model_name, from_projection.ls_model_name);
        assert_eq!(from_whole.metadata_keys, from_projection.metadata_keys);
        assert_eq!(extra_projection("not json"), "{}");
    }

    #[test]
    fn an_error_keeps_its_beginning_on_a_character_boundary() {
        let long = "é".repeat(ERROR_INLINE_CHARS + 10);
        assert_eq!(error_beginning(&long).chars().count(), ERROR_INLINE_CHARS);
        assert_eq!(error_beginning("short"), "short");
    }
}
