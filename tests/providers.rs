//! Stand-ins for LLM providers: a local HTTP server that answers scripted responses in the
//! provider's wire format (streamed server-sent events, errors, rate limits) and records every
//! request it receives, so tests can check the method, path, headers and body a provider
//! would have seen.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Value,
    /// The body as sent.
    pub raw: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Scripted {
    /// A streamed answer: `events` as `(event name or "", data)` pairs.
    pub fn sse(events: &[(&str, &str)]) -> Scripted {
        let mut body = String::new();
        for (event, data) in events {
            if !event.is_empty() {
                body.push_str(&format!("event: {event}\n"));
            }
            body.push_str(&format!("data: {data}\n\n"));
        }
        Scripted {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: body.into_bytes(),
        }
    }

    pub fn json(status: u16, body: &Value) -> Scripted {
        Scripted {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// Any bytes, of `content_type`.
    pub fn bytes(content_type: &str, body: Vec<u8>) -> Scripted {
        Scripted {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Scripted {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Scripted>>,
    received: Mutex<Vec<Received>>,
}

/// A running stand-in on 127.0.0.1.
pub struct StandIn {
    pub url: String,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl StandIn {
    pub async fn start() -> anyhow::Result<StandIn> {
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { answer(&state, method, uri, headers, body) }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            drop(
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await,
            );
        });
        Ok(StandIn {
            url,
            shared,
            shutdown,
        })
    }

    /// Queues answers, given in order to the next requests.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.shared
            .script
            .lock()
            .expect("the script")
            .extend(answers);
    }

    /// Every request so far, and forgets them.
    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.shared.received.lock().expect("the record"))
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn answer(shared: &Shared, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    shared.received.lock().expect("the record").push(Received {
        method: method.to_string(),
        uri: uri.to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
    });
    let Some(next) = shared.script.lock().expect("the script").pop_front() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the stand-in has no scripted answer left",
        )
            .into_response();
    };
    let mut response = Response::new(axum::body::Body::from(next.body));
    *response.status_mut() = StatusCode::from_u16(next.status).unwrap_or(StatusCode::OK);
    for (name, value) in next.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
