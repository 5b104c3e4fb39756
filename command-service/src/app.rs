//! Building and running the service, split so that tests start the real thing on port 0.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use stockflow_edge::{ListenError, Server, Service};
use stockflow_event_store::EventStore;
use stockflow_event_store::database as db;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::relay::{self, RelayConfig, RelayStatus};
use crate::replay::Replays;
use crate::writer;

/// How long idempotency outcomes are kept (docs/api.md: at least 24 h).
const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(48 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] stockflow_edge::WebConfigError),
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot look for replays cut short: {0}")]
    Replays(#[source] sqlx::Error),
}

pub struct App {
    server: Server,
    writer: JoinHandle<()>,
    relay: Option<JoinHandle<()>>,
    replays: Arc<Replays>,
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
                database: pool.clone(),
            };
            tokio::spawn(relay::run(
                relay_config,
                relay_status.clone(),
                background.child_token(),
            ))
        });
        tokio::spawn(purge_idempotency(store, background.child_token()));
        let replays = Arc::new(Replays::new(
            pool.clone(),
            config.broker.url.clone(),
            config.replay_rate,
            writer_handle.times(),
            background.child_token(),
        ));
        replays.recover().await.map_err(StartupError::Replays)?;
        tokio::spawn(replays.clone().keep_recovering());

        let router = http::router(AppState {
            writer: writer_handle,
            pool,
            relay: relay_status,
            replays: replays.clone(),
        });
        // Its own readiness, asked every few seconds for the `stockflow_ready` gauge.
        let probe = router.clone();
        let router =
            stockflow_edge::metrics::instrument(router, "command-service", crate::metrics::CATALOG);
        let router = stockflow_edge::protect_by_path(router, &config.web, crate::scopes::required);
        Ok(App {
            server: Server::bind(&config.listen_addr, router)
                .await?
                .with_limits(&config.http)
                .with_metrics_addr(config.web.metrics_addr.as_deref())
                .await?
                .report_readiness("command-service", probe),
            writer,
            relay,
            replays,
            background,
        })
    }
}

impl Service for App {
    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `signal`, then drains: in-flight requests finish, the writer commits
    /// what it was given, and the relay publishes what was committed. Replays stop where
    /// they are (the next start marks them failed, to be resumed).
    async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let served = self.server.serve_until(signal).await;
        // The router held the last writer handles: the writer now drains its queue and stops.
        let _ = self.writer.await;
        self.background.cancel();
        self.replays.drain().await;
        if let Some(relay) = self.relay {
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
