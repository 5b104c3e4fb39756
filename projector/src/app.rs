//! Building and running the projector, split so that tests start the real thing on port 0.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use sqlx::PgPool;
use stockflow_edge::{ListenError, Server, Service};
use stockflow_event_store::database as db;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::consumer::{self, Topology};
use crate::control::{self, Control, Status};
use crate::health::Health;
use crate::http::{self, HttpState};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] stockflow_edge::WebConfigError),
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error(transparent)]
    Listen(#[from] ListenError),
}

pub struct App {
    server: Server,
    consumer: JoinHandle<()>,
    stop: CancellationToken,
    pool: PgPool,
    health: Arc<Health>,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartupError> {
        config.web.validate()?;
        let pool = db::connect(
            &config.database.url,
            config.database_max_connections,
            config.database.migrate,
        )
        .await?;
        let health = Arc::new(Health::default());
        let stop = CancellationToken::new();
        let topology = Topology {
            exchange: config.broker.events_exchange.clone(),
            queue: config.projector_queue.clone(),
        };
        // The operators' word on the projection, read before the consumer starts: a
        // projector started while it is paused or stopped waits.
        let control = Control::default();
        if let Ok(state) = control::read(&pool).await {
            control.set(state.status);
            if state.status == Status::Stopped {
                health.stop(state.error.unwrap_or_default());
            }
        }
        tokio::spawn(control.clone().follow(pool.clone(), stop.clone()));
        let consumer = tokio::spawn(consumer::run(
            pool.clone(),
            config.broker.url.clone(),
            topology,
            health.clone(),
            control.clone(),
            stop.clone(),
        ));
        let router = http::router(HttpState {
            pool: pool.clone(),
            health: health.clone(),
            control,
        });
        // Its own readiness, asked every few seconds for the `stockflow_ready` gauge.
        let probe = router.clone();
        let router =
            stockflow_edge::metrics::instrument(router, "projector", crate::metrics::CATALOG);
        // Set once the recorder is installed (by `instrument`), rather than left at the
        // catalog's 0: a projector that has just started has not stopped, unless the
        // projection waits for an operator's retry. The consumer sets it to 0 if it stops,
        // which takes seconds of retries.
        let stopped = health.stopped();
        metrics::gauge!(crate::metrics::RUNNING).set(if stopped { 0.0 } else { 1.0 });
        // The dead letters waiting from before, from start-up: an alert must not wait for the
        // next one to see them.
        crate::dead_letters::store::refresh_gauge(&pool).await;
        // The only API (`/v1/admin/…`) is the operators'.
        let router = stockflow_edge::protect(router, &config.web, stockflow_edge::Scope::Admin);
        Ok(App {
            server: Server::bind(&config.listen_addr, router)
                .await?
                .with_limits(&config.http)
                .with_metrics_addr(config.web.metrics_addr.as_deref())
                .await?
                .report_readiness("projector", probe),
            consumer,
            stop,
            pool,
            health,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }
}

impl Service for App {
    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Runs until `signal`; then the batch in hand commits and is acked, and the projector
    /// stops taking messages.
    async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let stop_on_signal = self.stop.clone();
        let served = self
            .server
            .serve_until(async move {
                signal.await;
                stop_on_signal.cancel();
            })
            .await;
        self.stop.cancel();
        let _ = self.consumer.await;
        served
    }
}
