//! The read-side run (the SDKs' `RunSchema`) built from a stored row.

use std::collections::BTreeMap;

use ironsmith_analytics::run_query::FeedbackStat;
use ironsmith_analytics::runs::RunRow;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::attachments::UrlSigner;

/// Fields returned whatever `select` says.
const ALWAYS: [&str; 8] = [
    "id",
    "name",
    "run_type",
    "start_time",
    "trace_id",
    "dotted_order",
    "session_id",
    "status",
];

/// Which fields to return: all of them, or `select` plus [`ALWAYS`].
#[derive(Debug, Clone)]
pub enum Selection {
    All,
    Only(Vec<String>),
}

impl Selection {
    pub fn from(select: Option<&[String]>) -> Self {
        match select {
            None | Some([]) => Selection::All,
            Some(fields) => Selection::Only(fields.to_vec()),
        }
    }

    pub fn wants(&self, field: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(fields) => ALWAYS.contains(&field) || fields.iter().any(|f| f == field),
        }
    }
}

/// What the renderer knows beyond the row itself.
#[derive(Default)]
pub struct Extras<'a> {
    pub feedback: Option<&'a BTreeMap<String, FeedbackStat>>,
    /// Descendants and direct children, in execution order.
    pub children: Option<(Vec<Uuid>, Vec<Uuid>)>,
    pub share_token: Option<Uuid>,
    pub reference_dataset_id: Option<Uuid>,
    /// The run's trace was upgraded to the long retention tier (feedback, an annotation queue).
    pub upgraded: bool,
}

/// A time in microseconds as the API emits it, or null when out of range.
pub fn time(us: i64) -> Value {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| Value::String(ironsmith_api_types::timestamp::format(&t)))
        .unwrap_or(Value::Null)
}

fn json_or(text: &str, empty: Value) -> Value {
    if text.is_empty() {
        empty
    } else {
        serde_json::from_str(text).unwrap_or(empty)
    }
}

fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::String(text.to_owned())
    }
}

/// The ancestors of a run, root first, from its dotted order.
pub fn ancestors(dotted_order: &str) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = dotted_order
        .split('.')
        .filter_map(|segment| segment.split_once('Z'))
        .filter_map(|(_, id)| Uuid::try_parse(id).ok())
        .collect();
    ids.pop();
    ids
}

pub fn feedback_stats(stats: &BTreeMap<String, FeedbackStat>) -> Value {
    Value::Object(
        stats
            .iter()
            .map(|(key, stat)| {
                let values: Map<String, Value> = stat
                    .values
                    .iter()
                    .map(|(value, n)| {
                        let label = match serde_json::from_str::<Value>(value) {
                            Ok(Value::String(s)) => s,
                            _ => value.clone(),
                        };
                        (label, json!(n))
                    })
                    .collect();
                (
                    key.clone(),
                    json!({
                        "n": stat.n,
                        "avg": stat.avg(),
                        "stdev": stat.stdev(),
                        "errors": 0,
                        "values": values,
                    }),
                )
            })
            .collect(),
    )
}

/// `s3_urls`: a signed download URL per attachment.
fn attachment_urls(row: &RunRow, signer: &UrlSigner, now: i64) -> Value {
    let attachments: Map<String, Value> = json_or(&row.attachments, json!({}))
        .as_object()
        .cloned()
        .unwrap_or_default();
    Value::Object(
        attachments
            .into_iter()
            .filter_map(|(name, meta)| {
                let key = meta.get("key")?.as_str()?;
                Some((
                    format!("attachment.{name}"),
                    json!({
                        "presigned_url": signer.url(key, now),
                        "mime_type": meta.get("mime_type").cloned().unwrap_or(Value::Null),
                    }),
                ))
            })
            .collect(),
    )
}

pub struct Renderer<'a> {
    pub selection: &'a Selection,
    pub signer: &'a UrlSigner,
    pub now: i64,
}

impl Renderer<'_> {
    // One line per field of the SDKs' `RunSchema`; it goes when runs are rendered from a
    // typed response struct.
    #[allow(clippy::too_many_lines)]
    pub fn run(&self, row: &RunRow, extras: &Extras<'_>) -> Value {
        let mut out = Map::new();
        let mut put = |field: &str, value: Value| {
            if self.selection.wants(field) {
                out.insert(field.to_owned(), value);
            }
        };
        put("id", json!(row.id));
        put("name", json!(row.name));
        put("run_type", json!(row.run_type));
        put("status", json!(row.status));
        put("start_time", time(row.start_time_us));
        put("end_time", row.end_time_us.map(time).unwrap_or(Value::Null));
        put("inputs", json_or(&row.inputs, json!({})));
        put("inputs_preview", non_empty(&row.inputs_preview));
        put("outputs", json_or(&row.outputs, Value::Null));
        put("outputs_preview", non_empty(&row.outputs_preview));
        put("extra", json_or(&row.extra, json!({})));
        put("error", non_empty(&row.error));
        put("events", json_or(&row.events, json!([])));
        put("tags", json!(row.tags));
        put("serialized", json_or(&row.serialized, Value::Null));
        put("parent_run_id", json!(row.parent_run_id));
        put("parent_run_ids", json!(ancestors(&row.dotted_order)));
        if let Some((descendants, direct)) = &extras.children {
            put("child_run_ids", json!(descendants));
            put("direct_child_run_ids", json!(direct));
        } else {
            put("child_run_ids", Value::Null);
            put("direct_child_run_ids", Value::Null);
        }
        put("trace_id", json!(row.trace_id));
        put("dotted_order", json!(row.dotted_order));
        put("trace_min_start_time", Value::Null);
        put("trace_max_start_time", Value::Null);
        put("session_id", json!(row.session_id));
        put(
            "app_path",
            json!(format!(
                "/o/{}/projects/p/{}/r/{}?trace_id={}&start_time={}",
                row.tenant_id,
                row.session_id,
                row.id,
                row.trace_id,
                time(row.start_time_us).as_str().unwrap_or_default()
            )),
        );
        put("execution_order", json!(1));
        put("reference_example_id", json!(row.reference_example_id));
        put("reference_dataset_id", json!(extras.reference_dataset_id));
        put(
            "feedback_stats",
            extras.feedback.map(feedback_stats).unwrap_or(Value::Null),
        );
        let tokens = |n: i64| if n > 0 { json!(n) } else { json!(0) };
        put("total_tokens", tokens(row.total_tokens));
        put("prompt_tokens", tokens(row.prompt_tokens));
        put("completion_tokens", tokens(row.completion_tokens));
        put(
            "prompt_token_details",
            json_or(&row.prompt_token_details, Value::Null),
        );
        put(
            "completion_token_details",
            json_or(&row.completion_token_details, Value::Null),
        );
        put("total_cost", json!(row.total_cost));
        put("prompt_cost", json!(row.prompt_cost));
        put("completion_cost", json!(row.completion_cost));
        put(
            "prompt_cost_details",
            json_or(&row.prompt_cost_details, Value::Null),
        );
        put(
            "completion_cost_details",
            json_or(&row.completion_cost_details, Value::Null),
        );
        put("price_model_id", json!(row.price_model_id));
        put(
            "first_token_time",
            row.first_token_time_us.map(time).unwrap_or(Value::Null),
        );
        put("messages", Value::Null);
        put("manifest_id", Value::Null);
        put("manifest_s3_id", Value::Null);
        put("inputs_s3_urls", Value::Null);
        put("outputs_s3_urls", Value::Null);
        put("s3_urls", attachment_urls(row, self.signer, self.now));
        put("last_queued_at", Value::Null);
        put("in_dataset", Value::Null);
        put("share_token", json!(extras.share_token));
        put(
            "trace_tier",
            if extras.upgraded {
                json!("longlived")
            } else {
                non_empty(&row.trace_tier)
            },
        );
        put("trace_first_received_at", time(row.first_received_us));
        put("ttl_seconds", Value::Null);
        put("trace_upgrade", json!(extras.upgraded));
        put("thread_id", non_empty(&row.thread_id));
        Value::Object(out)
    }
}

/// Descendants and direct children of the run at `dotted_order`, from its trace's members in
/// execution order.
pub fn children_of<'a>(
    dotted_order: &str,
    members: impl Iterator<Item = (&'a str, Uuid)>,
) -> (Vec<Uuid>, Vec<Uuid>) {
    let prefix = format!("{dotted_order}.");
    let mut descendants = Vec::new();
    let mut direct = Vec::new();
    for (order, id) in members {
        if let Some(rest) = order.strip_prefix(&prefix) {
            descendants.push(id);
            if !rest.contains('.') {
                direct.push(id);
            }
        }
    }
    (descendants, direct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_and_children_come_from_dotted_orders() {
        let [a, b, c, d] = [
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        ];
        let seg = |id: Uuid| format!("20250301T101500000000Z{id}");
        let root = seg(a);
        let child = format!("{root}.{}", seg(b));
        let grandchild = format!("{child}.{}", seg(c));
        let sibling = format!("{root}.{}", seg(d));
        assert_eq!(ancestors(&grandchild), vec![a, b]);
        assert!(ancestors(&root).is_empty());
        let members = [
            (root.as_str(), a),
            (child.as_str(), b),
            (grandchild.as_str(), c),
            (sibling.as_str(), d),
        ];
        assert_eq!(
            children_of(&root, members.iter().copied()),
            (vec![b, c, d], vec![b, d])
        );
        assert_eq!(
            children_of(&child, members.iter().copied()),
            (vec![c], vec![c])
        );
    }
}
