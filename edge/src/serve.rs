//! Running a service: its router bound to its address, served until a signal and then drained,
//! the same way from `main` and from tests (which bind port 0 and stop it themselves).

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use tokio::net::TcpListener;

use crate::shutdown_signal;

/// A service built and bound, ready to serve: what `main` and the tests start alike.
pub trait Service: Send + Sized + 'static {
    /// Where it listens (the port picked, when it was asked for port 0).
    fn local_addr(&self) -> SocketAddr;

    /// Serves until `signal`, then drains what the service has in hand.
    fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// A service's router on its bound listener.
pub struct Server {
    listener: TcpListener,
    router: Router,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    pub addr: String,
    #[source]
    pub source: std::io::Error,
}

impl Server {
    /// Binds `addr` for `router`.
    pub async fn bind(addr: &str, router: Router) -> Result<Server, ListenError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ListenError {
                addr: addr.to_owned(),
                source,
            })?;
        Ok(Server { listener, router })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `signal`; then in-flight requests finish before this returns.
    pub async fn serve_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(signal)
            .await
    }
}

/// A service's `main` once its configuration is read: builds it (`app`), serves until SIGTERM
/// or Ctrl-C and drains, logging each step under the service's `name`.
pub async fn run<S: Service, E: Display>(
    name: &str,
    app: impl Future<Output = Result<S, E>>,
) -> ExitCode {
    let app = match app.await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "{name} cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "{name} listening");
    match app.run_until(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("{name} stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "{name} failed");
            ExitCode::FAILURE
        }
    }
}
