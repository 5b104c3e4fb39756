//! Running a service: its router bound to its address, served until a signal and then drained,
//! the same way from `main` and from tests (which bind port 0 and stop it themselves).

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::sync::Semaphore;

use crate::limits::HttpLimits;
use tokio::net::TcpListener;
use tower::ServiceExt;

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

/// A service's router on its bound listener, and the limits it serves within.
pub struct Server {
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    readiness: Option<(&'static str, Router)>,
    /// `/metrics` on a listener of its own (`METRICS_ADDR`).
    metrics: Option<TcpListener>,
}

/// How often a server asks its own `/readyz`, for [`crate::metrics::READY`].
const READINESS_EVERY: Duration = Duration::from_secs(5);

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
        let listener = listen(addr).await?;
        Ok(Server {
            listener,
            router,
            limits: HttpLimits::default(),
            readiness: None,
            metrics: None,
        })
    }

    /// Also serves `/metrics` on `addr`, when there is one (the guard then hides it from the
    /// API's listener: see `WebConfig::metrics_addr`).
    pub async fn with_metrics_addr(mut self, addr: Option<&str>) -> Result<Server, ListenError> {
        if let Some(addr) = addr {
            self.metrics = Some(listen(addr).await?);
        }
        Ok(self)
    }

    /// Where `/metrics` is served apart, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves within `limits` rather than the defaults.
    pub fn with_limits(mut self, limits: &HttpLimits) -> Server {
        self.limits = limits.clone();
        self
    }

    /// While serving, asks `probe`'s `/readyz` every few seconds and keeps
    /// `stockflow_ready{service}` at 1 while it answers 2xx, 0 otherwise, so that an alert sees
    /// a service that is up but not ready. `probe` is the service's routes without the edge's
    /// layers (no token, no rate limit, no request metrics for these calls).
    pub fn report_readiness(mut self, service: &'static str, probe: Router) -> Server {
        self.readiness = Some((service, probe));
        self
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
        let watcher = self
            .readiness
            .map(|(service, probe)| tokio::spawn(watch_readiness(service, probe)));
        let metrics = self.metrics.map(|listener| {
            let limits = self.limits.clone();
            tokio::spawn(crate::connections::serve(
                listener,
                crate::metrics::router(),
                limits,
                std::future::pending(),
            ))
        });
        let in_flight = Arc::new(Semaphore::new(self.limits.max_in_flight.max(1)));
        let router = self.router.layer(middleware::from_fn(move |request, next| {
            shed(in_flight.clone(), request, next)
        }));
        let served = crate::connections::serve(self.listener, router, self.limits, signal).await;
        for task in [
            watcher.map(|t| t.abort_handle()),
            metrics.map(|t| t.abort_handle()),
        ]
        .into_iter()
        .flatten()
        {
            task.abort();
        }
        served
    }
}

async fn listen(addr: &str) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr).await.map_err(|source| ListenError {
        addr: addr.to_owned(),
        source,
    })
}

/// Answers 503 `overloaded` at once when as many requests as allowed are being answered.
async fn shed(in_flight: Arc<Semaphore>, request: axum::extract::Request, next: Next) -> Response {
    match in_flight.try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => {
            let mut response = crate::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "too many requests are being answered; retry shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

async fn watch_readiness(service: &'static str, probe: Router) {
    let gauge = metrics::gauge!(crate::metrics::READY, "service" => service);
    loop {
        let request = Request::get("/readyz").body(Body::empty());
        let ready = match request {
            Ok(request) => probe
                .clone()
                .oneshot(request)
                .await
                .is_ok_and(|response| response.status().is_success()),
            Err(_) => false,
        };
        gauge.set(if ready { 1.0 } else { 0.0 });
        tokio::time::sleep(READINESS_EVERY).await;
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
