//! The v2 run reads through the real Python SDK's generated client (the one `Client`
//! configures and uses in its SmithDB read mode): `runs.query_v2` with UPPERCASE selects and
//! run types, only the id without selects, cursor pages followed by the SDK's own iterator,
//! `runs.retrieve_v2`, sharing and unsharing a trace, the run's UI URL, `traces.query` (root
//! runs with trace-wide tokens), `traces.list_runs`, and `threads.query`, `threads.list_traces`
//! and `threads.stats`, and `datasets.experiment_runs.query` after an `evaluate()`.

use ironsmith_e2e::{Stack, python, run_client};
use serde_json::json;

#[tokio::test]
async fn v2_run_reads_answer_the_generated_client() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let out = run_client(
        &python(),
        "tests/python/sdk_v2.py",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("LANGSMITH_PROJECT", "py-v2"),
            ("LANGSMITH_TRACING", "true"),
        ],
    )
    .await?;
    assert_eq!(
        out["bare_keys"],
        json!(["id"]),
        "without selects, only the id"
    );
    assert_eq!(out["bare_count"], 6);
    let project = stack
        .project_id("py-v2")
        .await?
        .expect("project")
        .to_string();
    for (root, q) in out["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .zip(["a", "b", "c"])
    {
        assert_eq!(
            root,
            &json!(["pipeline", "CHAIN", "SUCCESS", ["v2"], "blue", {"q": q}, true, project])
        );
    }
    assert_eq!(out["latency_ok"], true);
    assert_eq!(
        out["llm_tokens"],
        json!([["model", 6], ["model", 6], ["model", 6]])
    );
    assert_eq!(
        (&out["paged_total"], &out["paged_unique"]),
        (&json!(6), &json!(6))
    );
    assert_eq!(out["retrieved"][0], "pipeline");
    assert_eq!(out["retrieved"][1]["answer"], "C");
    assert_eq!(out["retrieved"][2], true);
    assert_eq!(
        out["traces"],
        json!([["pipeline", {"q": "a"}, 6], ["pipeline", {"q": "b"}, 6], ["pipeline", {"q": "c"}, 6]]),
        "each trace's root run, and its tokens"
    );
    assert_eq!(
        out["trace_runs"],
        json!([["pipeline", "CHAIN", true], ["model", "LLM", false]]),
        "a trace's runs in start-time order"
    );
    assert_eq!(
        out["threads"],
        json!([["conv-1", 2, 12], ["conv-2", 1, 6]]),
        "conversations with their turns and tokens"
    );
    assert_eq!(
        out["turns"],
        json!([["pipeline", {"q": "hi"}, "conv-1"], ["pipeline", {"q": "how are you"}, "conv-1"]]),
        "a conversation's turns, oldest first"
    );
    assert_eq!(out["thread_stats"], json!([2, 12]));
    assert_eq!(
        out["experiment_rows"],
        json!([["x", [{"answer": "X"}], true], ["y", [{"answer": "Y"}], true]]),
        "each example with the experiment's run on it, over two cursor pages"
    );
    assert!(out["share_token"].as_str().is_some_and(|t| t.len() == 36));
    assert_eq!(
        out["shared_read"], "pipeline",
        "read without a key through the share"
    );
    assert_eq!(out["after_unshare"], "gone");
    let url = out["url"].as_str().unwrap_or_default();
    assert!(url.contains(&format!("/projects/p/{project}/r/")), "{url}");
    let (status, page) = crate::sdk_compat::open_link(&stack, url).await?;
    assert_eq!(
        (status, page.contains(r#"<div id="root">"#)),
        (200, true),
        "{url}"
    );

    // Bad input answers clearly.
    let admin = ironsmith_e2e::Client::new(&format!("{}/api/v2", stack.edge)).key(&stack.admin_key);
    for body in [
        json!({"project_ids": [project], "selects": ["NOT_A_FIELD"]}),
        json!({"project_ids": [project], "page_size": 0}),
        json!({"selects": ["NAME"]}),
    ] {
        let answer = admin.post("/runs/query", body.clone()).await?;
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
    }
    stack.stop().await;
    Ok(())
}
