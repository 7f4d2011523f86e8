//! The frontend as the one public origin: routing, streaming proxy, UI, and its own health.

use std::sync::Arc;

use ironsmith_config::Config;
use ironsmith_test_support::{free_port, http, isolated_config, readiness};
use tokio_util::sync::CancellationToken;

async fn stack(
    mut config: Config,
) -> anyhow::Result<(String, CancellationToken, Vec<tokio::task::JoinHandle<()>>)> {
    let shutdown = CancellationToken::new();
    let shared = Arc::new(config.clone());
    let backend = ironsmith_backend::start(shared.clone(), shutdown.clone()).await?;
    let platform = ironsmith_platform_backend::start(shared.clone(), shutdown.clone()).await?;
    let playground = ironsmith_playground::start(shared, shutdown.clone()).await?;
    config.endpoints.backend = format!("http://{}", backend.local_addr).parse()?;
    config.endpoints.platform_backend = format!("http://{}", platform.local_addr).parse()?;
    config.endpoints.playground = format!("http://{}", playground.local_addr).parse()?;
    let frontend = ironsmith_frontend::start(Arc::new(config), shutdown.clone()).await?;
    let url = format!("http://{}", frontend.local_addr);
    let waits = vec![
        tokio::spawn(async move { drop(backend.wait().await) }),
        tokio::spawn(async move { drop(platform.wait().await) }),
        tokio::spawn(async move { drop(playground.wait().await) }),
        tokio::spawn(async move { drop(frontend.wait().await) }),
    ];
    Ok((url, shutdown, waits))
}

async fn stop(shutdown: CancellationToken, waits: Vec<tokio::task::JoinHandle<()>>) {
    shutdown.cancel();
    for wait in waits {
        let _ = wait.await;
    }
}

#[tokio::test]
async fn api_paths_reach_their_service_through_the_edge() -> anyhow::Result<()> {
    let (url, shutdown, waits) = stack(isolated_config().await?).await?;
    let client = http();

    // /api/v1/* goes to backend, which normalises the prefix: an unauthenticated request gets
    // backend's own 401, under the legacy unversioned prefix too.
    for path in ["/api/v1/sessions", "/api/sessions"] {
        let answer = client.get(format!("{url}{path}")).send().await?;
        assert_eq!(answer.status(), 401, "{path}");
        let body: serde_json::Value = answer.json().await?;
        assert!(body["detail"].is_string(), "{path}: {body}");
    }
    // Operational paths (queue depth, readiness, metrics) stay inside the stack: the edge does
    // not forward them, and the services answer them to probes that reach them directly.
    for path in [
        "/api/v1/metrics/queue/default",
        "/api/metrics/queue/default",
        "/api/v1/health/ready",
        "/api/v1/metrics",
    ] {
        let status = client.get(format!("{url}{path}")).send().await?.status();
        assert_eq!(status, 404, "{path}");
    }
    let info = client.get(format!("{url}/api/v1/info")).send().await?;
    assert_eq!(info.status(), 200, "platform-backend answers /info");
    assert_eq!(
        info.headers()
            .get("x-frame-options")
            .map(|v| v.to_str().unwrap_or("")),
        Some("SAMEORIGIN")
    );

    // The frontend's own health and readiness (its dependencies are the three services).
    assert_eq!(
        client.get(format!("{url}/health")).send().await?.status(),
        200
    );
    let (status, report) = readiness(&url).await?;
    assert_eq!(status, 200, "{report:?}");
    assert_eq!(report.service, "frontend");
    let names: Vec<&str> = report.dependencies.keys().map(String::as_str).collect();
    assert_eq!(names, ["backend", "platform-backend", "playground"]);

    // /api-host is 404 while deployments are off.
    assert_eq!(
        client
            .get(format!("{url}/api-host/ok"))
            .send()
            .await?
            .status(),
        404
    );

    stop(shutdown, waits).await;
    Ok(())
}

#[tokio::test]
async fn the_ui_shows_every_service_ready() -> anyhow::Result<()> {
    let (url, shutdown, waits) = stack(isolated_config().await?).await?;
    let page = http().get(format!("{url}/status")).send().await?;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    let html = page.text().await?;
    for service in ["backend", "platform-backend", "playground"] {
        assert!(
            html.contains(&format!(
                "<td>{service}</td><td><span class=\"up\">ready</span>"
            )),
            "{service}: {html}"
        );
    }
    assert!(html.contains("export LANGSMITH_ENDPOINT="));
    let missing = http().get(format!("{url}/no/such/page")).send().await?;
    assert_eq!(missing.status(), 404);
    stop(shutdown, waits).await;
    Ok(())
}

#[tokio::test]
async fn a_down_upstream_is_a_502_and_makes_the_edge_unready() -> anyhow::Result<()> {
    let mut config = isolated_config().await?;
    let nobody = format!("http://127.0.0.1:{}", free_port()?);
    config.endpoints.backend = nobody.parse()?;
    config.endpoints.platform_backend = nobody.parse()?;
    config.endpoints.playground = nobody.parse()?;
    let shutdown = CancellationToken::new();
    let frontend = ironsmith_frontend::start(Arc::new(config), shutdown.clone()).await?;
    let url = format!("http://{}", frontend.local_addr);
    let response = http().get(format!("{url}/api/v1/sessions")).send().await?;
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await?;
    assert_eq!(body["detail"], "The backend service is unavailable");
    let (status, report) = readiness(&url).await?;
    assert_eq!(status, 503);
    assert_eq!(report.down(), ["backend", "platform-backend", "playground"]);
    shutdown.cancel();
    frontend.wait().await?;
    Ok(())
}

/// JSON answers are compressed for clients that accept it (zstd preferred, else gzip) and
/// decode to the same bytes; clients that do not ask get them as they are. Proxied answers
/// are compressed the same way.
#[tokio::test]
async fn json_answers_are_compressed_for_clients_that_accept_it() -> anyhow::Result<()> {
    use std::io::Read;
    let stack = ironsmith_e2e::Stack::start().await?;
    let client = reqwest::Client::new();
    let fetch = |path: String, accept: Option<&'static str>| {
        let mut request = client
            .get(format!("{}{path}", stack.edge))
            .header("x-api-key", &stack.admin_key);
        if let Some(accept) = accept {
            request = request.header("accept-encoding", accept);
        }
        async move {
            let response = request.send().await?;
            let encoding = response
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let vary = response
                .headers()
                .get_all("vary")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ")
                .to_ascii_lowercase();
            anyhow::Ok((
                response.status().as_u16(),
                encoding,
                vary,
                response.bytes().await?.to_vec(),
            ))
        }
    };
    for i in 0..12 {
        stack
            .admin()
            .create_project(&format!("compressed-{i}"))
            .await?;
    }
    for path in [
        "/api/openapi.json".to_owned(),
        "/api/v1/sessions?limit=20".to_owned(),
    ] {
        let (status, encoding, _, plain) = fetch(path.clone(), None).await?;
        assert_eq!(
            (status, encoding),
            (200, None),
            "{path}: not asked, not compressed"
        );
        assert!(plain.len() > 2048, "{path}: {} bytes", plain.len());
        serde_json::from_slice::<serde_json::Value>(&plain)?;

        let (_, encoding, vary, zstd) =
            fetch(path.clone(), Some("gzip, deflate, br, zstd")).await?;
        assert_eq!(encoding.as_deref(), Some("zstd"), "{path}");
        assert!(vary.contains("accept-encoding"), "{path}: vary {vary:?}");
        assert!(
            zstd.len() < plain.len() / 2,
            "{path}: {} of {}",
            zstd.len(),
            plain.len()
        );
        let (_, encoding, _, gzip) = fetch(path.clone(), Some("gzip")).await?;
        assert_eq!(encoding.as_deref(), Some("gzip"), "{path}");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut unzipped)?;
        let unzstd = zstd::decode_all(&zstd[..])?;
        // The sessions page is read twice more: compare what does not move between reads.
        let same = |bytes: &[u8]| -> anyhow::Result<serde_json::Value> {
            let mut value: serde_json::Value = serde_json::from_slice(bytes)?;
            if let Some(projects) = value.as_array_mut() {
                for project in projects {
                    if let Some(p) = project.as_object_mut() {
                        p.retain(|k, _| k == "id" || k == "name");
                    }
                }
            }
            Ok(value)
        };
        assert_eq!(
            same(&unzipped)?,
            same(&plain)?,
            "{path}: gzip decodes to the answer"
        );
        assert_eq!(
            same(&unzstd)?,
            same(&plain)?,
            "{path}: zstd decodes to the answer"
        );
    }
    // A small answer is sent as it is.
    let (status, encoding, _, _) = fetch("/api/v1/info".to_owned(), Some("gzip")).await?;
    assert_eq!((status, encoding), (200, None), "{status}");
    stack.stop().await;
    Ok(())
}
