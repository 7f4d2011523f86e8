//! The read-side run (the SDKs' `RunSchema`) built from a stored row.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ironsmith_analytics::run_query::FeedbackStat;
use ironsmith_analytics::runs::RunRow;
use ironsmith_api_types::resources::AttachmentUrl;
use ironsmith_api_types::runs::{FeedbackKeyStats, FeedbackStats, Run};
use ironsmith_runs::dotted_order;
use serde_json::{Value, json};
use uuid::Uuid;

use super::attachments::UrlSigner;

pub use ironsmith_api_types::runs::Selection;

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

/// A time in microseconds, or none when out of range.
pub fn time(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

/// Stored JSON text, or none when empty or unreadable.
fn json_text(text: &str) -> Option<Value> {
    if text.is_empty() {
        None
    } else {
        serde_json::from_str(text).ok()
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// Feedback statistics by key, with categorical values labelled by their text.
pub fn feedback_stats(stats: &BTreeMap<String, FeedbackStat>) -> FeedbackStats {
    FeedbackStats(
        stats
            .iter()
            .map(|(key, stat)| {
                let values = stat
                    .values
                    .iter()
                    .map(|(value, n)| {
                        let label = match serde_json::from_str::<Value>(value) {
                            Ok(Value::String(s)) => s,
                            _ => value.clone(),
                        };
                        (label, *n)
                    })
                    .collect();
                (
                    key.clone(),
                    FeedbackKeyStats {
                        n: stat.n,
                        avg: stat.avg(),
                        stdev: stat.stdev(),
                        errors: 0,
                        values,
                    },
                )
            })
            .collect(),
    )
}

/// `s3_urls`: a signed download URL per attachment.
fn attachment_urls(row: &RunRow, signer: &UrlSigner, now: i64) -> BTreeMap<String, AttachmentUrl> {
    let Some(Value::Object(attachments)) = json_text(&row.attachments) else {
        return BTreeMap::new();
    };
    attachments
        .into_iter()
        .filter_map(|(name, meta)| {
            let key = meta.get("key")?.as_str()?;
            Some((
                format!("attachment.{name}"),
                AttachmentUrl {
                    presigned_url: signer.url(key, now),
                    mime_type: meta
                        .get("mime_type")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                },
            ))
        })
        .collect()
}

pub struct Renderer<'a> {
    pub signer: &'a UrlSigner,
    pub now: i64,
}

impl Renderer<'_> {
    pub fn run(&self, row: &RunRow, extras: Extras<'_>) -> Run {
        let start_time = time(row.start_time_us);
        let (child_run_ids, direct_child_run_ids) = match extras.children {
            Some((descendants, direct)) => (Some(descendants), Some(direct)),
            None => (None, None),
        };
        Run {
            id: row.id,
            name: row.name.clone(),
            run_type: row.run_type.clone(),
            status: row.status.clone(),
            start_time,
            end_time: row.end_time_us.and_then(time),
            inputs: json_text(&row.inputs).unwrap_or_else(|| json!({})),
            inputs_preview: non_empty(&row.inputs_preview),
            outputs: json_text(&row.outputs),
            outputs_preview: non_empty(&row.outputs_preview),
            extra: json_text(&row.extra).unwrap_or_else(|| json!({})),
            error: non_empty(&row.error),
            events: json_text(&row.events).unwrap_or_else(|| json!([])),
            tags: row.tags.clone(),
            serialized: json_text(&row.serialized),
            parent_run_id: row.parent_run_id,
            parent_run_ids: dotted_order::ancestors(&row.dotted_order),
            child_run_ids,
            direct_child_run_ids,
            trace_id: row.trace_id,
            dotted_order: row.dotted_order.clone(),
            trace_min_start_time: None,
            trace_max_start_time: None,
            session_id: row.session_id,
            app_path: format!(
                "/o/{}/projects/p/{}/r/{}?trace_id={}&start_time={}",
                row.tenant_id,
                row.session_id,
                row.id,
                row.trace_id,
                start_time
                    .as_ref()
                    .map(ironsmith_api_types::timestamp::format)
                    .unwrap_or_default()
            ),
            execution_order: 1,
            reference_example_id: row.reference_example_id,
            reference_dataset_id: extras.reference_dataset_id,
            feedback_stats: extras.feedback.map(feedback_stats),
            total_tokens: row.total_tokens.max(0),
            prompt_tokens: row.prompt_tokens.max(0),
            completion_tokens: row.completion_tokens.max(0),
            prompt_token_details: json_text(&row.prompt_token_details),
            completion_token_details: json_text(&row.completion_token_details),
            total_cost: row.total_cost,
            prompt_cost: row.prompt_cost,
            completion_cost: row.completion_cost,
            prompt_cost_details: json_text(&row.prompt_cost_details),
            completion_cost_details: json_text(&row.completion_cost_details),
            price_model_id: row.price_model_id,
            first_token_time: row.first_token_time_us.and_then(time),
            messages: None,
            manifest_id: None,
            manifest_s3_id: None,
            inputs_s3_urls: None,
            outputs_s3_urls: None,
            s3_urls: attachment_urls(row, self.signer, self.now),
            last_queued_at: None,
            in_dataset: None,
            share_token: extras.share_token,
            trace_tier: if extras.upgraded {
                Some("longlived".to_owned())
            } else {
                non_empty(&row.trace_tier)
            },
            trace_first_received_at: time(row.first_received_us),
            ttl_seconds: None,
            trace_upgrade: extras.upgraded,
            thread_id: non_empty(&row.thread_id),
        }
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
        assert_eq!(dotted_order::ancestors(&grandchild), vec![a, b]);
        assert!(dotted_order::ancestors(&root).is_empty());
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
