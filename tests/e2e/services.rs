//! Every service starts against the real stores and answers the shared routes.

use std::sync::Arc;

use ironsmith_api_types::health::DependencyState;
use ironsmith_test_support::{http, isolated_config, readiness};
use tokio_util::sync::CancellationToken;

async fn base(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}")
}

#[tokio::test]
async fn api_services_report_each_store_by_name() -> anyhow::Result<()> {
    let config = Arc::new(isolated_config().await?);
    let shutdown = CancellationToken::new();
    let backend = ironsmith_backend::start(config.clone(), shutdown.clone()).await?;
    let platform = ironsmith_platform_backend::start(config.clone(), shutdown.clone()).await?;
    let worker = ironsmith_queue_worker::start(config.clone(), shutdown.clone()).await?;
    for (name, addr) in [
        ("backend", backend.local_addr),
        ("platform-backend", platform.local_addr),
        ("queue", worker.served.local_addr),
    ] {
        let (status, report) = readiness(&base(addr).await).await?;
        assert_eq!(status, 200, "{name}: {report:?}");
        assert!(report.is_ready());
        assert_eq!(report.service, name);
        assert_eq!(report.region, "us");
        let names: Vec<&str> = report.dependencies.keys().map(String::as_str).collect();
        // The worker also reports whether every ingestion shard's loop runs.
        let expected: &[&str] = if name == "queue" {
            &[
                "clickhouse",
                "ingest_shards",
                "object_storage",
                "postgres",
                "redis",
            ]
        } else {
            &["clickhouse", "object_storage", "postgres", "redis"]
        };
        assert_eq!(names, expected, "{name}");
        assert!(
            report
                .dependencies
                .values()
                .all(|d| d.status == DependencyState::Up)
        );
    }
    shutdown.cancel();
    backend.wait().await?;
    platform.wait().await?;
    worker.wait().await?;
    Ok(())
}

#[tokio::test]
async fn playground_is_sandboxed_and_has_no_store_dependencies() -> anyhow::Result<()> {
    let config = Arc::new(isolated_config().await?);
    let shutdown = CancellationToken::new();
    let playground = ironsmith_playground::start(config, shutdown.clone()).await?;
    let (status, report) = readiness(&base(playground.local_addr).await).await?;
    assert_eq!(status, 200);
    assert!(report.dependencies.is_empty());
    shutdown.cancel();
    playground.wait().await?;
    Ok(())
}

#[tokio::test]
async fn shared_routes_request_ids_metrics_and_errors() -> anyhow::Result<()> {
    let config = Arc::new(isolated_config().await?);
    let shutdown = CancellationToken::new();
    let backend = ironsmith_backend::start(config, shutdown.clone()).await?;
    let url = base(backend.local_addr).await;
    let client = http();

    let live = client.get(format!("{url}/health/live")).send().await?;
    assert_eq!(live.status(), 200);
    assert!(
        live.headers().contains_key("x-request-id"),
        "a request id is minted"
    );

    let echoed = client
        .get(format!("{url}/health/live"))
        .header("x-request-id", "req-123")
        .send()
        .await?;
    assert_eq!(echoed.headers()["x-request-id"], "req-123");

    // Upstream aliases of readiness.
    for alias in ["/health", "/ok"] {
        assert_eq!(
            client.get(format!("{url}{alias}")).send().await?.status(),
            200,
            "{alias}"
        );
    }

    // Unknown paths: the API's JSON 404.
    let missing = client.get(format!("{url}/no-such-thing")).send().await?;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<serde_json::Value>().await?,
        serde_json::json!({"detail": "Not Found"})
    );

    // Prefix normalisation: /api/v1/x, /api/x, /v1/x and /x/ reach /x.
    for path in [
        "/metrics/queue/default",
        "/api/v1/metrics/queue/default",
        "/api/metrics/queue/default",
        "/v1/metrics/queue/default/",
    ] {
        let depth = client.get(format!("{url}{path}")).send().await?;
        assert_eq!(depth.status(), 200, "{path}");
        let body: serde_json::Value = depth.json().await?;
        assert_eq!(body["queued"], 0, "{path}");
        assert_eq!(body["pending"], 0, "{path}");
    }
    let unknown_queue = client
        .get(format!("{url}/metrics/queue/nope"))
        .send()
        .await?;
    assert_eq!(unknown_queue.status(), 404);

    // The control plane is off by default.
    assert_eq!(
        client
            .get(format!("{url}/api-host/ok"))
            .send()
            .await?
            .status(),
        404
    );

    let metrics = client
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("http_requests_total{service=\"backend\",method=\"GET\",route=\"/health/live\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));

    shutdown.cancel();
    backend.wait().await?;
    Ok(())
}

#[tokio::test]
async fn control_plane_is_mounted_when_enabled() -> anyhow::Result<()> {
    let mut config = isolated_config().await?;
    config.deployment.enabled = true;
    let shutdown = CancellationToken::new();
    let backend = ironsmith_backend::start(Arc::new(config), shutdown.clone()).await?;
    let response = http()
        .get(format!("http://{}/api-host/ok", backend.local_addr))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    shutdown.cancel();
    backend.wait().await?;
    Ok(())
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_with_413() -> anyhow::Result<()> {
    let mut config = isolated_config().await?;
    config.http.max_body_bytes = 1024;
    let shutdown = CancellationToken::new();
    let backend = ironsmith_backend::start(Arc::new(config), shutdown.clone()).await?;
    let response = http()
        .post(format!(
            "http://{}/metrics/queue/default",
            backend.local_addr
        ))
        .body(vec![b'x'; 4096])
        .send()
        .await?;
    assert_eq!(response.status(), 413);
    shutdown.cancel();
    backend.wait().await?;
    Ok(())
}
