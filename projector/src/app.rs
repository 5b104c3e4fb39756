//! Building and running the projector, split so that tests start the real thing on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use sqlx::PgPool;
use stockflow_event_store::database as db;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::consumer::{self, Topology};
use crate::health::Health;
use crate::http::{self, HttpState};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct App {
    listener: TcpListener,
    router: Router,
    consumer: JoinHandle<()>,
    stop: CancellationToken,
    pool: PgPool,
    health: Arc<Health>,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartupError> {
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
        let consumer = tokio::spawn(consumer::run(
            pool.clone(),
            config.broker.url.clone(),
            topology,
            health.clone(),
            stop.clone(),
        ));
        let listener = TcpListener::bind(&config.listen_addr)
            .await
            .map_err(|source| StartupError::Listen {
                addr: config.listen_addr.clone(),
                source,
            })?;
        let router = http::router(HttpState {
            pool: pool.clone(),
            health: health.clone(),
        });
        // No `/v1` API here: the security headers and time limit apply, authentication has
        // nothing to guard.
        let router =
            stockflow_edge::metrics::instrument(router, "projector", crate::metrics::CATALOG);
        let open = stockflow_edge::WebConfig {
            auth_jwt_secret: None,
            auth_dev_mode: true,
            rate_limit_per_second: 0,
            request_timeout_ms: 10_000,
        };
        let router = stockflow_edge::protect(router, &open, stockflow_edge::Scope::Admin);
        Ok(App {
            listener,
            router,
            consumer,
            stop,
            pool,
            health,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// Runs until `signal`; then the batch in hand commits and is acked, and the projector
    /// stops taking messages.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            listener,
            router,
            consumer,
            stop,
            ..
        } = self;
        let stop_on_signal = stop.clone();
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                signal.await;
                stop_on_signal.cancel();
            })
            .await;
        stop.cancel();
        let _ = consumer.await;
        served
    }
}
