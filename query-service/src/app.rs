//! Building and running the service, split so that tests start the real thing on port 0.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use stockflow_event_store::database as db;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::positions::Positions;
use crate::read_models::ReadModels;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] stockflow_edge::WebConfigError),
    #[error(transparent)]
    Database(#[from] db::DbError),
    /// Most likely the migrations have not run (MIGRATE=false before a migrate step).
    #[error("cannot read the read models' position: {0}")]
    ReadModels(#[source] sqlx::Error),
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
    background: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
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
        let read = ReadModels::new(pool);
        // Read once before serving, so the first answers already carry the true position.
        let initial = read.position().await.map_err(StartupError::ReadModels)?;
        let background = CancellationToken::new();
        let (positions, tasks) = Positions::start(
            read.clone(),
            initial,
            config.projection_poll_interval(),
            background.child_token(),
        );
        let listener = TcpListener::bind(&config.listen_addr)
            .await
            .map_err(|source| StartupError::Listen {
                addr: config.listen_addr.clone(),
                source,
            })?;
        let router = http::router(AppState {
            read,
            positions,
            min_position_timeout: config.min_position_timeout(),
        });
        let router = stockflow_edge::metrics::instrument(router, "query-service", &[]);
        let router =
            stockflow_edge::protect(router, &config.web, stockflow_edge::Scope::QueriesRead);
        Ok(App {
            listener,
            router,
            background,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `signal`, then drains: in-flight requests (waits included) finish before
    /// the position tracking stops.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            listener,
            router,
            background,
            tasks,
        } = self;
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await;
        background.cancel();
        for task in tasks {
            let _ = task.await;
        }
        served
    }
}
