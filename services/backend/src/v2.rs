//! The v2 run shape the SDKs' generated clients read (`client.runs.query_v2`,
//! `client.runs.retrieve_v2`): every field optional, only the fields named in `selects`
//! (UPPERCASE names; `ID` alone when there are none), enums in UPPERCASE, token and cost
//! details wrapped as `{"raw": …}`, attachments as name → download URL. Built from the v1 run
//! the read path renders, so both versions answer the same data.

use serde_json::{Map, Value, json};

/// Every `selects` name, and the v1 fields it is built from.
const SELECTS: &[(&str, &[&str])] = &[
    ("ID", &["id"]),
    ("NAME", &["name"]),
    ("RUN_TYPE", &["run_type"]),
    ("STATUS", &["status"]),
    ("START_TIME", &["start_time"]),
    ("END_TIME", &["end_time"]),
    ("LATENCY_SECONDS", &["start_time", "end_time"]),
    ("FIRST_TOKEN_TIME", &["first_token_time"]),
    ("ERROR", &["error"]),
    ("ERROR_PREVIEW", &["error"]),
    ("EXTRA", &["extra"]),
    ("METADATA", &["extra"]),
    ("EVENTS", &["events"]),
    ("INPUTS", &["inputs"]),
    ("INPUTS_PREVIEW", &["inputs_preview"]),
    ("OUTPUTS", &["outputs"]),
    ("OUTPUTS_PREVIEW", &["outputs_preview"]),
    ("MANIFEST", &["serialized"]),
    ("PARENT_RUN_IDS", &["parent_run_ids"]),
    ("PROJECT_ID", &["session_id"]),
    ("TRACE_ID", &["trace_id"]),
    ("THREAD_ID", &["thread_id"]),
    ("DOTTED_ORDER", &["dotted_order"]),
    ("IS_ROOT", &["parent_run_id"]),
    ("REFERENCE_EXAMPLE_ID", &["reference_example_id"]),
    ("REFERENCE_DATASET_ID", &["reference_dataset_id"]),
    ("TOTAL_TOKENS", &["total_tokens"]),
    ("PROMPT_TOKENS", &["prompt_tokens"]),
    ("COMPLETION_TOKENS", &["completion_tokens"]),
    ("TOTAL_COST", &["total_cost"]),
    ("PROMPT_COST", &["prompt_cost"]),
    ("COMPLETION_COST", &["completion_cost"]),
    ("PROMPT_TOKEN_DETAILS", &["prompt_token_details"]),
    ("COMPLETION_TOKEN_DETAILS", &["completion_token_details"]),
    ("PROMPT_COST_DETAILS", &["prompt_cost_details"]),
    ("COMPLETION_COST_DETAILS", &["completion_cost_details"]),
    ("PRICE_MODEL_ID", &["price_model_id"]),
    ("TAGS", &["tags"]),
    ("APP_PATH", &["app_path"]),
    ("ATTACHMENTS", &["s3_urls"]),
    ("THREAD_EVALUATION_TIME", &[]),
    ("IS_IN_DATASET", &["in_dataset"]),
    ("LAST_QUEUED_AT", &["last_queued_at"]),
    ("SHARE_URL", &["share_token"]),
    ("FEEDBACK_STATS", &["feedback_stats"]),
    ("LS_USER_ID", &["extra"]),
];

/// The selects as given (upper-cased); a name that is not one is a 422 on `selects`.
pub fn selects(given: &[String]) -> Result<Vec<String>, ironsmith_http::ApiError> {
    check_selects(given).map_err(|bad| {
        crate::runs::body::invalid(
            "selects",
            format!("`{bad}` is not a run field (ID, NAME, RUN_TYPE, INPUTS, …)"),
        )
    })
}

/// Where a v2 read's time window starts when it names none: a day ago.
/// A time as the v2 resources write it: RFC 3339 in UTC.
pub fn time(us: i64) -> String {
    use ironsmith_api_types::timestamp;
    format!("{}Z", timestamp::format(&timestamp::from_micros(us)))
}

pub fn a_day_ago() -> i64 {
    (chrono::Utc::now() - chrono::Duration::days(1)).timestamp_micros()
}

/// The selects as given (upper-cased), or the name that is not one.
pub fn check_selects(selects: &[String]) -> Result<Vec<String>, String> {
    selects
        .iter()
        .map(|s| {
            let upper = s.to_ascii_uppercase();
            if SELECTS.iter().any(|(name, _)| *name == upper) {
                Ok(upper)
            } else {
                Err(s.clone())
            }
        })
        .collect()
}

/// The v1 fields to read for these selects (`id` always).
pub fn v1_fields(selects: &[String]) -> Vec<String> {
    let mut fields = vec!["id".to_owned()];
    for select in selects {
        if let Some((_, needed)) = SELECTS.iter().find(|(name, _)| name == select) {
            fields.extend(needed.iter().map(|f| (*f).to_owned()));
        }
    }
    fields.sort();
    fields.dedup();
    fields
}

fn seconds(text: &Value) -> Option<f64> {
    let text = text.as_str()?;
    let parsed = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(parsed.and_utc().timestamp_micros() as f64 / 1e6)
}

/// A v1 timestamp (naive UTC) as RFC 3339.
pub fn rfc3339(value: &Value) -> Value {
    match value.as_str() {
        Some(text) if !text.ends_with('Z') && !text.contains('+') => json!(format!("{text}Z")),
        _ => value.clone(),
    }
}

/// `s3_urls` as attachment name → download URL.
fn attachments(s3_urls: &Value) -> Value {
    Value::Object(
        s3_urls
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(name, url)| {
                let name = name.strip_prefix("attachment.").unwrap_or(name);
                Some((name.to_owned(), url.get("presigned_url")?.clone()))
            })
            .collect(),
    )
}

/// The v2 form of a v1 run (a JSON object), holding exactly `selects` (and `id`).
pub fn run(v1: &Value, selects: &[String], ui_origin: &str) -> Value {
    let get = |key: &str| v1.get(key).cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("id".into(), get("id"));
    for select in selects {
        let (key, value) = match select.as_str() {
            "ID" => continue,
            "RUN_TYPE" => (
                "run_type",
                json!(
                    get("run_type")
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_uppercase()
                ),
            ),
            "STATUS" => (
                "status",
                json!(
                    get("status")
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_uppercase()
                ),
            ),
            "START_TIME" => ("start_time", rfc3339(&get("start_time"))),
            "END_TIME" => ("end_time", rfc3339(&get("end_time"))),
            "FIRST_TOKEN_TIME" => ("first_token_time", rfc3339(&get("first_token_time"))),
            "LAST_QUEUED_AT" => ("last_queued_at", rfc3339(&get("last_queued_at"))),
            "LATENCY_SECONDS" => (
                "latency_seconds",
                match (seconds(&get("start_time")), seconds(&get("end_time"))) {
                    (Some(start), Some(end)) => json!(end - start),
                    _ => Value::Null,
                },
            ),
            "ERROR_PREVIEW" => (
                "error_preview",
                get("error").as_str().map_or(Value::Null, |e| {
                    json!(e.chars().take(300).collect::<String>())
                }),
            ),
            "METADATA" => (
                "metadata",
                v1.pointer("/extra/metadata")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
            "LS_USER_ID" => (
                "ls_user_id",
                v1.pointer("/extra/metadata/ls_user_id")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
            "MANIFEST" => ("manifest", get("serialized")),
            "PROJECT_ID" => ("project_id", get("session_id")),
            "IS_ROOT" => ("is_root", json!(get("parent_run_id").is_null())),
            "IS_IN_DATASET" => ("is_in_dataset", get("in_dataset")),
            "PROMPT_TOKEN_DETAILS"
            | "COMPLETION_TOKEN_DETAILS"
            | "PROMPT_COST_DETAILS"
            | "COMPLETION_COST_DETAILS" => {
                let key = select.to_ascii_lowercase();
                let raw = get(&key);
                let value = if raw.is_null() {
                    Value::Null
                } else {
                    json!({ "raw": raw })
                };
                out.insert(key, value);
                continue;
            }
            "ATTACHMENTS" => ("attachments", attachments(&get("s3_urls"))),
            "SHARE_URL" => (
                "share_url",
                get("share_token").as_str().map_or(Value::Null, |token| {
                    json!(format!(
                        "{}/public/{token}/r",
                        ui_origin.trim_end_matches('/')
                    ))
                }),
            ),
            "THREAD_EVALUATION_TIME" => ("thread_evaluation_time", Value::Null),
            other => {
                let key = other.to_ascii_lowercase();
                let value = get(&key);
                out.insert(key, value);
                continue;
            }
        };
        out.insert(key.into(), value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_run_becomes_its_v2_selection() {
        let v1 = json!({
            "id": "r", "name": "chat", "run_type": "llm", "status": "success",
            "start_time": "2026-01-01T00:00:00.000000", "end_time": "2026-01-01T00:00:01.500000",
            "parent_run_id": null, "session_id": "p",
            "prompt_token_details": {"cache_read": 3},
            "s3_urls": {"attachment.report": {"presigned_url": "http://x/d", "mime_type": "text/plain"}},
            "extra": {"metadata": {"k": "v"}},
        });
        let selects = check_selects(&[
            "name".into(),
            "RUN_TYPE".into(),
            "STATUS".into(),
            "LATENCY_SECONDS".into(),
            "IS_ROOT".into(),
            "PROJECT_ID".into(),
            "PROMPT_TOKEN_DETAILS".into(),
            "ATTACHMENTS".into(),
            "METADATA".into(),
            "START_TIME".into(),
        ])
        .expect("known");
        assert_eq!(
            run(&v1, &selects, "http://ui"),
            json!({
                "id": "r", "name": "chat", "run_type": "LLM", "status": "SUCCESS",
                "latency_seconds": 1.5, "is_root": true, "project_id": "p",
                "prompt_token_details": {"raw": {"cache_read": 3}},
                "attachments": {"report": "http://x/d"}, "metadata": {"k": "v"},
                "start_time": "2026-01-01T00:00:00.000000Z",
            })
        );
        assert_eq!(
            run(&v1, &[], "http://ui"),
            json!({"id": "r"}),
            "only the id by default"
        );
        assert!(check_selects(&["NOPE".into()]).is_err());
    }
}
