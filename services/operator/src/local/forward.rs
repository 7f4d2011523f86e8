//! A deployment's stable address in the local runtime: a TCP forwarder on a port that stays
//! the same across rollouts, pointed at whichever Agent Server process currently serves. A
//! rollout starts the new process beside the old one and switches the forwarder only once the
//! new one answers, as a rolling update keeps the old pods until the new ones are ready.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct Forwarder {
    pub port: u16,
    target: Arc<AtomicU16>,
    stop: CancellationToken,
}

impl Forwarder {
    /// Listens on `127.0.0.1:port` (`0` picks a free one). Nothing is served until a target
    /// is set.
    pub async fn start(port: u16) -> std::io::Result<Forwarder> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let target = Arc::new(AtomicU16::new(0));
        let stop = CancellationToken::new();
        let (t, s) = (target.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = s.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                let to = t.load(Ordering::Acquire);
                tokio::spawn(async move {
                    if to == 0 {
                        return;
                    }
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", to)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(Forwarder { port, target, stop })
    }

    /// New connections go to `port` from now on.
    pub fn point_at(&self, port: u16) {
        self.target.store(port, Ordering::Release);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connections_reach_the_current_target() -> std::io::Result<()> {
        let backend = TcpListener::bind("127.0.0.1:0").await?;
        let backend_port = backend.local_addr()?.port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = backend.accept().await {
                let _ = s.write_all(b"hello").await;
            }
        });
        let forwarder = Forwarder::start(0).await?;
        forwarder.point_at(backend_port);
        let mut client = TcpStream::connect(("127.0.0.1", forwarder.port)).await?;
        let mut got = [0u8; 5];
        client.read_exact(&mut got).await?;
        assert_eq!(&got, b"hello");
        Ok(())
    }
}
