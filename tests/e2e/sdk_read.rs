//! The real clients read back what they traced, configured only as users configure them: the
//! Python SDK (`read_project`, `list_projects`, `read_run` with child runs and attachments,
//! `list_runs` with filters and trace filters, `get_run_stats`, share links and shared reads)
//! and the JS SDK (the same calls in their JS form).

use ironsmith_e2e::{Stack, node, python, run_client};
use serde_json::{Value, json};

#[tokio::test]
async fn python_sdk_reads_back_exactly_what_it_traced() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let out = run_client(
        &python(),
        "tests/python/sdk_read.py",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("LANGSMITH_PROJECT", "py-read"),
            ("LANGSMITH_TRACING", "true"),
        ],
    )
    .await?;
    let made = &out["made"];
    assert_eq!(out["project"]["name"], "py-read");
    assert_eq!(
        out["project"]["tenant_id"],
        json!(stack.workspace_id.to_string())
    );
    assert_eq!(
        out["project"]["run_count"], 2,
        "two traces: {}",
        out["project"]
    );
    assert_eq!(out["project"]["total_tokens"], 17);
    assert_eq!(out["listed_projects"], json!(["py-read"]));
    assert_eq!(out["has_project"], true);

    let root = &out["root"];
    assert_eq!(root["name"], "pipeline");
    assert_eq!(root["run_type"], "chain");
    assert_eq!(root["status"], "success");
    assert_eq!(root["tags"], json!(["sdk-read"]));
    assert_eq!(root["inputs"]["question"], "what is six times seven?");
    assert_eq!(root["outputs"]["answer"], "42");
    assert_eq!(
        root["children"],
        json!(["lookup", "chat"]),
        "execution order"
    );
    assert_eq!(root["grandchildren"], json!([[], []]));
    assert_eq!(
        root["attachment"], "report body",
        "downloaded without a key"
    );
    assert_eq!(root["feedback"]["helpful"]["n"], 1);
    assert_eq!(root["feedback"]["helpful"]["avg"], 1.0);

    assert_eq!(out["llm"]["prompt_tokens"], 12);
    assert_eq!(out["llm"]["completion_tokens"], 5);
    assert_eq!(out["llm"]["total_tokens"], 17);
    assert_eq!(out["llm"]["parent_run_ids"], json!([made["root"]]));

    let filters = &out["filters"];
    assert_eq!(filters["llm_runs"], json!(["chat"]));
    assert_eq!(filters["roots"], json!(["pipeline", "second"]));
    assert_eq!(filters["by_name"], json!([made["tool"]]));
    assert_eq!(filters["bob"], json!(["second"]));
    assert_eq!(filters["tagged_trace"], json!(["chat", "lookup"]));
    assert_eq!(filters["rated"], json!(["pipeline"]));
    assert_eq!(filters["limited"], 3);
    let bad = out["bad_filter"].as_str().unwrap_or_default();
    assert!(bad.contains("400") && bad.contains("position"), "{bad}");

    assert_eq!(out["stats"]["run_count"], 4);
    assert_eq!(out["stats"]["total_tokens"], 17);
    assert_eq!(out["stats"]["error_rate"], 0.0);

    let share = &out["share"];
    assert!(
        share["url"].as_str().is_some_and(|u| u.ends_with("/r")),
        "{share}"
    );
    assert_eq!(share["is_shared"], true);
    assert_eq!(share["link"], share["url"]);
    assert_eq!(share["root_name"], "pipeline");
    assert_eq!(share["child_name"], "lookup");
    assert_eq!(share["listed"], json!(["chat", "lookup", "pipeline"]));
    assert_eq!(share["anonymous_status"], 200);
    assert_eq!(share["after_unshare"], false);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn js_sdk_reads_back_exactly_what_it_traced() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let out: Value = run_client(
        &node(),
        "tests/js/sdk_read.mjs",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("LANGSMITH_PROJECT", "js-read"),
        ],
    )
    .await?;
    let made = &out["made"];
    assert_eq!(out["project"]["name"], "js-read");
    assert_eq!(out["project"]["run_count"], 1);
    assert_eq!(out["listed"], json!(["js-read"]));
    assert_eq!(out["root"]["name"], "js-pipeline");
    assert_eq!(out["root"]["outputs"], json!({"answer": 42}));
    assert_eq!(out["root"]["children"], json!(["js-llm", "js-tool"]));
    assert_eq!(
        out["root"]["child_run_ids"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(out["filtered"], json!([made["llm"]]));
    assert_eq!(out["trace_filtered"].as_array().map(Vec::len), Some(2));
    assert_eq!(out["threads"]["total"], 1, "{}", out["threads"]);
    assert_eq!(out["share"]["listed"], json!(3));
    assert_eq!(out["share"]["shared_via_public"], 200);
    assert_eq!(out["share"]["after_unshare"], Value::Null);
    stack.stop().await;
    Ok(())
}
