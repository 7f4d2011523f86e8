//! The v2 run reads through the real Python SDK's generated client (the one `Client`
//! configures and uses in its SmithDB read mode): `runs.query_v2` with UPPERCASE selects and
//! run types, only the id without selects, cursor pages followed by the SDK's own iterator,
//! `runs.retrieve_v2`, sharing and unsharing a trace, the run's UI URL, `traces.query` (root
//! runs with trace-wide tokens), `traces.list_runs`, and `threads.query`, `threads.list_traces`
//! and `threads.stats`, `threads.aggregate_stats` (every statistic, feedback, a time series, a
//! trace filter), and `datasets.experiment_runs.query` after an `evaluate()` (cursor pages,
//! per-experiment feedback filters, sorting by a feedback score).

use ironsmith_e2e::{Stack, python, run_client};
use serde_json::{Value, json};

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
    // A shared conversation.
    assert_eq!(
        (&out["thread_share_kept"], &out["thread_share_read"]),
        (&json!(true), &json!(true)),
        "sharing again keeps the token, and reading it returns it"
    );
    assert_eq!(
        out["thread_shared_runs"],
        json!([
            ["model", "hi"],
            ["model", "how are you"],
            ["pipeline", "hi"],
            ["pipeline", "how are you"]
        ]),
        "every run of the conversation's traces, without a key"
    );
    assert_eq!(out["thread_share_other"], 404);
    assert_eq!(out["thread_share_unknown"], 404);
    assert_eq!(out["thread_unshared"], Value::Null);
    assert_eq!(out["thread_after_unshare"], 404);
    // Statistics over the conversations: two threads of three traces of 6 tokens (4 + 2) each,
    // none errored or streamed, no costs known, and the feedback on conv-1's two turns.
    let aggregate = &out["aggregate"];
    for (field, value) in [
        ("thread_count", json!(2)),
        ("trace_count", json!(3)),
        ("total_tokens", json!(18)),
        ("prompt_tokens", json!(12)),
        ("completion_tokens", json!(6)),
        ("median_tokens", json!(6)),
        ("error_rate", json!(0.0)),
        ("streaming_rate", json!(0.0)),
        ("prompt_token_details", json!({})),
        ("completion_cost_details", json!({})),
    ] {
        assert_eq!(aggregate[field], value, "{field} in {aggregate}");
    }
    for absent in ["total_cost", "first_token_p50_seconds", "buckets"] {
        assert!(aggregate.get(absent).is_none(), "{absent} in {aggregate}");
    }
    let (p50, p99) = (
        aggregate["latency_p50_seconds"].as_f64().unwrap_or(-1.0),
        aggregate["latency_p99_seconds"].as_f64().unwrap_or(-1.0),
    );
    assert!((0.0..60.0).contains(&p50) && p50 <= p99, "{aggregate}");
    let helpful = &aggregate["thread_feedback_stats"]["helpful"];
    assert_eq!(
        (&helpful["n"], &helpful["avg"]),
        (&json!(2), &json!(0.5)),
        "{aggregate}"
    );
    let series = out["series"].as_array().expect("buckets");
    assert_eq!(
        series.len(),
        4,
        "three hours and a minute in hours: {series:?}"
    );
    assert!(series.iter().all(|b| b[2] == true));
    let summed = |i: usize| {
        series
            .iter()
            .map(|b| b[i].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!((summed(0), summed(1)), (2, 3), "each thread in one bucket");
    assert_eq!(out["series_total"], json!([2, 3]));
    assert_eq!(
        out["narrowed"],
        json!([1, 1]),
        "only conv-2 has a matching trace"
    );
    assert_eq!(out["thread_filter"], 422);
    assert_eq!(
        out["experiment_rows"],
        json!([["x", [{"answer": "X"}], true], ["y", [{"answer": "Y"}], true]]),
        "each example with the experiment's run on it, over two cursor pages"
    );
    assert_eq!(out["sorted_asc"], json!(["y", "x"]), "worst score first");
    assert_eq!(
        out["sorted_desc"],
        json!(["x", "y"]),
        "best first, one example per page"
    );
    assert_eq!(
        out["filtered"],
        json!(["x"]),
        "only the example whose run passed"
    );
    assert_eq!(
        out["bad_filter"], 400,
        "a filter that does not parse, as on /runs/query"
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
