//! Answers that reach a client whose request body was not read.
//!
//! A handler may answer before reading the body (a bad credential, an id that does not parse, a
//! refused size). hyper cannot reuse such a connection (the rest of the body would be read as
//! the next request), and closing a socket with unread data makes the kernel reset it: the
//! client, still writing its body, may then lose the answer and see a connection error instead
//! (the edge would turn a 422 into a 502). So the rest of an unread body is read and dropped,
//! up to a cap and a time budget, before the answer goes out; the connection then stays usable.
//! A body too large or too slow to drain gets `Connection: close` (RFC 9112 §9.6) instead.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

/// How long an unread body may take to drain.
const DRAIN_BUDGET: Duration = Duration::from_secs(5);

/// What became of a request body.
#[derive(Default)]
struct Fate {
    /// Read to its end.
    finished: bool,
    /// Dropped before its end: the rest, to drain.
    unread: Option<Body>,
}

/// A request body that reports whether it was read to its end, and hands back its rest when it
/// is dropped before.
struct Tracked {
    inner: Option<Body>,
    fate: Arc<Mutex<Fate>>,
}

impl Tracked {
    fn finish(&self) {
        if let Ok(mut fate) = self.fate.lock() {
            fate.finished = true;
        }
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(&mut *inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || inner.is_end_stream() {
            self.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let (Some(inner), Ok(mut fate)) = (self.inner.take(), self.fate.lock())
            && !fate.finished
            && !inner.is_end_stream()
        {
            fate.unread = Some(inner);
        }
    }
}

/// Reads and drops `body`, up to `cap` bytes within [`DRAIN_BUDGET`]; whether it ended.
async fn drain(body: Body, cap: usize) -> bool {
    let mut stream = body.into_data_stream();
    let mut read = 0usize;
    let drained = async {
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    read = read.saturating_add(chunk.len());
                    if read > cap {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_BUDGET, drained)
        .await
        .unwrap_or(false)
}

/// Middleware: drains what the handler left of the request body (at most `cap` bytes), or
/// marks the answer `Connection: close` when it cannot.
pub async fn drain_unread_body(cap: usize, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let fate = Arc::new(Mutex::new(Fate::default()));
    let body = Body::new(Tracked {
        inner: Some(body),
        fate: Arc::clone(&fate),
    });
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let (finished, unread) = match fate.lock() {
        Ok(mut fate) => (fate.finished, fate.unread.take()),
        Err(_) => (false, None),
    };
    let reusable = match (finished, unread) {
        (true, _) => true,
        (false, Some(rest)) => drain(rest, cap).await,
        // Still held by something else (a task the handler started): do not reuse.
        (false, None) => false,
    };
    if !reusable {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    fn app() -> Router {
        Router::new()
            .route("/ignore", post(|| async { "ignored" }))
            .route("/read", post(|body: String| async move { body }))
            .layer(axum::middleware::from_fn(|request, next| {
                drain_unread_body(16, request, next)
            }))
    }

    async fn connection_header(path: &str, body: &'static str) -> Option<String> {
        let request = Request::post(path).body(Body::from(body)).expect("request");
        let response = app().oneshot(request).await.expect("response");
        response
            .headers()
            .get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[tokio::test]
    async fn an_unread_body_is_drained_up_to_the_cap_or_closes_the_connection() {
        // Read by the handler, drained after it, or empty: the connection stays usable.
        assert_eq!(
            connection_header("/read", "a body that is read").await,
            None
        );
        assert_eq!(connection_header("/ignore", "0123456789").await, None);
        assert_eq!(connection_header("/ignore", "").await, None);
        // More than the cap (16 bytes here) left unread: the connection closes.
        assert_eq!(
            connection_header("/ignore", "a body nobody reads, over the cap").await,
            Some("close".to_owned())
        );
    }
}
