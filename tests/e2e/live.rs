//! The live tail (`GET /runs/stream` through the edge): a server-sent event stream that sends
//! the runs of a project matching a filter as they are written, and nothing written before it
//! opened or outside the filter.

use std::time::Duration;

use ironsmith_e2e::Stack;
use serde_json::{Value, json};
use uuid::Uuid;

fn run(name: &str, start: &str) -> (Uuid, Value) {
    let id = Uuid::now_v7();
    let stamp = start.replace(['-', ':', '.'], "").replace('Z', "");
    (
        id,
        json!({
            "id": id, "trace_id": id, "dotted_order": format!("{stamp}Z{id}"),
            "name": name, "run_type": "chain", "session_name": "tail",
            "start_time": start, "end_time": start, "inputs": {"q": name},
        }),
    )
}

/// The `run` events of an open stream until `want` arrived (or 30 s passed), with every
/// event name seen.
async fn read_events(
    mut response: reqwest::Response,
    want: usize,
) -> anyhow::Result<(Vec<Value>, Vec<String>)> {
    let mut buffer = String::new();
    let mut runs = Vec::new();
    let mut names = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while runs.len() < want {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| {
                anyhow::anyhow!("only {} of {want} runs arrived: {names:?}", runs.len())
            })??;
        let Some(chunk) = chunk else { break };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let mut name = "message".to_owned();
            let mut data = String::new();
            for line in event.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            if event.lines().all(|l| l.starts_with(':')) {
                continue; // a keep-alive comment
            }
            if name == "run" {
                runs.push(serde_json::from_str(&data)?);
            }
            names.push(name);
        }
    }
    Ok((runs, names))
}

#[tokio::test]
async fn the_live_tail_streams_new_matching_runs_only() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let (old, old_post) = run("keep", "2026-01-01T10:00:00.000000Z");
    admin
        .post("/runs/batch", json!({"post": [old_post]}))
        .await?
        .expect(202)?;
    stack
        .wait_for_runs("tail", 1, Duration::from_secs(30))
        .await?;
    let project = stack.project_id("tail").await?.expect("project exists");

    // Opened the way a browser's EventSource does: no X-Tenant-Id, the workspace in the URL.
    let url = format!(
        "{}/api/v1/runs/stream?session={project}&tenant_id={}&filter={}&select=inputs&select=name",
        stack.edge,
        stack.workspace_id,
        urlencode(r#"eq(name, "keep")"#)
    );
    let http = reqwest::Client::new();
    let response = http
        .get(&url)
        .header("x-api-key", &stack.admin_key)
        // As a browser asks: the stream is still sent as it is, each event when written.
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("content-encoding"), None);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );

    let (first, first_post) = run("keep", "2026-01-01T11:00:00.000000Z");
    let (_, dropped_post) = run("drop", "2026-01-01T11:00:01.000000Z");
    let (second, second_post) = run("keep", "2026-01-01T11:00:02.000000Z");
    admin
        .post(
            "/runs/batch",
            json!({"post": [first_post, dropped_post, second_post]}),
        )
        .await?
        .expect(202)?;
    let (runs, names) = read_events(response, 2).await?;
    let mut ids: Vec<String> = runs
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec![first.to_string(), second.to_string()];
    expected.sort();
    assert_eq!(ids, expected, "only the new runs named keep: {names:?}");
    assert!(
        !ids.contains(&old.to_string()),
        "written before the stream opened"
    );
    assert_eq!(
        runs[0]["inputs"],
        json!({"q": "keep"}),
        "the selected fields"
    );
    assert!(names.iter().all(|n| n == "run"), "{names:?}");

    // Refusals: no project, another workspace's header, a project that is not there.
    let refused = async |path: String| -> anyhow::Result<u16> {
        Ok(http
            .get(format!("{}{path}", stack.edge))
            .header("x-api-key", &stack.admin_key)
            .send()
            .await?
            .status()
            .as_u16())
    };
    assert_eq!(refused("/api/v1/runs/stream".into()).await?, 422);
    assert_eq!(
        refused(format!("/api/v1/runs/stream?session={}", Uuid::now_v7())).await?,
        404
    );
    assert_eq!(
        refused(format!(
            "/api/v1/runs/stream?session={project}&tenant_id={}",
            Uuid::now_v7()
        ))
        .await?,
        403
    );

    // At most 20 open streams per workspace: the 21st waits (429) until one closes.
    let open_one = async || {
        http.get(format!(
            "{}/api/v1/runs/stream?session={project}",
            stack.edge
        ))
        .header("x-api-key", &stack.admin_key)
        .send()
        .await
    };
    let mut open = Vec::new();
    for _ in 0..20 {
        let response = open_one().await?;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    let refused = open_one().await?;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let response = open_one().await?;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 429);
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "a closed stream's place was not freed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(open);
    stack.stop().await;
    Ok(())
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
