//! Serving with graceful shutdown: on SIGTERM the listener closes, in-flight requests finish
//! (up to the configured grace period), then the process exits.
//!
//! Every listener is bounded the same way, because one client must not be able to hold the
//! service for everyone else: at most `http.max_connections` connections are open at once (the
//! next client waits in the kernel's accept backlog), and a client that does not send a request's
//! headers within `http.header_read_timeout_secs` (a slow-header attack, or a keep-alive
//! connection left idle) is disconnected.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ironsmith_config::HttpConfig;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::util::MapRequestLayer;
use tower::{Layer, Service, ServiceExt};

use crate::normalize::normalize_request;

/// Whether request paths are normalised before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStyle {
    /// API services: `/api/v1/x`, `/api/x`, `/v1/x` and `/x/` all route as `/x`.
    Canonical,
    /// The frontend routes public paths exactly as they arrive.
    AsIs,
}

/// A server that is accepting connections.
pub struct Served {
    pub local_addr: SocketAddr,
    task: JoinHandle<io::Result<()>>,
}

impl Served {
    /// Waits until the server has shut down.
    pub async fn wait(self) -> io::Result<()> {
        self.task.await.map_err(io::Error::other)?
    }
}

/// Binds `addr` (port 0 picks a free one) and serves `router` until `shutdown` is cancelled;
/// in-flight requests then get `http.shutdown_grace_secs` to finish.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    style: PathStyle,
    shutdown: CancellationToken,
    http: &HttpConfig,
) -> io::Result<Served> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let limits = ConnectionLimits {
        slots: Arc::new(Semaphore::new(http.max_connections.max(1))),
        header_read_timeout: Duration::from_secs(http.header_read_timeout_secs.max(1)),
    };
    let grace = Duration::from_secs(http.shutdown_grace_secs);
    let task = match style {
        PathStyle::Canonical => {
            let app = MapRequestLayer::new(normalize_request).layer(router);
            tokio::spawn(accept_loop(listener, app, limits, shutdown, grace))
        }
        PathStyle::AsIs => tokio::spawn(accept_loop(listener, router, limits, shutdown, grace)),
    };
    tracing::info!(%local_addr, "listening");
    Ok(Served { local_addr, task })
}

#[derive(Clone)]
struct ConnectionLimits {
    slots: Arc<Semaphore>,
    header_read_timeout: Duration,
}

async fn accept_loop<A>(
    listener: TcpListener,
    app: A,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    grace: Duration,
) -> io::Result<()>
where
    A: Service<Request, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    A::Future: Send + 'static,
{
    let connections = TaskTracker::new();
    // Cancelled when shutdown starts: every connection then finishes its current request and
    // closes.
    let draining = shutdown.child_token();
    loop {
        let slot = tokio::select! {
            slot = limits.slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(Body::new)
            });
        let limits = limits.clone();
        let draining = draining.clone();
        connections.spawn(async move {
            serve_connection(stream, service, &limits, draining).await;
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still in flight after the grace period; stopping"
        );
    }
    Ok(())
}

async fn serve_connection<S>(
    stream: tokio::net::TcpStream,
    service: S,
    limits: &ConnectionLimits,
    draining: CancellationToken,
) where
    S: Service<Request<Incoming>, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_connection_end(result),
        () = draining.cancelled() => {
            connection.as_mut().graceful_shutdown();
            log_connection_end(connection.await);
        }
    }
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Cancels `token` on SIGTERM or Ctrl-C.
pub fn shutdown_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("Ctrl-C received; shutting down"),
            () = terminate => tracing::info!("SIGTERM received; shutting down"),
        }
        token.cancel();
    });
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use axum::routing::get;

    use super::*;

    fn http(max_connections: usize) -> HttpConfig {
        HttpConfig {
            request_timeout_secs: 10,
            shutdown_grace_secs: 1,
            readiness_timeout_ms: 100,
            max_body_bytes: 1024,
            cors_allowed_origins: Vec::new(),
            max_connections,
            header_read_timeout_secs: 1,
            trusted_proxies: Vec::new(),
            metrics_networks: Vec::new(),
            readiness_cache_ms: 0,
        }
    }

    /// Whether the server closed `stream` (end of stream or reset) rather than leaving the read
    /// to time out.
    fn closed_by_server(stream: &mut std::net::TcpStream) -> bool {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(error) => error.kind() == io::ErrorKind::ConnectionReset,
        }
    }

    async fn start(max_connections: usize) -> (Served, CancellationToken) {
        let shutdown = CancellationToken::new();
        let router = Router::new().route("/x", get(|| async { "x" }));
        let served = serve(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            router,
            PathStyle::AsIs,
            shutdown.clone(),
            &http(max_connections),
        )
        .await
        .expect("serves");
        (served, shutdown)
    }

    #[tokio::test]
    async fn slow_headers_and_idle_connections_are_closed() {
        let (served, shutdown) = start(8).await;
        let addr = served.local_addr;
        let outcome = tokio::task::spawn_blocking(move || {
            let mut slow = std::net::TcpStream::connect(addr).expect("connect");
            slow.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n")
                .expect("write");
            let mut idle = std::net::TcpStream::connect(addr).expect("connect");
            (closed_by_server(&mut slow), closed_by_server(&mut idle))
        })
        .await
        .expect("joins");
        assert_eq!(outcome, (true, true));
        shutdown.cancel();
        served.wait().await.expect("stops");
    }

    #[tokio::test]
    async fn connections_past_the_cap_wait_for_a_free_slot() {
        let (served, shutdown) = start(1).await;
        let addr = served.local_addr;
        let answered = tokio::task::spawn_blocking(move || {
            // The only slot is taken by a client that sends nothing; the next client is served
            // once the header timeout has closed it.
            let _holder = std::net::TcpStream::connect(addr).expect("connect");
            let mut client = std::net::TcpStream::connect(addr).expect("connect");
            client
                .write_all(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("write");
            client
                .set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            let mut answer = String::new();
            client.read_to_string(&mut answer).map(|_| answer)
        })
        .await
        .expect("joins")
        .expect("answered");
        assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
        shutdown.cancel();
        served.wait().await.expect("stops");
    }
}
