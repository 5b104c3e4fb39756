//! Building and running the service, split so that tests start the real thing on port 0.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use stockflow_edge::{ListenError, Server, Service};
use stockflow_event_store::EventStore;
use stockflow_event_store::database as db;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::feed::{Feed, FeedSettings};
use crate::http::{self, AppState};
use crate::metrics::CATALOG;
use crate::positions::Positions;
use crate::read_models::ReadModels;
use crate::replica;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] stockflow_edge::WebConfigError),
    #[error(transparent)]
    Database(#[from] db::DbError),
    /// Most likely the migrations have not run (MIGRATE=false before a migrate step).
    #[error("cannot read the read models' position: {0}")]
    ReadModels(#[source] sqlx::Error),
    /// The same, or the query service's role may not read the event store.
    #[error("cannot read the event store's head: {0}")]
    Head(#[source] sqlx::Error),
    #[error(transparent)]
    Listen(#[from] ListenError),
}

pub struct App {
    server: Server,
    feed: Feed,
    background: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartupError> {
        config.web.validate()?;
        // Reads only: a replica will do (`DATABASE_URL` may name replicas only).
        let pool = db::connect_for_reads(
            &config.database.url,
            config.database_max_connections,
            config.database.migrate,
        )
        .await?;
        let read = ReadModels::new(pool);
        // Read once before serving, so the first answers already carry the true position.
        let initial = read.position().await.map_err(StartupError::ReadModels)?;
        let head = EventStore::new(read.pool().clone())
            .head()
            .await
            .map_err(StartupError::Head)?;
        let background = CancellationToken::new();
        let (positions, mut tasks) = Positions::start(
            read.clone(),
            initial,
            config.projection_poll_interval(),
            background.child_token(),
        );
        let (feed, feed_tasks) = Feed::start(
            read.pool().clone(),
            head,
            FeedSettings {
                heartbeat: config.feed_heartbeat_interval(),
                poll_interval: config.feed_poll_interval(),
            },
            background.child_token(),
        );
        tasks.extend(feed_tasks);
        tasks.push(replica::start(
            read.pool().clone(),
            background.child_token(),
        ));
        let router = http::router(AppState {
            read,
            positions,
            min_position_timeout: config.min_position_timeout(),
            feed: feed.clone(),
        });
        // Its own readiness, asked every few seconds for the `stockflow_ready` gauge.
        let probe = router.clone();
        let router = stockflow_edge::metrics::instrument(router, "query-service", CATALOG);
        let router =
            stockflow_edge::protect_by_path(router, &config.web, http::events::required_scope);
        Ok(App {
            server: Server::bind(&config.listen_addr, router)
                .await?
                .with_limits(&config.http)
                .with_metrics_addr(config.web.metrics_addr.as_deref())
                .await?
                .report_readiness("query-service", probe),
            feed,
            background,
            tasks,
        })
    }

    /// The event feed, whose statistics tell what its streams hold.
    pub fn feed(&self) -> Feed {
        self.feed.clone()
    }
}

impl Service for App {
    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `signal`, then drains: in-flight requests (waits included) finish before
    /// the position tracking stops; event streams, which never finish, end at the signal.
    async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let feed = self.feed.clone();
        let signal = async move {
            signal.await;
            feed.close_streams();
        };
        let served = self.server.serve_until(signal).await;
        self.background.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        served
    }
}
