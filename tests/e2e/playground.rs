//! The playground end to end: secrets and model configurations through the API, calls through
//! the edge to the playground service, each provider mapping checked against a stand-in that
//! records what it received, the traced runs in the playground project, and the outbound
//! policy.

use std::time::Duration;

use ironsmith_e2e::providers::{Received, Scripted, StandIn};
use ironsmith_e2e::{Client, Stack};
use serde_json::{Value, json};

const OPENAI_KEY: &str = "sk-test-openai-0123456789WXYZ";
const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789ABCD";

async fn set_secrets(admin: &Client) -> anyhow::Result<Value> {
    admin
        .post(
            "/workspaces/current/secrets",
            json!([{"key": "OPENAI_API_KEY", "value": OPENAI_KEY}, {"key": "ANTHROPIC_API_KEY", "value": ANTHROPIC_KEY}]),
        )
        .await?
        .expect(200)
}

/// A streamed Chat Completions answer of `texts`, then its usage.
pub(crate) fn openai_stream(
    texts: &[&str],
    prompt_tokens: u64,
    completion_tokens: u64,
) -> Scripted {
    let mut events: Vec<String> = texts
        .iter()
        .map(|t| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]}).to_string())
        .collect();
    events.push(json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string());
    events.push(json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}}).to_string());
    events.push("[DONE]".into());
    let pairs: Vec<(&str, &str)> = events.iter().map(|e| ("", e.as_str())).collect();
    Scripted::sse(&pairs)
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect()
}

fn only(received: Vec<Received>) -> Received {
    assert_eq!(received.len(), 1, "the stand-in received {received:?}");
    received.into_iter().next().expect("one request")
}

/// The run the playground traced, once the worker has stored it.
async fn traced_run(admin: &Client, run_id: &str) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let answer = admin.get(&format!("/runs/{run_id}")).await?;
        if answer.status == 200 {
            return Ok(answer.body);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "run {run_id} was never traced: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_prompt_streams_from_openai_and_is_traced_into_the_playground_project()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let provider = StandIn::start().await?;

    // Secrets: write-only, listed by name and last four characters.
    let listed = set_secrets(&admin).await?;
    assert_eq!(listed, admin.get("/workspaces/current/secrets").await?.body);
    let openai = listed
        .as_array()
        .and_then(|a| a.iter().find(|s| s["key"] == "OPENAI_API_KEY"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(openai["last_four"], "WXYZ");
    assert!(!listed.to_string().contains("0123456789"), "{listed}");

    let config = admin
        .post(
            "/model-configs",
            json!({
                "name": "fast", "provider": "openai", "model": "gpt-4o-mini",
                "base_url": format!("{}/v1", provider.url),
                "parameters": {"temperature": 0.2, "max_tokens": 256, "seed": 7, "stop": ["\n\n"]}
            }),
        )
        .await?
        .expect(201)?;
    assert_eq!(config["secret_key"], "OPENAI_API_KEY");

    provider.script([openai_stream(&["Par", "is"], 21, 2)]);
    let (status, events) = admin
        .post_events(
            "/playground/invoke",
            json!({
                "messages": [
                    {"role": "system", "content": "Answer in one word."},
                    {"role": "user", "content": "Capital of {country}?"}
                ],
                "inputs": {"country": "France"},
                "model_config_id": config["id"],
                "parameters": {"temperature": 0.5}
            }),
        )
        .await?;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(
        kinds(&events),
        ["start", "delta", "delta", "end"],
        "{events:?}"
    );
    let end = &events[3];
    assert_eq!(end["message"]["content"], "Paris");
    assert_eq!(
        end["usage"],
        json!({"input_tokens": 21, "output_tokens": 2, "total_tokens": 23})
    );
    assert_eq!(end["finish_reason"], "stop");
    assert_eq!(end["traced"], true);

    // What OpenAI would have received.
    let request = only(provider.take());
    assert_eq!(
        (request.method.as_str(), request.uri.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(
        request.body,
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Answer in one word."},
                {"role": "user", "content": "Capital of France?"}
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "temperature": 0.5,
            "max_completion_tokens": 256,
            "seed": 7,
            "stop": ["\n\n"]
        })
    );

    // The traced run, as an SDK's LLM run would look.
    let run = traced_run(&admin, end["run_id"].as_str().unwrap_or_default()).await?;
    assert_eq!(run["name"], "ChatOpenAI");
    assert_eq!(run["run_type"], "llm");
    assert_eq!(run["total_tokens"], 23);
    assert_eq!(
        run["inputs"]["messages"][1]["content"],
        "Capital of France?"
    );
    assert_eq!(run["outputs"]["choices"][0]["message"]["content"], "Paris");
    assert_eq!(run["extra"]["metadata"]["ls_provider"], "openai");
    assert_eq!(run["extra"]["metadata"]["ls_model_name"], "gpt-4o-mini");
    assert!(run["extra"]["invocation_params"].get("messages").is_none());
    let project = stack
        .project_id("playground")
        .await?
        .expect("the playground project");
    assert_eq!(run["session_id"], project.to_string());
    assert!(!run.to_string().contains(OPENAI_KEY));
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn tool_calls_and_structured_output_map_for_openai_and_anthropic() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    set_secrets(&admin).await?;
    let provider = StandIn::start().await?;
    let weather = json!({"name": "weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}});

    // OpenAI: streamed tool call pieces assemble; the answer arrives as one object.
    let chunk = |delta: Value| json!({"choices": [{"index": 0, "delta": delta}]}).to_string();
    let events = [
        chunk(json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "weather", "arguments": ""}}]})),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]})),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]})),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 30, "completion_tokens": 9}}).to_string(),
        "[DONE]".to_owned(),
    ];
    let pairs: Vec<(&str, &str)> = events.iter().map(|e| ("", e.as_str())).collect();
    provider.script([Scripted::sse(&pairs)]);
    let inline_openai = json!({"name": "inline", "provider": "openai", "model": "gpt-4o", "base_url": format!("{}/v1", provider.url)});
    let answer = admin
        .post("/playground/invoke", json!({
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "model_config": inline_openai, "tools": [weather], "tool_choice": "auto", "stream": false
        }))
        .await?
        .expect(200)?;
    assert_eq!(
        answer["message"]["tool_calls"],
        json!([{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );
    assert_eq!(answer["finish_reason"], "tool_calls");
    let request = only(provider.take());
    assert_eq!(
        request.body["tools"],
        json!([{"type": "function", "function": weather}])
    );
    assert_eq!(request.body["tool_choice"], "auto");

    // OpenAI: a JSON schema output.
    provider.script([openai_stream(&["{\"answer\":", "4}"], 5, 3)]);
    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": false});
    let answer = admin
        .post(
            "/playground/invoke",
            json!({
                "messages": [{"role": "user", "content": "2+2?"}], "model_config": inline_openai,
                "output_schema": {"name": "sum", "schema": schema}, "stream": false
            }),
        )
        .await?
        .expect(200)?;
    assert_eq!(answer["message"]["content"], "{\"answer\":4}");
    let request = only(provider.take());
    assert_eq!(
        request.body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "sum", "schema": schema, "strict": true}})
    );

    // Anthropic: the Messages API's events, its headers, system apart, tools as input schemas,
    // an image as a base64 source.
    provider.script([Scripted::sse(&[
        ("message_start", r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":40,"output_tokens":1}}}"#),
        ("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
        ("ping", r#"{"type":"ping"}"#),
        ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking."}}"#),
        ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
        ("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"weather","input":{}}}"#),
        ("content_block_delta", r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Paris\"}"}}"#),
        ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
        ("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":15}}"#),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ])]);
    let (status, events) = admin
        .post_events("/playground/invoke", json!({
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": [{"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}
            ],
            "model_config": {"name": "claude", "provider": "anthropic", "model": "claude-sonnet-4-5", "base_url": provider.url,
                "parameters": {"max_tokens": 1024, "temperature": 0.3}},
            "tools": [weather], "tool_choice": {"name": "weather"}
        }))
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        kinds(&events),
        ["start", "delta", "tool_call", "tool_call", "end"],
        "{events:?}"
    );
    let end = events.last().expect("an end");
    assert_eq!(end["message"]["content"], "Checking.");
    assert_eq!(
        end["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"city\": \"Paris\"}"
    );
    assert_eq!(end["usage"]["total_tokens"], 55);
    let request = only(provider.take());
    assert_eq!(request.uri, "/v1/messages");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {ANTHROPIC_KEY}").as_str())
    );
    assert_eq!(request.header("anthropic-version"), Some("2026-10-21"));
    assert_eq!(request.header("x-api-key"), None);
    assert_eq!(
        request.body,
        json!({
            "model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true, "temperature": 0.3,
            "system": "You are terse.",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
            ]}],
            "tools": [{"name": "weather", "description": "Weather of a city", "input_schema": weather["parameters"]}],
            "tool_choice": {"type": "tool", "name": "weather"}
        })
    );
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn provider_errors_are_reported_retried_and_traced() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    set_secrets(&admin).await?;
    let provider = StandIn::start().await?;
    let body = |config: Value| json!({"messages": [{"role": "user", "content": "hi"}], "model_config": config, "stream": false});
    let openai = json!({"name": "o", "provider": "openai", "model": "gpt-4o", "base_url": format!("{}/v1", provider.url)});

    // A 4xx is reported with the provider's own message, not retried, and traced as an error.
    provider.script([Scripted::json(400, &json!({"error": {"message": "Invalid value for 'temperature'", "type": "invalid_request_error"}}))]);
    let refused = admin
        .post("/playground/invoke", body(openai.clone()))
        .await?;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .str("detail")
            .contains("Invalid value for 'temperature'"),
        "{}",
        refused.body
    );
    assert_eq!(provider.take().len(), 1);
    let run = traced_run(&admin, refused.body["run_id"].as_str().unwrap_or_default()).await?;
    assert!(
        run["error"]
            .as_str()
            .unwrap_or_default()
            .contains("Invalid value"),
        "{run}"
    );

    // A refused key names the secret to fix.
    provider.script([Scripted::json(
        401,
        &json!({"error": {"message": "Incorrect API key provided"}}),
    )]);
    let refused = admin
        .post("/playground/invoke", body(openai.clone()))
        .await?;
    assert_eq!(refused.status, 400);
    assert!(
        refused.str("detail").contains("OPENAI_API_KEY"),
        "{}",
        refused.body
    );
    provider.take();

    // 429 and 5xx are retried (retry-after honoured), then succeed…
    provider.script([
        Scripted::json(429, &json!({"error": {"message": "Rate limit reached"}}))
            .header("retry-after-ms", "10"),
        Scripted::json(503, &json!({"error": {"message": "overloaded"}})),
        openai_stream(&["ok"], 1, 1),
    ]);
    let answer = admin
        .post("/playground/invoke", body(openai.clone()))
        .await?
        .expect(200)?;
    assert_eq!(answer["message"]["content"], "ok");
    assert_eq!(provider.take().len(), 3);

    // …or are reported once the retries are spent (two retries: three attempts).
    provider.script(
        (0..3).map(|_| Scripted::json(429, &json!({"error": {"message": "Rate limit reached"}}))),
    );
    let limited = admin
        .post("/playground/invoke", body(openai.clone()))
        .await?;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.str("detail").contains("Rate limit reached"));
    assert_eq!(provider.take().len(), 3);
    provider.script((0..3).map(|_| Scripted::json(500, &json!({"error": {"message": "boom"}}))));
    let failed = admin
        .post("/playground/invoke", body(openai.clone()))
        .await?;
    assert_eq!(failed.status, 502, "{}", failed.body);
    provider.take();

    // Anthropic's error shape; a stream that reports an error midway.
    provider.script([Scripted::json(400, &json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}))]);
    let anthropic = json!({"name": "a", "provider": "anthropic", "model": "claude-haiku-4-5", "base_url": provider.url});
    let refused = admin
        .post("/playground/invoke", body(anthropic.clone()))
        .await?;
    assert_eq!(refused.status, 400);
    assert!(
        refused.str("detail").contains("max_tokens: too large"),
        "{}",
        refused.body
    );
    provider.script([Scripted::sse(&[
        (
            "message_start",
            r#"{"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":0}}}"#,
        ),
        (
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ),
    ])]);
    let (_, events) = admin
        .post_events(
            "/playground/invoke",
            json!({"messages": [{"role": "user", "content": "hi"}], "model_config": anthropic}),
        )
        .await?;
    assert_eq!(kinds(&events), ["start", "error"], "{events:?}");
    assert!(
        events[1]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Overloaded")
    );

    // A missing secret names itself; a missing variable names itself.
    admin
        .post(
            "/workspaces/current/secrets",
            json!([{"key": "ANTHROPIC_API_KEY", "value": null}]),
        )
        .await?
        .expect(200)?;
    let missing = admin.post("/playground/invoke", body(anthropic)).await?;
    assert_eq!(missing.status, 422);
    assert!(
        missing.str("detail").contains("ANTHROPIC_API_KEY"),
        "{}",
        missing.body
    );
    let unfilled = admin
        .post("/playground/invoke", json!({"messages": [{"role": "user", "content": "{question}"}], "model_config": openai}))
        .await?;
    assert_eq!(unfilled.status, 422);
    assert!(
        unfilled.body.to_string().contains("`question` is missing"),
        "{}",
        unfilled.body
    );
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn azure_and_compatible_servers_get_their_own_urls_and_auth() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let provider = StandIn::start().await?;
    admin
        .post(
            "/workspaces/current/secrets",
            json!([{"key": "AZURE_OPENAI_API_KEY", "value": "azure-key-12345678"}]),
        )
        .await?
        .expect(200)?;
    provider.script([openai_stream(&["hi"], 1, 1), openai_stream(&["yo"], 1, 1)]);
    let azure = json!({"name": "az", "provider": "azure_openai", "model": "gpt-4o", "base_url": provider.url,
        "options": {"deployment": "prod-gpt4o", "api_version": "2024-10-21"}, "parameters": {"max_tokens": 10}});
    let messages = json!([{"role": "user", "content": "hi"}]);
    admin
        .post(
            "/playground/invoke",
            json!({"messages": messages, "model_config": azure, "stream": false}),
        )
        .await?
        .expect(200)?;
    let request = only(provider.take());
    assert_eq!(
        request.uri,
        "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(request.header("api-key"), Some("azure-key-12345678"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.body["max_tokens"], 10);

    // An OpenAI-compatible server (Ollama, vLLM) without a key: no authorization at all.
    let ollama = json!({"name": "local", "provider": "openai_compatible", "model": "llama3.2", "base_url": format!("{}/v1", provider.url)});
    admin
        .post(
            "/playground/invoke",
            json!({"messages": messages, "model_config": ollama, "stream": false}),
        )
        .await?
        .expect(200)?;
    let request = only(provider.take());
    assert_eq!(request.uri, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), None);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn base_urls_reaching_internal_addresses_are_refused() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let provider = StandIn::start().await?;
    let port = provider
        .url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let call = |base: String| {
        json!({"messages": [{"role": "user", "content": "hi"}], "stream": false,
        "model_config": {"name": "x", "provider": "openai_compatible", "model": "m", "base_url": base}})
    };
    for base in [
        "http://169.254.169.254/latest".to_owned(),
        "http://10.0.0.1:8000/v1".to_owned(),
        "http://192.168.1.20/v1".to_owned(),
        "http://[::1]:11434/v1".to_owned(),
        // Loopback outside the allow-listed 127.0.0.1/32.
        format!("http://127.0.0.2:{port}/v1"),
    ] {
        let refused = admin.post("/playground/invoke", call(base.clone())).await?;
        assert_eq!(refused.status, 422, "{base}: {}", refused.body);
        assert!(
            refused.str("detail").contains("internal address"),
            "{base}: {}",
            refused.body
        );
    }
    // A redirect from an allowed server to the metadata address is refused too.
    provider.script([Scripted::json(307, &json!({}))
        .header("location", "http://169.254.169.254/latest/meta-data")]);
    let refused = admin
        .post("/playground/invoke", call(format!("{}/v1", provider.url)))
        .await?;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(provider.take().len(), 1);
    assert!(
        stack
            .anonymous()
            .get("/workspaces/current/secrets")
            .await?
            .status
            == 401
    );

    // Without an allow-list, a name resolving to loopback is refused after resolution, and
    // the allowed address is too.
    let mut strict = (*stack.config).clone();
    strict.playground.allowed_networks.clear();
    strict.services.playground.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let served = ironsmith_playground::start(std::sync::Arc::new(strict), shutdown.clone()).await?;
    let direct = Client::new(&format!("http://{}", served.local_addr)).key(&stack.admin_key);
    for base in [
        format!("http://localhost:{port}/v1"),
        format!("{}/v1", provider.url),
    ] {
        let refused = direct
            .post("/playground/invoke", call(base.clone()))
            .await?;
        assert_eq!(refused.status, 422, "{base}: {}", refused.body);
        assert!(
            refused.str("detail").contains("internal address"),
            "{base}: {}",
            refused.body
        );
    }
    assert!(provider.take().is_empty());
    shutdown.cancel();
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn hub_prompts_run_and_workspaces_keep_their_secrets_and_configurations() -> anyhow::Result<()>
{
    let stack = Stack::start().await?;
    let admin = stack.admin();
    set_secrets(&admin).await?;
    let provider = StandIn::start().await?;
    admin
        .post(
            "/repos/",
            json!({"repo_handle": "capitals", "is_public": false}),
        )
        .await?
        .expect(200)?;
    let template = |class: &str, text: &str| {
        json!({"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", class],
        "kwargs": {"prompt": {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
            "kwargs": {"input_variables": [], "template": text, "template_format": "f-string"}}}})
    };
    let manifest = json!({"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "ChatPromptTemplate"],
        "kwargs": {"input_variables": ["country"], "messages": [
            template("SystemMessagePromptTemplate", "Reply with a city."),
            template("HumanMessagePromptTemplate", "Capital of {country}?")]}});
    admin
        .post(
            "/commits/-/capitals",
            json!({"parent_commit": null, "manifest": manifest}),
        )
        .await?
        .expect(201)?;
    let config = admin
        .post("/model-configs", json!({"name": "m", "provider": "openai", "model": "gpt-4o-mini", "base_url": format!("{}/v1", provider.url)}))
        .await?
        .expect(201)?;
    provider.script([openai_stream(&["Rome"], 9, 1)]);
    let answer = admin
        .post(
            "/playground/invoke",
            json!({"prompt": {"repo": "capitals"}, "inputs": {"country": "Italy"},
            "model_config_id": config["id"], "stream": false}),
        )
        .await?
        .expect(200)?;
    assert_eq!(answer["message"]["content"], "Rome");
    assert_eq!(
        only(provider.take()).body["messages"],
        json!([
        {"role": "system", "content": "Reply with a city."}, {"role": "user", "content": "Capital of Italy?"}])
    );
    let run = traced_run(&admin, answer["run_id"].as_str().unwrap_or_default()).await?;
    assert!(
        run["extra"]["metadata"]["prompt"]
            .as_str()
            .unwrap_or_default()
            .starts_with("capitals:"),
        "{run}"
    );

    // Another workspace sees none of it and cannot use it.
    let other = admin
        .post("/workspaces", json!({"display_name": "Other"}))
        .await?
        .expect(200)?;
    let other = admin
        .clone()
        .tenant(other["id"].as_str().unwrap_or_default());
    assert_eq!(
        other.get("/workspaces/current/secrets").await?.body,
        json!([])
    );
    assert_eq!(other.get("/model-configs").await?.body, json!([]));
    assert_eq!(
        other
            .get(&format!(
                "/model-configs/{}",
                config["id"].as_str().unwrap_or_default()
            ))
            .await?
            .status,
        404
    );
    let foreign = other
        .post("/playground/invoke", json!({"messages": [{"role": "user", "content": "hi"}], "model_config_id": config["id"]}))
        .await?;
    assert_eq!(foreign.status, 404, "{}", foreign.body);
    let foreign = other
        .post("/playground/invoke", json!({"prompt": {"repo": "capitals"}, "model_config": {"name": "m", "provider": "openai", "model": "gpt-4o"}}))
        .await?;
    assert!(matches!(foreign.status, 404 | 422), "{}", foreign.body);
    assert!(provider.take().is_empty());

    // Configurations: names are unique per workspace, replace and delete work.
    let taken = admin
        .post(
            "/model-configs",
            json!({"name": "m", "provider": "anthropic", "model": "claude"}),
        )
        .await?;
    assert_eq!(taken.status, 409, "{}", taken.body);
    let id = config["id"].as_str().unwrap_or_default();
    let replaced = admin
        .put(&format!("/model-configs/{id}"), json!({"name": "m2", "provider": "anthropic", "model": "claude-haiku-4-5", "parameters": {"max_tokens": 100}}))
        .await?
        .expect(200)?;
    assert_eq!(replaced["secret_key"], "ANTHROPIC_API_KEY");
    assert_eq!(
        admin.delete(&format!("/model-configs/{id}")).await?.status,
        204
    );
    assert_eq!(
        admin.get(&format!("/model-configs/{id}")).await?.status,
        404
    );

    // The internal resolve route is not reachable from outside, nor without the shared token.
    assert_eq!(
        admin
            .post("/internal/playground/resolve", json!({}))
            .await?
            .status,
        404
    );
    let direct = Client::new(&stack.backend).key(&stack.admin_key);
    let resolved = direct
        .post(
            "/internal/playground/resolve",
            json!({"model_config": {"name": "m", "provider": "openai", "model": "gpt-4o"}}),
        )
        .await?;
    assert_eq!(resolved.status, 404);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_prompt_runs_over_a_dataset_split_as_a_scored_experiment() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    set_secrets(&admin).await?;
    let provider = StandIn::start().await?;
    let dataset = admin
        .post("/datasets", json!({"name": "capitals"}))
        .await?
        .expect(200)?;
    let dataset_id = dataset["id"].as_str().unwrap_or_default().to_owned();
    admin
        .post("/examples/bulk", json!([
            {"dataset_id": dataset_id, "inputs": {"country": "France"}, "outputs": {"answer": "Paris"}, "split": "test"},
            {"dataset_id": dataset_id, "inputs": {"country": "Italy"}, "outputs": {"answer": "Rome"}, "split": "test"},
            {"dataset_id": dataset_id, "inputs": {"country": "Spain"}, "outputs": {"answer": "Madrid"}, "split": "train"},
        ]))
        .await?
        .expect(200)?;
    let config = admin
        .post("/model-configs", json!({"name": "m", "provider": "openai", "model": "gpt-4o-mini", "base_url": format!("{}/v1", provider.url)}))
        .await?
        .expect(201)?;
    // One call at a time: answer, then its judge; the second answer is wrong.
    provider.script([
        openai_stream(&["Paris"], 5, 1),
        openai_stream(&["{\"score\": 1, \"reasoning\": \"correct\"}"], 30, 8),
        openai_stream(&["Milan"], 5, 1),
        openai_stream(&["{\"score\": 0, \"reasoning\": \"wrong city\"}"], 30, 8),
    ]);
    let (status, events) = admin
        .post_events("/playground/experiment", json!({
            "dataset_id": dataset_id, "split": "test", "experiment_name": "capitals-gpt-4o-mini", "concurrency": 1,
            "invoke": {"messages": [{"role": "user", "content": "Capital of {country}?"}], "model_config_id": config["id"]},
            "evaluators": [{"type": "exact_match"}, {"type": "llm_judge", "model_config_id": config["id"], "criteria": "Names the capital"}]
        }))
        .await?;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(
        kinds(&events),
        ["start", "progress", "progress", "end"],
        "{events:?}"
    );
    assert_eq!(events[0]["total"], 2);
    assert_eq!(events[3]["errors"], 0, "{events:?}");
    let experiment_id = events[0]["experiment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let received = provider.take();
    assert_eq!(received.len(), 4);
    assert_eq!(
        received[0].body["messages"][0]["content"],
        "Capital of France?"
    );
    assert!(
        received[1].body["response_format"]["json_schema"].is_object(),
        "{:?}",
        received[1].body
    );

    // The experiment is the dataset's, its runs point at their examples, and each carries the
    // evaluators' scores.
    let experiments = admin
        .get(&format!("/sessions?reference_dataset={dataset_id}"))
        .await?
        .expect(200)?;
    assert_eq!(
        experiments[0]["id"],
        experiment_id.as_str(),
        "{experiments}"
    );
    assert_eq!(experiments[0]["name"], "capitals-gpt-4o-mini");
    let runs = stack
        .wait_for_runs("capitals-gpt-4o-mini", 2, Duration::from_secs(20))
        .await?;
    assert!(runs.iter().all(|r| r.reference_example_id.is_some()));
    let mut scores = Vec::new();
    for run in &runs {
        let feedback = stack
            .wait_for_feedback(run.trace_id, Duration::from_secs(20))
            .await?;
        let mut keyed: Vec<(String, f64)> = feedback
            .iter()
            .map(|f| (f.key.clone(), f.score.unwrap_or(-1.0)))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        scores.push(keyed);
    }
    scores.sort_by(|a, b| b[0].1.total_cmp(&a[0].1));
    assert_eq!(
        scores,
        vec![
            vec![
                ("exact_match".to_owned(), 1.0),
                ("llm_judge".to_owned(), 1.0)
            ],
            vec![
                ("exact_match".to_owned(), 0.0),
                ("llm_judge".to_owned(), 0.0)
            ],
        ]
    );
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn gemini_maps_system_tools_results_and_images_and_streams() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    admin
        .post(
            "/workspaces/current/secrets",
            json!([{"key": "GOOGLE_API_KEY", "value": "AIza-test-key-0000"}]),
        )
        .await?
        .expect(200)?;
    let provider = StandIn::start().await?;
    let gemini = json!({"name": "g", "provider": "google_genai", "model": "gemini-2.5-flash", "base_url": provider.url,
        "parameters": {"temperature": 0.1, "max_tokens": 200, "stop": ["END"], "seed": 3}});
    provider.script([Scripted::sse(&[
        ("", r#"{"candidates":[{"content":{"parts":[{"text":"It is "}],"role":"model"},"index":0}]}"#),
        ("", r#"{"candidates":[{"content":{"parts":[{"text":"sunny."}],"role":"model"},"index":0}]}"#),
        ("", r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"weather","args":{"city":"Rome"}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":50,"candidatesTokenCount":12,"totalTokenCount":62}}"#),
    ])]);
    let (status, events) = admin
        .post_events("/playground/invoke", json!({
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}, {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}]},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_0", "content": "{\"sky\":\"clear\"}"}
            ],
            "model_config": gemini,
            "tools": [{"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": "required"
        }))
        .await?;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(
        kinds(&events),
        ["start", "delta", "delta", "tool_call", "end"],
        "{events:?}"
    );
    let end = events.last().expect("an end");
    assert_eq!(end["message"]["content"], "It is sunny.");
    assert_eq!(
        end["message"]["tool_calls"][0]["function"],
        json!({"name": "weather", "arguments": "{\"city\":\"Rome\"}"})
    );
    assert_eq!(
        end["usage"],
        json!({"input_tokens": 50, "output_tokens": 12, "total_tokens": 62})
    );
    let request = only(provider.take());
    assert_eq!(
        request.uri,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(request.header("x-goog-api-key"), Some("AIza-test-key-0000"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.body,
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "Weather in Paris?"}, {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}}]},
                {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"sky": "clear"}}}]}
            ],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "generationConfig": {"temperature": 0.1, "maxOutputTokens": 200, "stopSequences": ["END"], "seed": 3},
            "tools": [{"functionDeclarations": [{"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}
        })
    );

    // Gemini's error shape, and a JSON schema answer.
    provider.script([Scripted::json(400, &json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}))]);
    let refused = admin.post("/playground/invoke", json!({"messages": [{"role": "user", "content": "hi"}], "model_config": gemini, "stream": false})).await?;
    assert_eq!(refused.status, 400);
    assert!(
        refused.str("detail").contains("API key not valid"),
        "{}",
        refused.body
    );
    provider.take();
    provider.script([Scripted::sse(&[(
        "",
        r#"{"candidates":[{"content":{"parts":[{"text":"{\"n\": 4}"}]},"finishReason":"STOP"}]}"#,
    )])]);
    let answer = admin
        .post("/playground/invoke", json!({"messages": [{"role": "user", "content": "2+2?"}], "model_config": gemini, "stream": false,
            "output_schema": {"schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}}))
        .await?
        .expect(200)?;
    assert_eq!(answer["message"]["content"], "{\"n\": 4}");
    let request = only(provider.take());
    assert_eq!(
        request.body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        request.body["generationConfig"]["responseJsonSchema"]["properties"]["n"]["type"],
        "integer"
    );
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_openai_responses_api_maps_instructions_items_and_typed_events() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    set_secrets(&admin).await?;
    let provider = StandIn::start().await?;
    let responses = json!({"name": "r", "provider": "openai", "model": "gpt-5-mini", "base_url": format!("{}/v1", provider.url),
        "options": {"api": "responses"}, "parameters": {"max_tokens": 300, "reasoning_effort": "low"}});
    provider.script([Scripted::sse(&[
        ("response.created", r#"{"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}"#),
        ("response.output_text.delta", r#"{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"Let me look."}"#),
        ("response.output_item.added", r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_9","name":"weather","arguments":""}}"#),
        ("response.function_call_arguments.delta", r#"{"type":"response.function_call_arguments.delta","output_index":1,"item_id":"fc_1","delta":"{\"city\":\"Oslo\"}"}"#),
        ("response.completed", r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":40,"output_tokens":11,"total_tokens":51}}}"#),
    ])]);
    let (status, events) = admin
        .post_events("/playground/invoke", json!({
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "rain"}
            ],
            "model_config": responses,
            "tools": [{"name": "weather", "description": "Weather", "parameters": {"type": "object"}}],
            "tool_choice": {"name": "weather"}
        }))
        .await?;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(
        kinds(&events),
        ["start", "delta", "tool_call", "tool_call", "end"],
        "{events:?}"
    );
    let end = events.last().expect("an end");
    assert_eq!(
        end["message"]["tool_calls"][0],
        json!({"id": "call_9", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}})
    );
    assert_eq!(end["usage"]["total_tokens"], 51);
    let request = only(provider.take());
    assert_eq!(request.uri, "/v1/responses");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(
        request.body,
        json!({
            "model": "gpt-5-mini", "stream": true, "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]},
                {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "rain"}
            ],
            "max_output_tokens": 300, "reasoning": {"effort": "low"},
            "tools": [{"type": "function", "name": "weather", "description": "Weather", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "weather"}
        })
    );
    // A failed response reports the provider's message.
    provider.script([Scripted::sse(&[("response.failed", r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"The model crashed"}}}"#)])]);
    let failed = admin.post("/playground/invoke", json!({"messages": [{"role": "user", "content": "hi"}], "model_config": responses, "stream": false})).await?;
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert!(
        failed.str("detail").contains("The model crashed"),
        "{}",
        failed.body
    );
    stack.stop().await;
    Ok(())
}

/// An AWS event stream of `(event type, JSON payload)` frames; an `exception:<type>` name makes
/// an exception frame.
fn aws_event_stream(frames: &[(&str, Value)]) -> Vec<u8> {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let mut out = Vec::new();
    for (name, payload) in frames {
        let mut message = Message::new(payload.to_string().into_bytes()).add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
        message = match name.strip_prefix("exception:") {
            Some(kind) => message
                .add_header(Header::new(
                    ":message-type",
                    HeaderValue::String("exception".into()),
                ))
                .add_header(Header::new(
                    ":exception-type",
                    HeaderValue::String((*kind).to_owned().into()),
                )),
            None => message
                .add_header(Header::new(
                    ":message-type",
                    HeaderValue::String("event".into()),
                ))
                .add_header(Header::new(
                    ":event-type",
                    HeaderValue::String((*name).to_owned().into()),
                )),
        };
        aws_smithy_eventstream::frame::write_message_to(&message, &mut out).expect("a frame");
    }
    out
}

/// The SigV4 `authorization` header of the request as received, signed again independently
/// with the same time, to compare with what the playground sent.
fn expected_signature(request: &Received, url: &str, secret: &str) -> String {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let date = request.header("x-amz-date").expect("x-amz-date");
    let time = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .expect("a date")
        .and_utc();
    let identity =
        aws_credential_types::Credentials::new("AKIATESTKEY0001", secret, None, None, "test")
            .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name("bedrock")
        .time(std::time::SystemTime::from(time))
        .settings(SigningSettings::default())
        .build()
        .expect("parameters")
        .into();
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/vnd.amazon.eventstream"),
    ];
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.into_iter(),
        SignableBody::Bytes(&request.raw),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
    instructions
        .headers()
        .find(|(name, _)| *name == "authorization")
        .map(|(_, v)| v.to_owned())
        .expect("an authorization")
}

#[tokio::test]
async fn bedrock_calls_are_signed_and_their_event_stream_read() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYTESTKEY";
    admin
        .post(
            "/workspaces/current/secrets",
            json!([{"key": "AWS_SECRET_ACCESS_KEY", "value": secret}]),
        )
        .await?
        .expect(200)?;
    let provider = StandIn::start().await?;
    let bedrock = json!({"name": "b", "provider": "bedrock", "model": "anthropic.claude-3-5-haiku-20241022-v1:0", "base_url": provider.url,
        "options": {"region": "eu-west-1", "access_key_id": "AKIATESTKEY0001"}, "parameters": {"max_tokens": 100, "temperature": 0.2}});
    provider.script([Scripted::bytes("application/vnd.amazon.eventstream", aws_event_stream(&[
        ("messageStart", json!({"role": "assistant"})),
        ("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "Bonjour"}})),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        ("contentBlockStart", json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "translate"}}})),
        ("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"to\":\"fr\"}"}}})),
        ("messageStop", json!({"stopReason": "tool_use"})),
        ("metadata", json!({"usage": {"inputTokens": 25, "outputTokens": 6, "totalTokens": 31}, "metrics": {"latencyMs": 120}})),
    ]))]);
    let (status, events) = admin
        .post_events("/playground/invoke", json!({
            "messages": [{"role": "system", "content": "Translate."}, {"role": "user", "content": "Hello"}],
            "model_config": bedrock,
            "tools": [{"name": "translate", "parameters": {"type": "object"}}]
        }))
        .await?;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(
        kinds(&events),
        ["start", "delta", "tool_call", "tool_call", "end"],
        "{events:?}"
    );
    let end = events.last().expect("an end");
    assert_eq!(end["message"]["content"], "Bonjour");
    assert_eq!(
        end["message"]["tool_calls"][0]["function"],
        json!({"name": "translate", "arguments": "{\"to\":\"fr\"}"})
    );
    assert_eq!(
        end["usage"],
        json!({"input_tokens": 25, "output_tokens": 6, "total_tokens": 31})
    );
    let request = only(provider.take());
    assert_eq!(
        request.uri,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream"
    );
    assert_eq!(
        request.body,
        json!({
            "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
            "system": [{"text": "Translate."}],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.2},
            "toolConfig": {"tools": [{"toolSpec": {"name": "translate", "inputSchema": {"json": {"type": "object"}}}}]}
        })
    );
    // Signed with SigV4 for bedrock in the region, over exactly the bytes sent.
    let authorization = request.header("authorization").unwrap_or_default();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIATESTKEY0001/"),
        "{authorization}"
    );
    assert!(
        authorization.contains("/eu-west-1/bedrock/aws4_request"),
        "{authorization}"
    );
    let url = format!("{}{}", provider.url, request.uri);
    assert_eq!(authorization, expected_signature(&request, &url, secret));
    assert!(
        !request
            .headers
            .iter()
            .any(|(_, v)| v.to_str().unwrap_or_default().contains(secret))
    );

    // A throttling exception inside the stream is reported with its message.
    provider.script([Scripted::bytes(
        "application/vnd.amazon.eventstream",
        aws_event_stream(&[
            ("messageStart", json!({"role": "assistant"})),
            (
                "exception:throttlingException",
                json!({"message": "Too many requests, please wait before trying again."}),
            ),
        ]),
    )]);
    let throttled = admin.post("/playground/invoke", json!({"messages": [{"role": "user", "content": "hi"}], "model_config": bedrock, "stream": false})).await?;
    assert_eq!(throttled.status, 502, "{}", throttled.body);
    assert!(
        throttled.str("detail").contains("Too many requests"),
        "{}",
        throttled.body
    );
    // Bedrock needs its region and access key id.
    let incomplete = admin.post("/model-configs", json!({"name": "b", "provider": "bedrock", "model": "m", "options": {"region": "eu-west-1"}})).await?;
    assert_eq!(incomplete.status, 422, "{}", incomplete.body);
    stack.stop().await;
    Ok(())
}

fn anthropic_stream(text: &str) -> Scripted {
    let delta = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}).to_string();
    Scripted::sse(&[
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        ("content_block_delta", &delta),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ])
}

/// The official OpenAI and Anthropic Python clients are the reference: the playground sends
/// the same path, auth scheme and body as they do for the same call.
#[tokio::test]
async fn requests_match_what_the_providers_official_clients_send() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    set_secrets(&admin).await?;
    let provider = StandIn::start().await?;
    provider.script([openai_stream(&["Paris"], 5, 1), anthropic_stream("Sunny")]);
    let printed = ironsmith_e2e::run_client_within(
        &ironsmith_e2e::python(),
        "tests/python/provider_reference.py",
        &[
            ("OPENAI_BASE_URL", &format!("{}/v1", provider.url)),
            ("ANTHROPIC_BASE_URL", &provider.url),
        ],
        Duration::from_secs(120),
    )
    .await?;
    assert_eq!(printed, json!({"openai": "Paris", "anthropic": "Sunny"}));
    let reference = provider.take();
    assert_eq!(reference.len(), 2);

    let weather = json!({"name": "weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}});
    provider.script([openai_stream(&["Paris"], 5, 1), anthropic_stream("Sunny")]);
    admin
        .post("/playground/invoke", json!({
            "messages": [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Capital of France?"}],
            "model_config": {"name": "o", "provider": "openai", "model": "gpt-4o-mini", "base_url": format!("{}/v1", provider.url),
                "parameters": {"temperature": 0.5, "max_tokens": 256, "seed": 7, "stop": ["\n\n"]}},
            "tools": [weather], "tool_choice": "auto", "stream": false
        }))
        .await?
        .expect(200)?;
    admin
        .post("/playground/invoke", json!({
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Weather in Paris?"}],
            "model_config": {"name": "a", "provider": "anthropic", "model": "claude-sonnet-4-5", "base_url": provider.url,
                "parameters": {"max_tokens": 1024}},
            "tools": [weather], "tool_choice": "auto", "stream": false
        }))
        .await?
        .expect(200)?;
    let ours = provider.take();
    assert_eq!(ours.len(), 2);
    for (ours, reference) in ours.iter().zip(&reference) {
        assert_eq!(ours.uri, reference.uri);
        assert_eq!(
            ours.body, reference.body,
            "the body differs from the official client's"
        );
        assert_eq!(
            ours.header("content-type"),
            reference.header("content-type")
        );
        assert_eq!(
            ours.header("anthropic-version"),
            reference.header("anthropic-version")
        );
        // The same auth scheme, with the workspace's key.
        let scheme = |r: &Received| {
            r.header("authorization")
                .map(|a| a.split(' ').next().unwrap_or_default().to_owned())
                .or_else(|| r.header("x-api-key").map(|_| "x-api-key".to_owned()))
        };
        assert_eq!(scheme(ours), scheme(reference));
    }
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn azure_and_compatible_servers_stream_tool_calls_and_report_errors() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    admin
        .post(
            "/workspaces/current/secrets",
            json!([{"key": "AZURE_OPENAI_API_KEY", "value": "azure-key-12345678"}]),
        )
        .await?
        .expect(200)?;
    let provider = StandIn::start().await?;
    let azure = json!({"name": "az", "provider": "azure_openai", "model": "gpt-4o", "base_url": provider.url,
        "options": {"api_version": "2024-10-21"}});
    let local = json!({"name": "local", "provider": "openai_compatible", "model": "llama3.2", "base_url": format!("{}/v1", provider.url)});
    let call = |i: usize| {
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": format!("call_{i}"), "type": "function",
        "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}]}, "finish_reason": "tool_calls"}]}).to_string()
    };
    for (i, config) in [azure, local].into_iter().enumerate() {
        let (first, done) = (call(i), "[DONE]".to_owned());
        provider.script([
            Scripted::sse(&[("", first.as_str()), ("", done.as_str())]),
            Scripted::json(404, &json!({"error": {"message": "The API deployment for this resource does not exist.", "code": "DeploymentNotFound"}})),
        ]);
        let (status, events) = admin
            .post_events("/playground/invoke", json!({"messages": [{"role": "user", "content": "look x up"}], "model_config": config,
                "tools": [{"name": "lookup", "parameters": {"type": "object"}}]}))
            .await?;
        assert_eq!(status, 200, "{events:?}");
        assert_eq!(kinds(&events), ["start", "tool_call", "end"], "{events:?}");
        assert_eq!(
            events[2]["message"]["tool_calls"][0]["function"]["name"],
            "lookup"
        );
        let refused = admin
            .post("/playground/invoke", json!({"messages": [{"role": "user", "content": "hi"}], "model_config": config, "stream": false}))
            .await?;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(
            refused
                .str("detail")
                .contains("deployment for this resource does not exist"),
            "{}",
            refused.body
        );
        let received = provider.take();
        assert_eq!(received.len(), 2);
        assert_eq!(received[0].body["tools"][0]["function"]["name"], "lookup");
    }
    stack.stop().await;
    Ok(())
}
