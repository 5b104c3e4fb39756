//! A TCP proxy that can hurt the link it carries: put between a service and PostgreSQL or
//! RabbitMQ, it forwards bytes both ways until told to slow every chunk down or to reset
//! every connection it holds (and refuse new ones for a while).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Default)]
struct Faults {
    /// Milliseconds each chunk waits before it is forwarded.
    delay_ms: AtomicU64,
    /// Until when (milliseconds since `epoch`) new connections are refused.
    refuse_until_ms: AtomicU64,
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
    epoch: Instant,
    /// Bumped to cut every open connection.
    resets: watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards each connection to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(Faults::default());
        let epoch = Instant::now();
        let (resets, _) = watch::channel(0);
        let accept = tokio::spawn(accept_loop(
            listener,
            target,
            faults.clone(),
            epoch,
            resets.clone(),
        ));
        Ok(FaultProxy {
            addr,
            faults,
            epoch,
            resets,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every chunk in either direction waits `delay` from now on (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        self.faults
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// Resets every open connection, and refuses new ones for `refuse_for`.
    pub fn reset(&self, refuse_for: Duration) {
        let until = self.epoch.elapsed() + refuse_for;
        self.faults
            .refuse_until_ms
            .store(until.as_millis() as u64, Ordering::Relaxed);
        self.resets.send_modify(|n| *n += 1);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.resets.send_modify(|n| *n += 1);
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    faults: Arc<Faults>,
    epoch: Instant,
    resets: watch::Sender<u64>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let refusing =
            (epoch.elapsed().as_millis() as u64) < faults.refuse_until_ms.load(Ordering::Relaxed);
        if refusing {
            abort(client);
            continue;
        }
        let faults = faults.clone();
        let mut reset = resets.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(target).await else {
                abort(client);
                return;
            };
            let mut client = client;
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let cut = {
                let (client_read, client_write) = client.split();
                let (server_read, server_write) = server.split();
                tokio::select! {
                    _ = async {
                        tokio::join!(
                            pipe(client_read, server_write, &faults),
                            pipe(server_read, client_write, &faults),
                        )
                    } => false,
                    _ = reset.changed() => true,
                }
            };
            if cut {
                abort(client);
                abort(server);
            }
        });
    }
}

/// Closes a connection with a reset rather than an orderly goodbye.
fn abort(stream: TcpStream) {
    let socket = socket2::SockRef::from(&stream);
    let _ = socket.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Copies until either side closes, then passes the close on.
async fn pipe(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, faults: &Faults) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let delay = faults.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while let Ok(n) = socket.read(&mut buffer).await {
                        if n == 0 || socket.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(text).await?;
        let mut answer = vec![0u8; text.len()];
        stream.read_exact(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn forwards_both_ways_and_slows_down_when_told() {
        let proxy = FaultProxy::start(echo_server().await)
            .await
            .expect("a proxy");
        let mut stream = TcpStream::connect(proxy.addr()).await.expect("connects");
        let fast_start = Instant::now();
        assert_eq!(
            round_trip(&mut stream, b"hello").await.expect("echo"),
            b"hello"
        );
        let fast = fast_start.elapsed();

        proxy.set_delay(Duration::from_millis(150));
        let slow_start = Instant::now();
        assert_eq!(
            round_trip(&mut stream, b"again").await.expect("echo"),
            b"again"
        );
        // Two chunks (there and back) each waited.
        assert!(
            slow_start.elapsed() >= Duration::from_millis(300),
            "a delayed round trip took {:?} (undelayed: {fast:?})",
            slow_start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_reset_cuts_open_connections_and_refuses_new_ones_for_a_while() {
        let proxy = FaultProxy::start(echo_server().await)
            .await
            .expect("a proxy");
        let mut stream = TcpStream::connect(proxy.addr()).await.expect("connects");
        round_trip(&mut stream, b"before").await.expect("echo");

        proxy.reset(Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            round_trip(&mut stream, b"after").await.is_err(),
            "the connection outlived the reset"
        );
        let mut refused = TcpStream::connect(proxy.addr()).await.expect("accepted");
        assert!(
            round_trip(&mut refused, b"refused").await.is_err(),
            "a connection made while refusing carried data"
        );

        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut later = TcpStream::connect(proxy.addr()).await.expect("connects");
        assert_eq!(
            round_trip(&mut later, b"later").await.expect("echo"),
            b"later"
        );
    }
}
