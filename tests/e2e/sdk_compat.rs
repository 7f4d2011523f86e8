//! Calls of the newest Python SDK that the server once answered wrongly, each through the real
//! SDK: `eq(error, true|false)` filters, `execution_order=1`, token details from
//! `usage_metadata`, attachments read back through `list_runs`, every form of example filter,
//! a multipart example update whose rename collides with a kept attachment,
//! and re-creating a feedback configuration with a changed config; and the JS SDK's
//! annotation-queue creation.

use ironsmith_e2e::{Stack, node, python, run_client};
use serde_json::json;

#[tokio::test]
async fn the_newest_python_sdk_calls_answer_as_upstream() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let out = run_client(
        &python(),
        "tests/python/sdk_compat.py",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("LANGSMITH_PROJECT", "py-compat"),
            ("LANGSMITH_TRACING", "true"),
        ],
    )
    .await?;
    assert_eq!(out["errored"], json!(["broken"]));
    assert_eq!(out["not_errored"], json!(["model", "pipeline"]));
    assert_eq!(out["roots"], json!(["pipeline"]), "execution_order=1");
    let details = json!([{"audio": 2, "cache_read": 12}, {"reasoning": 5}]);
    assert_eq!(out["listed_token_details"], details);
    assert_eq!(out["read_token_details"], details);
    assert_eq!(out["listed_attachments"], json!({"report": "a report"}));
    assert_eq!(
        out["example_filters"],
        json!({
            "exists(metadata, \"lang\")": ["a", "b"],
            "has(metadata, '{\"lang\": \"fr\"}')": ["b"],
            "and(eq(metadata_key, \"lang\"), eq(metadata_value, \"en\"))": ["a"],
            "or(has(metadata, '{\"lang\": \"fr\"}'), exists(metadata, \"topic\"))": ["b", "c"],
            "not(exists(metadata, \"lang\"))": ["c"],
        })
    );
    assert_eq!(out["metadata_kwarg"], json!(["a"]));
    assert_eq!(
        out["colliding_rename"], "422",
        "a rename onto a retained attachment"
    );
    assert_eq!(out["after_rename"], json!(["renamed", "second"]));
    assert_eq!(out["same_config"]["max"], 1.0);
    assert_eq!(
        out["changed_config"]["max"], 10.0,
        "added next to the first"
    );
    assert_eq!(out["configs_of_key"], json!([[1.0, true], [10.0, false]]));
    assert_eq!(
        out["default_listing"],
        json!([1.0]),
        "one per key: the first"
    );

    let insights = out["insights"].as_str().unwrap_or_default();
    assert!(
        insights.contains("501") && insights.contains("not available on this server"),
        "{insights}"
    );

    let js = run_client(
        &node(),
        "tests/js/sdk_compat.mjs",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
        ],
    )
    .await?;
    assert_eq!(
        js["created"],
        json!({"id": "string", "name": "js-review", "description": "Reviews",
               "tenant_id": "string", "created_at": "string", "updated_at": "string"})
    );
    assert_eq!(js["read"]["name"], "js-review");
    assert_eq!(js["read"]["rubric_instructions"], "Be fair");
    assert_eq!(
        js["read"]["rubric_items"], js["sent_items"],
        "the rubric as sent"
    );
    stack.stop().await;
    Ok(())
}

/// Opens an SDK-printed link's path and query on the stack's edge.
pub async fn open_link(stack: &Stack, link: &str) -> anyhow::Result<(u16, String)> {
    let url = reqwest::Url::parse(link)?;
    let target = format!(
        "{}{}{}",
        stack.edge,
        url.path(),
        url.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let response = reqwest::get(target).await?;
    Ok((response.status().as_u16(), response.text().await?))
}
