//! The accept loop of every stockflow HTTP listener, in place of `axum::serve`, which has no
//! limits: each connection is HTTP/1.1 with a time limit on its request headers (which is
//! also its idle keep-alive limit) and a bound on their size, the number of connections is capped (one more is told 503
//! `overloaded` and closed, without reading it), every request carries the client's address
//! (`ConnectInfo`), and a shutdown stops accepting, lets each connection finish the request
//! in hand, then returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::limits::HttpLimits;

/// What a connection over the cap is told before it is closed.
const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 162\r\n\r\n\
{\"type\":\"urn:stockflow:problem:overloaded\",\"title\":\"Service Unavailable\",\"status\":503,\
\"detail\":\"too many connections are open; retry shortly\",\"code\":\"overloaded\"}";

/// Serves `router` on `listener` within `limits` until `signal`; then stops accepting and
/// returns once every connection has finished its request in hand.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let capacity = limits.max_connections.max(1);
    let open = Arc::new(Semaphore::new(capacity));
    let (closing, closed) = watch::channel(false);
    let mut signal = std::pin::pin!(signal);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, a connection reset before it was accepted: the
                // listener itself is fine; give the system a moment.
                Err(error) => {
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let router = router.clone();
        let closed = closed.clone();
        let (header_timeout, header_buffer) = (limits.header_timeout(), limits.header_buffer());
        tokio::spawn(async move {
            connection(
                stream,
                remote,
                router,
                header_timeout,
                header_buffer,
                closed,
            )
            .await;
            drop(permit);
        });
    }
    let _ = closing.send(true);
    // Every connection holds a permit until it ends.
    let _ = open.acquire_many(capacity as u32).await;
    Ok(())
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    header_timeout: Duration,
    header_buffer: usize,
    mut closed: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = tower::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        let router = router.clone();
        async move { router.oneshot(request).await }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        // A connection's read buffer grows to hold a request's headers: bounded, so that
        // many connections stuffing huge headers cannot make the service hold much.
        .max_buf_size(header_buffer)
        .keep_alive(true);
    let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = closed.wait_for(|closed| *closed) => {}
    }
    // Shutting down: the request in hand is answered, then the connection closes.
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(OVERLOADED).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
