//! A hostile tenant against the running stack: each attack gets its 4xx, the services stay
//! ready, and nothing another tenant relies on changes.

use std::time::Duration;

use ironsmith_e2e::{OPERATOR_TOKEN, Stack};
use prost::Message;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// Every service of the stack answers its readiness probe (the edge, which would also need a
/// playground that test stacks do not run, its own health).
async fn all_ready(stack: &Stack) -> anyhow::Result<()> {
    let edge = reqwest::get(format!("{}/health", stack.edge))
        .await?
        .status();
    anyhow::ensure!(edge == 200, "the edge answered {edge}");
    for base in [&stack.backend, &stack.platform, &stack.worker] {
        if base.is_empty() {
            continue;
        }
        let status = reqwest::get(format!("{base}/health/ready")).await?.status();
        anyhow::ensure!(status == 200, "{base}/health/ready answered {status}");
    }
    Ok(())
}

#[tokio::test]
async fn public_links_follow_the_organisations_switch_and_unshare_all_withdraws_them()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let anonymous = stack.anonymous();
    let mut tokens = Vec::new();
    let mut datasets = Vec::new();
    for name in ["shared-a", "shared-b"] {
        let dataset = admin
            .post("/datasets", json!({"name": name}))
            .await?
            .expect(200)?;
        let id = dataset["id"].as_str().unwrap_or_default().to_owned();
        admin
            .post(
                "/examples",
                json!({"dataset_id": id, "inputs": {"q": name}, "outputs": {"a": name}}),
            )
            .await?
            .expect(200)?;
        let share = admin
            .put(&format!("/datasets/{id}/share"), json!({}))
            .await?
            .expect(200)?;
        tokens.push(share["share_token"].as_str().unwrap_or_default().to_owned());
        datasets.push(id);
    }
    // One token opens its own dataset only, even when asked for the other's examples.
    let other_examples = admin
        .get(&format!("/examples?dataset={}", datasets[1]))
        .await?
        .expect(200)?;
    let other_example = other_examples[0]["id"].as_str().unwrap_or_default();
    let through_a = anonymous
        .get(&format!(
            "/public/{}/examples?id={other_example}",
            tokens[0]
        ))
        .await?
        .expect(200)?;
    assert_eq!(through_a, json!([]), "token A reached dataset B's example");
    let own = anonymous
        .get(&format!("/public/{}/examples", tokens[0]))
        .await?
        .expect(200)?;
    assert_eq!(own.as_array().map(Vec::len), Some(1));
    assert_eq!(own[0]["inputs"]["q"], "shared-a");

    // Sharing off: every link closes at once, and no new one can be made.
    admin
        .patch(
            "/orgs/current/info",
            json!({"disable_public_sharing": true}),
        )
        .await?
        .expect(200)?;
    for token in &tokens {
        let read = anonymous.get(&format!("/public/{token}/datasets")).await?;
        assert_eq!(read.status, 404, "{}", read.body);
    }
    let refused = admin
        .put(&format!("/datasets/{}/share", datasets[0]), json!({}))
        .await?;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let refused = admin
        .put(
            &format!("/runs/{}/share", Uuid::now_v7()),
            json!({"run_id": Uuid::nil()}),
        )
        .await?;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // Sharing back on: the links were only closed, not withdrawn.
    admin
        .patch(
            "/orgs/current/info",
            json!({"disable_public_sharing": false}),
        )
        .await?
        .expect(200)?;
    anonymous
        .get(&format!("/public/{}/datasets", tokens[0]))
        .await?
        .expect(200)?;
    // unshare_all withdraws every link of the organisation for good.
    admin
        .patch("/orgs/current/info", json!({"unshare_all": true}))
        .await?
        .expect(200)?;
    for token in &tokens {
        let read = anonymous.get(&format!("/public/{token}/datasets")).await?;
        assert_eq!(read.status, 404, "{}", read.body);
    }
    assert_eq!(
        admin
            .get(&format!("/datasets/{}/share", datasets[0]))
            .await?
            .expect(200)?,
        Value::Null
    );
    all_ready(&stack).await?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn plan_limits_are_the_operators_and_tenants_may_only_lower_theirs() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let limits = admin.get("/orgs/current/limits").await?.expect(200)?;
    let plan_default = limits["plan"]["default"]["requests"].as_u64().unwrap_or(0);
    assert!(plan_default > 0, "{limits}");

    // An organisation admin cannot raise its own limits.
    let raise = admin
        .put(
            "/orgs/current/limits",
            json!({"default": {"requests": plan_default * 10, "window_secs": 10}}),
        )
        .await?;
    assert_eq!(raise.status, 422, "{}", raise.body);
    let unlimited = admin
        .put("/orgs/current/limits", json!({"events_per_hour": 0}))
        .await?;
    let plan_events = limits["plan"]["events_per_hour"].as_u64().unwrap_or(0);
    if plan_events == 0 {
        // Unlimited is the plan already: asking for it changes nothing.
        unlimited.expect(200)?;
    } else {
        assert_eq!(unlimited.status, 422, "{}", unlimited.body);
    }
    // Lowering is its own business.
    let lowered = admin
        .put(
            "/orgs/current/limits",
            json!({"default": {"requests": plan_default / 2, "window_secs": 10}}),
        )
        .await?
        .expect(200)?;
    assert_eq!(
        lowered["effective"]["default"]["requests"],
        plan_default / 2
    );

    // The operator's path: not through the edge, and only with the operator credential.
    let path = format!("/operator/organizations/{}/limits", stack.organization_id);
    let through_edge = reqwest::Client::new()
        .put(format!("{}/api/v1{path}", stack.edge))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(through_edge.status(), 404);
    let http = reqwest::Client::new();
    for credential in [None, Some(stack.admin_key.as_str()), Some("not-the-token")] {
        let mut request = http
            .put(format!("{}{path}", stack.platform))
            .json(&json!({"default": {"requests": 1_000_000, "window_secs": 1}}));
        if let Some(credential) = credential {
            request = request
                .bearer_auth(credential)
                .header("x-api-key", credential);
        }
        assert_eq!(request.send().await?.status(), 401, "{credential:?}");
    }
    // The operator lowers the plan below the tenant's own limit: the plan wins.
    let set = http
        .put(format!("{}{path}", stack.platform))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"default": {"requests": plan_default / 4, "window_secs": 10}}))
        .send()
        .await?;
    assert_eq!(set.status(), 200, "{}", set.text().await?);
    let now = admin.get("/orgs/current/limits").await?.expect(200)?;
    assert_eq!(now["effective"]["default"]["requests"], plan_default / 4);
    assert_eq!(now["plan"]["default"]["requests"], plan_default / 4);
    // And raises it for the organisation: the tenant may now raise its own up to it.
    http.put(format!("{}{path}", stack.platform))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"default": {"requests": plan_default * 10, "window_secs": 10}}))
        .send()
        .await?
        .error_for_status()?;
    admin
        .put(
            "/orgs/current/limits",
            json!({"default": {"requests": plan_default * 5, "window_secs": 10}}),
        )
        .await?
        .expect(200)?;
    all_ready(&stack).await?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn operational_paths_stay_inside_and_login_redirects_stay_on_site() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| {
        // Nobody's X-Forwarded-For is believed, and few failed logins are allowed.
        config.http.trusted_proxies = Vec::new();
        config.http.metrics_networks = vec!["10.0.0.0/8".parse().expect("cidr")];
        config.limits.unauthenticated.requests = 5;
        config.limits.unauthenticated.window_secs = 60;
    })
    .await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for path in [
        "/api/v1/metrics",
        "/api/v1/metrics/queue/default",
        "/api/v1/health/ready",
        "/api/v1/ok",
        "/api/metrics",
        "/metrics",
    ] {
        let status = http
            .get(format!("{}{path}", stack.edge))
            .send()
            .await?
            .status();
        assert_eq!(status, 404, "{path}");
    }
    // The services themselves still serve them to the stack's own probes and scrapers.
    assert_eq!(
        http.get(format!("{}/metrics", stack.backend))
            .send()
            .await?
            .status(),
        200
    );

    // `next` must stay on this site; anything else goes home, and nothing breaks the handler.
    for (next, expected) in [
        ("/settings", "/settings"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\r\nSet-Cookie: stolen=1", "/"),
        ("https://evil.example/", "/"),
    ] {
        let answer = http
            .post(format!("{}/api/v1/auth/login", stack.edge))
            .form(&[
                ("email", ironsmith_e2e::ADMIN_EMAIL),
                ("password", ironsmith_e2e::ADMIN_PASSWORD),
                ("next", next),
            ])
            .send()
            .await?;
        assert_eq!(answer.status(), 303, "{next:?}");
        assert_eq!(answer.headers()["location"], expected, "{next:?}");
    }

    // Failed logins from one address count against it, whatever X-Forwarded-For it invents.
    let mut statuses = Vec::new();
    for attempt in 0..7 {
        let answer = http
            .post(format!("{}/auth/login", stack.platform))
            .header("x-forwarded-for", format!("198.51.100.{attempt}"))
            .json(&json!({"email": "ghost@example.com", "password": "wrong"}))
            .send()
            .await?;
        statuses.push(answer.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    all_ready(&stack).await?;
    stack.stop().await;
    Ok(())
}

/// Whether the server closed `stream` (end of stream or reset) rather than leaving it open
/// until the read timed out.
async fn closed_by_server(stream: &mut tokio::net::TcpStream) -> bool {
    let mut rest = Vec::new();
    match tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut rest)).await {
        Ok(Ok(_)) => true,
        Ok(Err(error)) => error.kind() == std::io::ErrorKind::ConnectionReset,
        Err(_) => false,
    }
}

#[tokio::test]
async fn slow_and_idle_connections_cannot_hold_a_listener() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| {
        config.http.header_read_timeout_secs = 1;
        config.http.max_connections = 4;
    })
    .await?;
    let address = stack.edge.trim_start_matches("http://").to_owned();
    // A slow-header client is disconnected.
    let mut slow = tokio::net::TcpStream::connect(&address).await?;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await?;
    assert!(
        closed_by_server(&mut slow).await,
        "the slow client was not disconnected"
    );

    // Four connections that send nothing fill the listener; they are closed after the header
    // timeout, and the next client is served.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(&address).await?);
    }
    let answer = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?
        .get(format!("{}/health", stack.edge))
        .send()
        .await?;
    assert_eq!(answer.status(), 200);
    for mut connection in idle {
        assert!(
            closed_by_server(&mut connection).await,
            "an idle connection was left open"
        );
    }
    stack.stop().await;
    Ok(())
}

/// A chain of `n` OTLP spans, each the parent of the next.
fn span_chain(n: usize) -> Vec<u8> {
    let trace = Uuid::new_v4().as_bytes().to_vec();
    let span_id = |i: usize| (i as u64 + 1).to_be_bytes().to_vec();
    let spans: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "traceId": hex(&trace),
                "spanId": hex(&span_id(i)),
                "parentSpanId": if i == 0 { String::new() } else { hex(&span_id(i - 1)) },
                "name": format!("s{i}"),
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000000001000",
            })
        })
        .collect();
    json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]})
        .to_string()
        .into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn otlp_floods_are_refused_before_they_are_built() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, content_type: &'static str| {
        http.post(format!("{}/api/v1/otel/v1/traces", stack.edge))
            .header("x-api-key", &stack.admin_key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    // Over the per-request cap: refused, whichever encoding.
    let over = post(span_chain(2_000), "application/json").await?;
    assert_eq!(over.status(), 413, "{}", over.text().await?);
    let request: Value = serde_json::from_slice(&span_chain(2_000))?;
    let protobuf = otlp_protobuf(&request);
    let over = post(protobuf, "application/x-protobuf").await?;
    assert_eq!(over.status(), 413);
    // Resource attributes that would be repeated into every run past the decoded cap.
    let big = "x".repeat(200_000);
    let mut request: Value = serde_json::from_slice(&span_chain(1_000))?;
    request["resourceSpans"][0]["resource"]["attributes"] =
        json!([{"key": "blob", "value": {"stringValue": big}}]);
    let amplified = post(request.to_string().into_bytes(), "application/json").await?;
    assert_eq!(amplified.status(), 413, "{}", amplified.text().await?);
    // Within the cap, a deep chain is accepted whole.
    let within = post(span_chain(1_000), "application/json").await?;
    assert_eq!(within.status(), 200, "{}", within.text().await?);
    all_ready(&stack).await?;
    stack.stop().await;
    Ok(())
}

/// The OTLP/JSON `request` re-encoded as protobuf (only the fields `span_chain` uses).
fn otlp_protobuf(request: &Value) -> Vec<u8> {
    #[derive(Clone, PartialEq, Message)]
    struct Export {
        #[prost(message, repeated, tag = "1")]
        resource_spans: Vec<ResourceSpans>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct ResourceSpans {
        #[prost(message, repeated, tag = "2")]
        scope_spans: Vec<ScopeSpans>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct ScopeSpans {
        #[prost(message, repeated, tag = "2")]
        spans: Vec<Span>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Span {
        #[prost(bytes = "vec", tag = "1")]
        trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        span_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "4")]
        parent_span_id: Vec<u8>,
        #[prost(string, tag = "5")]
        name: String,
        #[prost(fixed64, tag = "7")]
        start_time_unix_nano: u64,
        #[prost(fixed64, tag = "8")]
        end_time_unix_nano: u64,
    }
    let unhex = |v: &Value| -> Vec<u8> {
        let text = v.as_str().unwrap_or_default();
        (0..text.len() / 2)
            .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
            .collect()
    };
    let spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| Span {
            trace_id: unhex(&s["traceId"]),
            span_id: unhex(&s["spanId"]),
            parent_span_id: unhex(&s["parentSpanId"]),
            name: s["name"].as_str().unwrap_or_default().to_owned(),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_000_001_000,
        })
        .collect();
    Export {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans }],
        }],
    }
    .encode_to_vec()
}

/// A run create as the SDKs send it, with `fields` merged in.
fn run_with(id: Uuid, fields: Value) -> Value {
    let start = chrono::Utc::now();
    let mut run = json!({
        "id": id, "trace_id": id, "name": "hostile", "run_type": "chain",
        "dotted_order": format!("{}{id}", start.format("%Y%m%dT%H%M%S%6fZ")),
        "start_time": start.to_rfc3339(), "session_name": "hostile",
    });
    if let (Some(run), Value::Object(fields)) = (run.as_object_mut(), fields) {
        run.extend(fields);
    }
    run
}

/// `depth` levels of nested arrays around a string.
fn nested(depth: usize) -> Value {
    let text = format!("{}\"core\"{}", "[".repeat(depth), "]".repeat(depth));
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Found by the property-based API check (scripts/api-check): bodies and path values of the
/// wrong shape are refused with a JSON 422, whichever service answers.
#[tokio::test]
async fn bodies_and_path_values_of_the_wrong_shape_get_a_json_422() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    // Serde reads a struct from an array of its fields too; an API documented as taking an
    // object does not.
    for path in ["/runs/query", "/runs/stats", "/sessions", "/runs/batch"] {
        let answer = admin.post(path, json!([null, null])).await?;
        assert_eq!(answer.status, 422, "POST {path}: {}", answer.body);
    }
    let answer = admin
        .put("/orgs/current/limits", json!([null, null]))
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);
    // An update of a run whose id is not a UUID reaches the service that updates runs (not a
    // 405 from the one that reads them).
    let answer = admin.patch("/runs/not-a-uuid", json!({})).await?;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let answer = admin
        .patch(&format!("/runs/{}", Uuid::now_v7()), json!([null, null]))
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);
    // A path number out of range: our error shape, not the framework's plain text.
    let answer = admin
        .get(&format!(
            "/annotation-queues/{}/run/9223372036854775808",
            Uuid::now_v7()
        ))
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(answer.body["detail"].is_array(), "{}", answer.body);
    // Text Postgres cannot hold (a NUL character) is the client's error, not the server's.
    let answer = admin
        .post("/datasets", json!({"name": "nul\u{0}name"}))
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let dataset = admin
        .post("/datasets", json!({"name": "fine"}))
        .await?
        .expect(200)?;
    let answer = admin
        .post(
            "/examples",
            json!({"dataset_id": dataset["id"], "inputs": {"q": "x"}, "metadata": {"k": "nul\u{0}"}}),
        )
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);
    all_ready(&stack).await
}

#[tokio::test]
async fn hostile_values_get_clear_4xx_answers_and_accepted_ones_read_back_whole()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();

    // A free-form field past its cap: 413 naming it.
    let huge_extra = json!({"extra": {"metadata": {"blob": "x".repeat(5 << 20)}}});
    let answer = admin
        .post("/runs", run_with(Uuid::now_v7(), huge_extra))
        .await?;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert!(
        answer.body.to_string().contains("'extra'"),
        "{}",
        answer.body
    );

    // Nesting deeper than can be read back: 422 naming the field.
    let answer = admin
        .post(
            "/runs",
            run_with(Uuid::now_v7(), json!({"inputs": {"deep": nested(100)}})),
        )
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(
        answer.body.to_string().contains("'inputs'"),
        "{}",
        answer.body
    );
    // Nesting up to the limit (64 levels with the outer object) is stored and read back exactly.
    let kept = Uuid::now_v7();
    let inputs = json!({"deep": nested(63)});
    admin
        .post("/runs", run_with(kept, json!({"inputs": inputs})))
        .await?
        .expect(202)?;
    assert!(!stack.ingested_runs("hostile").await?.is_empty());
    let read = admin.get(&format!("/runs/{kept}")).await?.expect(200)?;
    assert_eq!(read["inputs"], inputs);

    // A project name the schema cannot hold: 422 naming the rule, not a retryable 503.
    let answer = admin
        .post(
            "/runs",
            run_with(Uuid::now_v7(), json!({"session_name": "p".repeat(1001)})),
        )
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(answer.body.to_string().contains("1000"), "{}", answer.body);

    // Time arithmetic on client values is checked.
    let answer = admin
        .post(
            "/feedback/tokens",
            json!({"run_id": kept, "feedback_key": "k", "expires_in": {"days": i64::MAX}}),
        )
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);

    // Model price patterns run against every LLM run's model name: bounded in size.
    for pattern in [r"(\w{100}){100}".to_owned(), "a".repeat(501)] {
        let answer = admin
            .post(
                "/model-price-map",
                json!({"name": "hostile", "match_pattern": pattern,
                       "prompt_cost_per_million": 1, "completion_cost_per_million": 1}),
            )
            .await?;
        assert_eq!(answer.status, 422, "{}", answer.body);
    }
    // A cost the price table cannot hold, and an empty pattern (which would price every model),
    // are refused as invalid: found by the property-based API check (scripts/api-check), which
    // got a 500 for the cost.
    for (pattern, cost) in [("^big$", json!(2_730_652_742_u64)), ("", json!(1))] {
        let answer = admin
            .post(
                "/model-price-map",
                json!({"name": "odd", "match_pattern": pattern,
                       "prompt_cost_per_million": 0, "completion_cost_per_million": cost}),
            )
            .await?;
        assert_eq!(answer.status, 422, "{}", answer.body);
    }

    // Comparing experiments is bounded per request.
    let dataset = admin
        .post("/datasets", json!({"name": "hostile-dataset"}))
        .await?
        .expect(200)?;
    let sessions: Vec<Uuid> = (0..101).map(|_| Uuid::now_v7()).collect();
    let answer = admin
        .post(
            &format!(
                "/datasets/{}/runs",
                dataset["id"].as_str().unwrap_or_default()
            ),
            json!({"session_ids": sessions}),
        )
        .await?;
    assert_eq!(answer.status, 422, "{}", answer.body);

    // A filter too large to run: 400, never a 500.
    let values: Vec<String> = (0..1_500).map(|i| format!("'n{i}'")).collect();
    let answer = admin
        .post(
            "/runs/query",
            json!({"session": [stack.project_id("hostile").await?],
                   "filter": format!("in(name, [{}])", values.join(", "))}),
        )
        .await?;
    assert_eq!(answer.status, 400, "{}", answer.body);

    all_ready(&stack).await?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_revoked_key_takes_the_keys_it_minted_with_it() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let base = format!("{}/api/v1", stack.edge);
    let first = admin
        .post("/api-key", json!({"description": "leaked"}))
        .await?
        .expect(200)?;
    let first_key = first["key"].as_str().unwrap_or_default().to_owned();
    let first_client = ironsmith_e2e::Client::new(&base).key(&first_key);
    // The leaked key mints a key, which mints another.
    let second = first_client
        .post(
            "/api-key",
            json!({"description": "minted by the leaked key"}),
        )
        .await?
        .expect(200)?;
    let second_key = second["key"].as_str().unwrap_or_default().to_owned();
    let third = ironsmith_e2e::Client::new(&base)
        .key(&second_key)
        .post("/api-key", json!({"description": "minted in turn"}))
        .await?
        .expect(200)?;
    let third_key = third["key"].as_str().unwrap_or_default().to_owned();
    // A key the admin minted alongside is not part of that lineage.
    let bystander = admin
        .post("/api-key", json!({"description": "bystander"}))
        .await?
        .expect(200)?;
    let bystander_key = bystander["key"].as_str().unwrap_or_default().to_owned();
    for key in [&second_key, &third_key, &bystander_key] {
        ironsmith_e2e::Client::new(&base)
            .key(key)
            .get("/settings")
            .await?
            .expect(200)?;
    }
    admin
        .delete(&format!(
            "/api-key/{}",
            first["id"].as_str().unwrap_or_default()
        ))
        .await?
        .expect(204)?;
    for key in [&first_key, &second_key, &third_key] {
        let status = ironsmith_e2e::Client::new(&base)
            .key(key)
            .get("/settings")
            .await?
            .status;
        assert_eq!(status, 401, "a key of the revoked lineage still works");
    }
    ironsmith_e2e::Client::new(&base)
        .key(&bystander_key)
        .get("/settings")
        .await?
        .expect(200)?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn keyless_routes_are_limited_per_address_and_feedback_tokens_per_token() -> anyhow::Result<()>
{
    let stack = Stack::start_with(|config| {
        config.limits.public.requests = 10;
        config.limits.public.window_secs = 60;
        config.limits.feedback_token_submissions = 2;
    })
    .await?;
    let token = stack
        .admin()
        .post(
            "/feedback/tokens",
            json!({"run_id": Uuid::now_v7(), "feedback_key": "thumbs"}),
        )
        .await?
        .expect(200)?;
    let id = token["id"].as_str().unwrap_or_default().to_owned();
    let anonymous = stack.anonymous();
    let mut statuses = Vec::new();
    for score in 0..3 {
        let answer = anonymous
            .post(&format!("/feedback/tokens/{id}"), json!({"score": score}))
            .await?;
        statuses.push(answer.status);
    }
    assert_eq!(statuses, [200, 200, 429], "a token records at most its cap");

    // Keyless reads count against the caller's address: 3 used above, 7 left of 10.
    let mut statuses = Vec::new();
    for _ in 0..9 {
        let answer = anonymous
            .get(&format!("/public/{}/run", Uuid::new_v4()))
            .await?;
        statuses.push(answer.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    // Keyed requests are not counted there.
    stack.admin().get("/settings").await?.expect(200)?;
    all_ready(&stack).await?;
    stack.stop().await;
    Ok(())
}

/// A body of `chunks` × 64 KiB sent chunked (no Content-Length), as a streaming client does.
fn streamed(chunks: usize) -> reqwest::Body {
    let parts = (0..chunks).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]));
    reqwest::Body::wrap_stream(futures::stream::iter(parts))
}

#[tokio::test]
async fn the_edge_passes_on_413s_instead_of_retryable_502s() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| config.http.max_body_bytes = 1 << 20).await?;
    let http = reqwest::Client::new();
    let multipart = || {
        http.post(format!("{}/api/v1/runs/multipart", stack.edge))
            .header("x-api-key", &stack.admin_key)
            .header("content-type", "multipart/form-data; boundary=b")
    };
    // Streamed past the edge's own cap: the edge's 413, not a 502 the SDKs would retry.
    let answer = multipart().body(streamed(64)).send().await?;
    assert_eq!(answer.status(), 413, "{}", answer.text().await?);
    // Refused early by platform-backend (the declared decompressed size is over its cap) while
    // the body is still arriving: its 413 comes through.
    let answer = multipart()
        .header("content-encoding", "zstd")
        .header("x-pre-compressed-size", "999999999999")
        .body(streamed(8))
        .send()
        .await?;
    assert_eq!(answer.status(), 413, "{}", answer.text().await?);
    all_ready(&stack).await?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn example_attachments_are_not_stored_for_a_dataset_the_caller_cannot_write()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let storage = ironsmith_storage::ObjectStorage::from_config(&stack.config.object_storage)?;
    let objects = || async {
        use futures::TryStreamExt;
        let listed: Vec<_> = storage.store().list(None).try_collect().await?;
        anyhow::Ok(listed.len())
    };
    let before = objects().await?;
    let example = Uuid::now_v7();
    let body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"{example}\"\r\nContent-Type: application/json\r\n\r\n{{\"inputs\":{{\"q\":1}}}}\r\n\
         --b\r\nContent-Disposition: form-data; name=\"{example}.attachment.big\"\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n--b--\r\n",
        "x".repeat(100_000)
    );
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/platform/datasets/{}/examples",
            stack.edge,
            Uuid::now_v7()
        ))
        .header("x-api-key", &stack.admin_key)
        .header("content-type", "multipart/form-data; boundary=b")
        .body(body)
        .send()
        .await?;
    assert_eq!(answer.status(), 404, "{}", answer.text().await?);
    assert_eq!(objects().await?, before, "an attachment was stored anyway");
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_request_that_is_not_stored_is_not_billed() -> anyhow::Result<()> {
    let s3 = ironsmith_test_support::PrivateStore::start("s3")?;
    let endpoint = format!("http://127.0.0.1:{}", s3.ports()[4]);
    let stack = Stack::start_with(|config| config.object_storage.endpoint = endpoint).await?;
    let admin = stack.admin();
    let usage = || async {
        let limits = stack
            .admin()
            .get("/orgs/current/limits")
            .await?
            .expect(200)?;
        anyhow::Ok(limits["usage_this_hour"]["events"].as_u64().unwrap_or(0))
    };
    assert_eq!(usage().await?, 0);
    // Inputs over the offload threshold must reach object storage first, which is down: the
    // request is refused (503, retried by the SDKs) and nothing is charged for it.
    s3.down()?;
    let big = json!({"inputs": {"text": "x".repeat(30_000)}});
    let answer = admin
        .post("/runs", run_with(Uuid::now_v7(), big.clone()))
        .await?;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(usage().await?, 0, "a refused request was billed");
    s3.up()?;
    admin
        .post("/runs", run_with(Uuid::now_v7(), big))
        .await?
        .expect(202)?;
    assert_eq!(usage().await?, 1);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_deleted_projects_objects_are_removed() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let storage = ironsmith_storage::ObjectStorage::from_config(&stack.config.object_storage)?;
    let objects = |prefix: String| {
        let storage = storage.clone();
        async move {
            use futures::TryStreamExt;
            let prefix = object_store_path(&prefix);
            let listed: Vec<_> = storage.store().list(Some(&prefix)).try_collect().await?;
            anyhow::Ok(listed.len())
        }
    };
    let doomed = Uuid::now_v7();
    let kept = Uuid::now_v7();
    let big =
        |project: &str| json!({"inputs": {"text": "x".repeat(30_000)}, "session_name": project});
    admin
        .post("/runs", run_with(doomed, big("doomed")))
        .await?
        .expect(202)?;
    admin
        .post("/runs", run_with(kept, big("kept")))
        .await?
        .expect(202)?;
    assert!(!stack.ingested_runs("doomed").await?.is_empty());
    assert!(!stack.ingested_runs("kept").await?.is_empty());
    let tenant = stack.workspace_id;
    assert_eq!(objects(format!("runs/{tenant}/{doomed}")).await?, 1);
    let project = stack.project_id("doomed").await?.unwrap_or_default();
    admin
        .delete(&format!("/sessions/{project}"))
        .await?
        .expect(202)?;
    let mut left = 1;
    for _ in 0..100 {
        left = objects(format!("runs/{tenant}/{doomed}")).await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, 0, "the deleted project's payload is still stored");
    assert_eq!(
        objects(format!("runs/{tenant}/{kept}")).await?,
        1,
        "another project's payload went too"
    );
    stack.stop().await;
    Ok(())
}

fn object_store_path(prefix: &str) -> ironsmith_storage::object_store::path::Path {
    ironsmith_storage::object_store::path::Path::from(prefix)
}

#[tokio::test]
async fn a_deleted_datasets_attachments_are_swept() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| config.object_storage.orphan_grace_secs = 0).await?;
    let admin = stack.admin();
    let storage = ironsmith_storage::ObjectStorage::from_config(&stack.config.object_storage)?;
    let prefix = format!("examples/{}", stack.workspace_id);
    let count = || async { anyhow::Ok(storage.owned_objects(&prefix).await?.len()) };
    let mut datasets = Vec::new();
    for name in ["doomed-dataset", "kept-dataset"] {
        let dataset = admin
            .post("/datasets", json!({"name": name}))
            .await?
            .expect(200)?;
        let id = dataset["id"].as_str().unwrap_or_default().to_owned();
        let example = Uuid::now_v7();
        let body = format!(
            "--b\r\nContent-Disposition: form-data; name=\"{example}\"\r\nContent-Type: application/json\r\n\r\n{{\"inputs\":{{\"q\":1}}}}\r\n\
             --b\r\nContent-Disposition: form-data; name=\"{example}.attachment.file\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
        );
        let answer = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/platform/datasets/{id}/examples",
                stack.edge
            ))
            .header("x-api-key", &stack.admin_key)
            .header("content-type", "multipart/form-data; boundary=b")
            .body(body)
            .send()
            .await?;
        assert_eq!(answer.status(), 201, "{}", answer.text().await?);
        datasets.push(id);
    }
    assert_eq!(count().await?, 2);
    admin
        .delete(&format!("/datasets/{}", datasets[0]))
        .await?
        .expect(204)?;
    let mut left = 2;
    for _ in 0..100 {
        left = count().await?;
        if left == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        left, 1,
        "the deleted dataset's attachment is still stored (or the other went)"
    );
    // The kept dataset's attachment still downloads.
    let examples = admin
        .get(&format!("/examples?dataset={}", datasets[1]))
        .await?
        .expect(200)?;
    let url = examples[0]["attachment_urls"]["attachment.file"]["presigned_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let bytes = reqwest::get(&url).await?.bytes().await?;
    assert_eq!(&bytes[..], b"hello", "{url}");
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn ids_taken_in_another_workspace_are_accepted_like_fresh_ones() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let other = admin
        .post("/workspaces", json!({"display_name": "Other"}))
        .await?
        .expect(200)?;
    let other: Uuid = other["id"].as_str().unwrap_or_default().parse()?;
    let elsewhere = admin.clone().tenant(other);
    // Every kind of object whose id a client may propose: (create path, status on create).
    for (path, created_status) in [
        ("/sessions", 201),
        ("/datasets", 200),
        ("/annotation-queues", 200),
    ] {
        let taken = Uuid::now_v7();
        admin
            .post(path, json!({"name": "mine", "id": taken}))
            .await?
            .expect(created_status)?;
        // The same id proposed in another workspace: created, exactly as a fresh id would be.
        for (id, name) in [(taken, "theirs"), (Uuid::now_v7(), "fresh")] {
            let created = elsewhere
                .post(path, json!({"name": name, "id": id}))
                .await?
                .expect(created_status)?;
            assert_eq!(created["id"], json!(id), "{path}");
            assert_eq!(created["name"], name, "{path}");
        }
        // Each workspace reads its own object under the id.
        let mine = admin.get(&format!("{path}/{taken}")).await?.expect(200)?;
        assert_eq!(mine["name"], "mine", "{path}");
        let theirs = elsewhere
            .get(&format!("{path}/{taken}"))
            .await?
            .expect(200)?;
        assert_eq!(theirs["name"], "theirs", "{path}");
        // Reusing an id within a workspace is still a conflict.
        let again = admin
            .post(path, json!({"name": "again", "id": taken}))
            .await?;
        assert_eq!(again.status, 409, "{path}: {}", again.body);
    }

    // Two datasets under one id keep their examples, versions and tags apart.
    let dataset = Uuid::now_v7();
    for (client, name) in [(&admin, "a"), (&elsewhere, "b")] {
        client
            .post(
                "/datasets",
                json!({"name": format!("shared-{name}"), "id": dataset}),
            )
            .await?
            .expect(200)?;
        client
            .post(
                "/examples",
                json!({"dataset_id": dataset, "inputs": {"who": name}}),
            )
            .await?
            .expect(200)?;
    }
    admin
        .post(
            "/examples",
            json!({"dataset_id": dataset, "inputs": {"who": "a again"}}),
        )
        .await?
        .expect(200)?;
    admin
        .put(&format!("/datasets/{dataset}/tags"), json!({"tag": "prod"}))
        .await?
        .expect(200)?;
    let versions = |client: &ironsmith_e2e::Client| {
        let client = client.clone();
        async move {
            client
                .get(&format!("/datasets/{dataset}/versions"))
                .await?
                .expect(200)
        }
    };
    let mine = versions(&admin).await?;
    let theirs = versions(&elsewhere).await?;
    assert_eq!(mine.as_array().map(Vec::len), Some(2), "{mine}");
    assert_eq!(theirs.as_array().map(Vec::len), Some(1), "{theirs}");
    assert_eq!(mine[0]["tags"], json!(["prod"]));
    assert_eq!(theirs[0]["tags"], Value::Null, "{theirs}");
    let tagged = elsewhere
        .get(&format!("/datasets/{dataset}/version?tag=prod"))
        .await?;
    assert_eq!(tagged.status, 404, "{}", tagged.body);
    let count = elsewhere
        .get(&format!("/examples/count?dataset={dataset}"))
        .await?
        .expect(200)?;
    assert_eq!(count, 1);
    // Deleting one leaves the other whole.
    admin
        .delete(&format!("/datasets/{dataset}"))
        .await?
        .expect(204)?;
    let count = elsewhere
        .get(&format!("/examples/count?dataset={dataset}"))
        .await?
        .expect(200)?;
    assert_eq!(count, 1);

    // Two queues under one id keep their items apart.
    let queue = Uuid::now_v7();
    for client in [&admin, &elsewhere] {
        client
            .post("/annotation-queues", json!({"name": "q", "id": queue}))
            .await?
            .expect(200)?;
    }
    admin
        .post(
            &format!("/annotation-queues/{queue}/runs"),
            json!([Uuid::now_v7(), Uuid::now_v7()]),
        )
        .await?
        .expect(200)?;
    let size = |client: &ironsmith_e2e::Client| {
        let client = client.clone();
        async move {
            client
                .get(&format!("/annotation-queues/{queue}/size"))
                .await?
                .expect(200)
        }
    };
    assert_eq!(size(&admin).await?["size"], 2);
    assert_eq!(size(&elsewhere).await?["size"], 0);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_periodic_sweep_removes_orphaned_objects_and_keeps_the_rest() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| {
        config.object_storage.sweep_interval_secs = 1;
        config.object_storage.orphan_grace_secs = 0;
    })
    .await?;
    let admin = stack.admin();
    let storage = ironsmith_storage::ObjectStorage::from_config(&stack.config.object_storage)?;
    let tenant = stack.workspace_id;
    let kept = Uuid::now_v7();
    admin
        .post(
            "/runs",
            run_with(kept, json!({"inputs": {"text": "k".repeat(30_000)}})),
        )
        .await?
        .expect(202)?;
    assert!(!stack.ingested_runs("hostile").await?.is_empty());
    // What a refused request whose clean-up failed, or an example of a deleted dataset, leaves.
    let orphans = [
        format!("runs/{tenant}/{}/inputs-x.json", Uuid::now_v7()),
        format!("attachments/{tenant}/{}/{}", Uuid::now_v7(), Uuid::now_v7()),
        format!("examples/{tenant}/{}/{}", Uuid::now_v7(), Uuid::now_v7()),
    ];
    for key in &orphans {
        storage
            .put(key, bytes::Bytes::from_static(b"orphan"))
            .await?;
    }
    let mut left = orphans.len();
    for _ in 0..150 {
        left = 0;
        for key in &orphans {
            if storage.get(key).await.is_ok() {
                left += 1;
            }
        }
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, 0, "orphans are still stored");
    let run = admin.get(&format!("/runs/{kept}")).await?.expect(200)?;
    assert_eq!(run["inputs"]["text"].as_str().map(str::len), Some(30_000));
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn poison_usage_neither_stops_the_worker_nor_costs_other_runs() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    // Token counts at the edge of the integer range, and costs no float holds: summing or
    // converting them naively overflows (a panic in checked builds) while the worker stores
    // the batch they arrive in.
    let hostile = Uuid::now_v7();
    let usage = json!({"usage_metadata": {
        "input_tokens": i64::MAX, "output_tokens": 1e300,
        "input_cost": "1e999", "output_cost": "NaN",
    }});
    // Neighbours sent just before and after it, in requests of their own.
    let neighbours: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    for (i, id) in neighbours.iter().enumerate() {
        admin
            .post("/runs", run_with(*id, json!({"outputs": {"ok": true}})))
            .await?
            .expect(202)?;
        if i == 1 {
            let run = run_with(hostile, json!({"run_type": "llm", "outputs": usage}));
            admin
                .post("/runs/batch", json!({"post": [run]}))
                .await?
                .expect(202)?;
        }
    }
    let rows = stack.ingested_runs("hostile").await?;
    assert!(rows.len() >= 5);
    let stored = |id: Uuid| rows.iter().find(|r| r.id == id);
    for id in &neighbours {
        assert!(stored(*id).is_some(), "the neighbouring run {id} was lost");
    }
    let row = stored(hostile).ok_or_else(|| anyhow::anyhow!("the hostile run was lost"))?;
    assert!(
        row.prompt_tokens > 0 && row.completion_tokens > 0,
        "{row:?}"
    );
    assert!(
        row.total_tokens >= row.prompt_tokens,
        "the total wrapped around: {row:?}"
    );
    // The shard goes on: a later run is stored too, and nothing was dead-lettered.
    let later = Uuid::now_v7();
    admin
        .post("/runs", run_with(later, json!({})))
        .await?
        .expect(202)?;
    let rows = stack.ingested_runs("hostile").await?;
    assert!(rows.len() >= 6);
    assert!(rows.iter().any(|r| r.id == later));
    let letters: Value = reqwest::Client::new()
        .get(format!("{}/dead-letters/ingest", stack.worker))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(letters, json!([]));
    all_ready(&stack).await?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn large_free_form_fields_go_to_object_storage_not_through_the_stream() -> anyhow::Result<()>
{
    let stack = Stack::start_with_options(|_| {}, false).await?;
    let threshold = stack.config.ingest.offload_threshold_bytes;
    let big = |c: &str| c.repeat(threshold + 1000);
    let admin = stack.admin();
    let id = Uuid::now_v7();
    let token_at = "2026-01-02T03:04:05.678901Z";
    let extra = json!({
        "metadata": {"thread_id": "t-1", "ls_provider": "p-1"},
        "runtime": {"sdk": "python"},
        "invocation_params": {"model": "m-1", "tools": big("t")},
    });
    let events = json!([
        {"name": "new_token", "time": token_at, "kwargs": {"token": "a"}},
        {"name": "other", "kwargs": {"blob": big("e")}},
    ]);
    let serialized = json!({"name": "chain", "blob": big("s")});
    let error = format!("Traceback: {}", big("x"));
    admin
        .post(
            "/runs",
            run_with(
                id,
                json!({"run_type": "llm", "extra": extra, "events": events,
                       "serialized": serialized, "error": error}),
            ),
        )
        .await?
        .expect(202)?;
    // A later update merges into the stored extra.
    admin
        .patch(
            &format!("/runs/{id}"),
            json!({"extra": {"metadata": {"added": "later"}}, "end_time": chrono::Utc::now().to_rfc3339()}),
        )
        .await?
        .expect(202)?;

    // What waits in the stream is small: every large field is already in object storage.
    let stream = ironsmith_queue::ShardedStream::new(
        ironsmith_queue::Redis::new(&stack.config.redis)?,
        ironsmith_queue::INGEST_STREAM,
        stack.config.ingest.shards,
    );
    let mut conn = stream.redis().connection().await?;
    let mut queued = 0;
    for shard in 0..stack.config.ingest.shards {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream.stream_key(shard))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await?;
        for entry in reply.ids {
            for value in entry.map.values() {
                if let redis::Value::BulkString(bytes) = value {
                    queued += bytes.len();
                }
            }
        }
    }
    assert!(queued > 0, "nothing was queued");
    assert!(
        queued < threshold,
        "{queued} bytes travel through the stream (threshold {threshold})"
    );

    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = ironsmith_queue_worker::start(stack.config.clone(), shutdown.clone()).await?;
    let rows = stack.ingested_runs("hostile").await?;
    assert!(rows.iter().any(|r| r.extra.contains("later")));
    let row = &rows[0];
    // ClickHouse holds keys, the beginning of the error, and what derived columns need.
    for key in [
        &row.extra_s3_key,
        &row.events_s3_key,
        &row.serialized_s3_key,
        &row.error_s3_key,
    ] {
        assert!(key.starts_with("runs/"), "{row:?}");
    }
    assert!(row.extra.len() < 1000, "{}", row.extra);
    assert!(row.events.is_empty() && row.serialized.is_empty());
    assert_eq!(row.status, "error");
    assert!(row.error.starts_with("Traceback: xxx") && row.error.len() < error.len());
    assert_eq!(row.thread_id, "t-1");
    assert_eq!(row.ls_model_name, "m-1");
    assert_eq!(
        row.first_token_time_us,
        chrono::DateTime::parse_from_rfc3339(token_at)
            .ok()
            .map(|t| t.timestamp_micros())
    );

    // Reads put every field back whole.
    let run = admin.get(&format!("/runs/{id}")).await?.expect(200)?;
    assert_eq!(run["error"], json!(error));
    assert_eq!(run["events"], events);
    assert_eq!(run["serialized"], serialized);
    let mut merged = extra.clone();
    merged["metadata"]["added"] = json!("later");
    assert_eq!(
        run["extra"]["metadata"], merged["metadata"],
        "{}",
        run["extra"]
    );
    assert_eq!(run["extra"]["runtime"], merged["runtime"]);
    assert_eq!(
        run["extra"]["invocation_params"],
        merged["invocation_params"]
    );
    let queried = admin
        .post(
            "/runs/query",
            json!({"id": [id], "select": ["extra", "events", "serialized", "error"]}),
        )
        .await?
        .expect(200)?;
    let found = &queried["runs"][0];
    assert_eq!(found["events"], events);
    assert_eq!(
        found["extra"]["invocation_params"],
        merged["invocation_params"]
    );
    assert_eq!(found["error"], json!(error));

    // A field over its hard cap is refused, naming it.
    let cap = stack.config.ingest.max_field_bytes;
    let refused = admin
        .post(
            "/runs",
            run_with(
                Uuid::now_v7(),
                json!({"serialized": {"blob": "z".repeat(cap)}}),
            ),
        )
        .await?;
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert!(
        refused.body.to_string().contains("serialized"),
        "{}",
        refused.body
    );
    all_ready(&stack).await?;
    shutdown.cancel();
    worker.wait().await?;
    stack.stop().await;
    Ok(())
}
