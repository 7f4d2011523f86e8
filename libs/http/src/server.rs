//! Serving with graceful shutdown: on SIGTERM the listener closes, in-flight requests finish
//! (up to the configured grace period), then the process exits.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tower::util::MapRequestLayer;

use crate::normalize::normalize_request;

/// Whether request paths are normalised (API.md §1) before routing.
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
/// in-flight requests then get `grace` to finish.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    style: PathStyle,
    shutdown: CancellationToken,
    grace: Duration,
) -> io::Result<Served> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let stopping = shutdown.clone();
    let server = async move {
        match style {
            PathStyle::Canonical => {
                let app = MapRequestLayer::new(normalize_request).layer(router);
                axum::serve(
                    listener,
                    axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(
                        app,
                    ),
                )
                .with_graceful_shutdown(stopping.cancelled_owned())
                .await
            }
            PathStyle::AsIs => {
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(stopping.cancelled_owned())
                .await
            }
        }
    };
    let task = tokio::spawn(async move {
        tokio::select! {
            result = server => result,
            () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_secs = grace.as_secs(), "requests still in flight after the grace period; stopping");
                Ok(())
            }
        }
    });
    tracing::info!(%local_addr, "listening");
    Ok(Served { local_addr, task })
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
