//! Startup split from serving: `build` connects, creates what is missing and binds;
//! `run` serves. Tests and the benchmark start it in-process on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::service::Peer;
use crate::{db, http};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare the database: {0}")]
    Database(#[from] sqlx_peer::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// A peer ready to serve: connected, tables in place, listening.
pub struct App {
    listener: TcpListener,
    router: Router,
    local_addr: SocketAddr,
}

pub async fn build(config: &Config) -> Result<App, StartError> {
    let pool = db::connect(&config.database_url, config.database_max_connections).await?;
    let peer = Peer::new(pool, config.conflict_attempts);
    let listen_error = |source| StartError::Listen {
        addr: config.listen_addr.clone(),
        source,
    };
    let listener = TcpListener::bind(&config.listen_addr)
        .await
        .map_err(listen_error)?;
    let local_addr = listener.local_addr().map_err(listen_error)?;
    Ok(App {
        listener,
        router: http::router(Arc::new(peer)),
        local_addr,
    })
}

impl App {
    /// Where it listens: the port chosen when the configuration said 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
