//! Building and running the service, split so that tests start the real thing on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use stockflow_edge::Scope;
use stockflow_event_store::EventStore;
use stockflow_event_store::database as db;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::relay::{self, RelayConfig, RelayStatus};
use crate::writer;

/// How long idempotency outcomes are kept (docs/api.md: at least 24 h).
const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(48 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] stockflow_edge::WebConfigError),
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
    writer: JoinHandle<()>,
    relay: Option<JoinHandle<()>>,
    background: CancellationToken,
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
        let store = EventStore::new(pool.clone());
        let (writer_handle, writer) = writer::spawn(store.clone());
        let background = CancellationToken::new();

        let relay_status = Arc::new(RelayStatus::new(config.relay));
        let relay = config.relay.then(|| {
            let relay_config = RelayConfig {
                amqp_url: config.broker.url.clone(),
                exchange: config.broker.events_exchange.clone(),
                database: pool.connect_options().as_ref().clone(),
            };
            tokio::spawn(relay::run(
                relay_config,
                relay_status.clone(),
                background.child_token(),
            ))
        });
        tokio::spawn(purge_idempotency(store, background.child_token()));

        let listener = TcpListener::bind(&config.listen_addr)
            .await
            .map_err(|source| StartupError::Listen {
                addr: config.listen_addr.clone(),
                source,
            })?;
        let router = http::router(AppState {
            writer: writer_handle,
            pool,
            relay: relay_status,
        });
        let router =
            stockflow_edge::metrics::instrument(router, "command-service", crate::metrics::CATALOG);
        let router = stockflow_edge::protect(router, &config.web, Scope::CommandsWrite);
        Ok(App {
            listener,
            router,
            writer,
            relay,
            background,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `signal`, then drains: in-flight requests finish, the writer commits
    /// what it was given, and the relay publishes what was committed.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            listener,
            router,
            writer,
            relay,
            background,
        } = self;
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await;
        // The router held the last writer handles: the writer now drains its queue and stops.
        let _ = writer.await;
        background.cancel();
        if let Some(relay) = relay {
            let _ = relay.await;
        }
        served
    }
}

async fn purge_idempotency(store: EventStore, stop: CancellationToken) {
    loop {
        match store.purge_idempotency(IDEMPOTENCY_RETENTION).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "forgot expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "cannot purge idempotency keys"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            () = stop.cancelled() => return,
        }
    }
}
