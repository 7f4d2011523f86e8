//! The real clients trace into Ironsmith, configured only as users configure them, and what
//! they sent lands in ClickHouse complete: the Python SDK (`@traceable`, zstd multipart,
//! attachments, feedback parts), the JS SDK (RunTree, gzip streamed multipart) and the
//! OpenTelemetry Python SDK's OTLP/HTTP exporter.

use std::time::Duration;

use ironsmith_e2e::{Stack, metric, node, python, run_client};
use serde_json::Value;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

/// Every run's end has been folded in.
fn all_ended(runs: &[ironsmith_analytics::runs::RunRow]) -> bool {
    runs.iter().all(|r| r.status != "pending")
}

fn uuid(value: &Value, key: &str) -> Uuid {
    value[key]
        .as_str()
        .and_then(|v| Uuid::try_parse(v).ok())
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

#[tokio::test]
async fn python_sdk_traces_land_complete() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let zstd_before = metric(
        &stack.platform,
        "ingest_bodies_total",
        &[r#"encoding="zstd""#],
    )
    .await?;
    let made = run_client(
        &python(),
        "tests/python/sdk_trace.py",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("LANGSMITH_PROJECT", "py-sdk"),
            ("LANGSMITH_TRACING", "true"),
        ],
    )
    .await?;
    let zstd_after = metric(
        &stack.platform,
        "ingest_bodies_total",
        &[r#"encoding="zstd""#],
    )
    .await?;
    assert!(
        zstd_after > zstd_before,
        "the SDK sent zstd multipart bodies"
    );

    // The script flushed its SDK before it exited: everything it sent was accepted.
    let runs = stack.ingested_runs("py-sdk").await?;
    assert_eq!(runs.len(), 4);
    assert!(all_ended(&runs));
    let by_id = |id: Uuid| {
        runs.iter()
            .find(|r| r.id == id)
            .cloned()
            .unwrap_or_default()
    };
    let root = by_id(uuid(&made, "root"));
    let trace = uuid(&made, "trace");
    assert_eq!(root.id, trace);
    assert_eq!(root.name, "pipeline");
    assert_eq!(root.run_type, "chain");
    assert_eq!(root.status, "success");
    assert_eq!(root.tags, ["e2e"]);
    assert_eq!(root.thread_id, "th-1");
    assert!(root.inputs.contains("six times seven"), "{}", root.inputs);
    assert!(root.outputs.contains("42"), "{}", root.outputs);
    assert!(
        root.extra.contains(r#""sdk":"langsmith-py""#),
        "{}",
        root.extra
    );
    let attachments: Value = serde_json::from_str(&root.attachments)?;
    let key = attachments["report"]["key"].as_str().unwrap_or_default();
    let storage = ironsmith_storage::ObjectStorage::from_config(&stack.config.object_storage)?;
    assert_eq!(
        &storage.get(key).await?[..],
        b"report body",
        "{attachments}"
    );
    assert_eq!(attachments["report"]["mime_type"], "text/plain");

    let llm = by_id(uuid(&made, "llm"));
    assert_eq!(
        (llm.run_type.as_str(), llm.parent_run_id),
        ("llm", Some(trace))
    );
    assert_eq!(
        (llm.prompt_tokens, llm.completion_tokens, llm.total_tokens),
        (12, 5, 17)
    );
    assert_eq!(llm.ls_model_name, "gpt-4o-mini");
    // 12 × $0.15/M + 5 × $0.60/M from the default price table.
    assert!(
        (llm.total_cost.unwrap_or(0.0) - 0.0000048).abs() < 1e-12,
        "{:?}",
        llm.total_cost
    );
    let tool = by_id(uuid(&made, "tool"));
    assert_eq!(
        (tool.run_type.as_str(), tool.outputs.as_str()),
        ("tool", r#"{"found":42}"#)
    );
    let failed = by_id(uuid(&made, "error"));
    assert_eq!(failed.status, "error");
    assert!(
        failed.error.contains("the index is down"),
        "{}",
        failed.error
    );
    for run in [&llm, &tool, &failed] {
        assert_eq!(run.trace_id, trace);
        assert!(
            run.dotted_order.starts_with(&root.dotted_order),
            "{}",
            run.dotted_order
        );
        assert_eq!(run.depth, 1);
    }

    let feedback = stack.ingested_feedback(trace).await?;
    assert_eq!(feedback.len(), 1, "the feedback part arrived");
    assert_eq!(
        (feedback[0].key.as_str(), feedback[0].score),
        ("helpful", Some(0.75))
    );
    assert_eq!(feedback[0].comment, "fine");
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn opentelemetry_exporter_traces_land_complete() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let made = run_client(
        &python(),
        "tests/python/sdk_otel.py",
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                &format!("{}/api/v1/otel", stack.edge),
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                &format!("x-api-key={},Langsmith-Project=otel-sdk", stack.admin_key),
            ),
        ],
    )
    .await?;
    let runs = stack.wait_for_runs("otel-sdk", 3, WAIT).await?;
    let trace = uuid(&made, "trace");
    let root = &runs[0];
    assert_eq!(
        (root.id, root.trace_id, root.name.as_str()),
        (trace, trace, "agent")
    );
    assert!(root.metadata_keys.contains(&"service.name".to_owned()));
    let llm = runs
        .iter()
        .find(|r| r.run_type == "llm")
        .cloned()
        .unwrap_or_default();
    assert_eq!(llm.parent_run_id, Some(trace));
    assert_eq!((llm.prompt_tokens, llm.completion_tokens), (30, 7));
    assert_eq!(llm.ls_model_name, "gpt-4o");
    assert!(llm.inputs.contains("capital of France"), "{}", llm.inputs);
    let tool = runs
        .iter()
        .find(|r| r.run_type == "tool")
        .cloned()
        .unwrap_or_default();
    assert_eq!(tool.status, "error");
    assert!(tool.error.contains("timeout"), "{}", tool.error);
    assert!(tool.dotted_order.starts_with(&root.dotted_order));
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn js_sdk_traces_land_complete() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let gzip_before = metric(
        &stack.platform,
        "ingest_bodies_total",
        &[r#"encoding="gzip""#],
    )
    .await?;
    let made = run_client(
        &node(),
        "tests/js/sdk_trace.mjs",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("LANGSMITH_PROJECT", "js-sdk"),
            ("LANGSMITH_TRACING", "true"),
        ],
    )
    .await?;
    let runs = stack.ingested_runs("js-sdk").await?;
    assert_eq!(runs.len(), 3);
    assert!(all_ended(&runs));
    let gzip_after = metric(
        &stack.platform,
        "ingest_bodies_total",
        &[r#"encoding="gzip""#],
    )
    .await?;
    assert!(
        gzip_after > gzip_before,
        "the JS SDK sent gzip multipart bodies (0.12 compresses runs as they are queued and sends each batch with a length)"
    );
    let by_id = |id: Uuid| {
        runs.iter()
            .find(|r| r.id == id)
            .cloned()
            .unwrap_or_default()
    };
    let root = by_id(uuid(&made, "root"));
    assert_eq!(
        (root.name.as_str(), root.status.as_str()),
        ("js-pipeline", "success")
    );
    assert!(root.inputs.contains("hello from js"), "{}", root.inputs);
    assert!(root.outputs.contains("done"), "{}", root.outputs);
    assert!(
        root.extra.contains(r#""sdk":"langsmith-js""#),
        "{}",
        root.extra
    );
    let llm = by_id(uuid(&made, "llm"));
    assert_eq!(
        (llm.run_type.as_str(), llm.parent_run_id),
        ("llm", Some(root.id))
    );
    assert_eq!(
        (llm.prompt_tokens, llm.completion_tokens, llm.total_tokens),
        (8, 2, 10)
    );
    assert_eq!(llm.trace_id, root.id);
    let tool = by_id(uuid(&made, "tool"));
    assert_eq!(tool.parent_run_id, Some(llm.id));
    assert_eq!(tool.depth, 2);
    assert!(tool.dotted_order.starts_with(&llm.dotted_order));
    assert_eq!(tool.status, "error");
    stack.stop().await;
    Ok(())
}
