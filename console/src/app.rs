//! Building and running the console, split so that tests start the real thing on port 0.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stockflow_edge::{ListenError, Server, Service};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::overview::{Board, HISTORY, sampler};
use crate::sessions::{CAPACITY, Sessions};
use crate::state::AppState;
use crate::upstream::{BadUrl, Upstream, Upstreams};

/// How often expired sessions are swept (each is also forgotten when it is next looked up).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Url(#[from] BadUrl),
    #[error(transparent)]
    Listen(#[from] ListenError),
}

pub struct App {
    server: Server,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartupError> {
        let upstreams = Upstreams::new(
            &config.commands_url,
            &config.queries_url,
            &config.projector_url,
        )?
        .with_metrics_url(
            Upstream::Commands,
            "CONSOLE_COMMANDS_METRICS_URL",
            config.commands_metrics_url.as_deref(),
        )?
        .with_metrics_url(
            Upstream::Queries,
            "CONSOLE_QUERIES_METRICS_URL",
            config.queries_metrics_url.as_deref(),
        )?
        .with_metrics_url(
            Upstream::Projector,
            "CONSOLE_PROJECTOR_METRICS_URL",
            config.projector_metrics_url.as_deref(),
        )?;
        let upstreams = Arc::new(upstreams);
        let sessions = Arc::new(Sessions::new(config.session_ttl(), CAPACITY));
        let board = Arc::new(Board::new(HISTORY));
        let router = crate::http::router(AppState {
            sessions: sessions.clone(),
            upstreams: upstreams.clone(),
            board: board.clone(),
            secure_cookie: config.secure_cookie,
        });
        let server = Server::bind(&config.listen_addr, router)
            .await?
            .with_limits(&config.http);
        let stop = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(sampler::run(
                upstreams,
                board,
                config.sample_interval(),
                stop.clone(),
            )),
            tokio::spawn(sweep(sessions, stop.clone())),
        ];
        Ok(App {
            server,
            stop,
            tasks,
        })
    }
}

impl Service for App {
    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `signal`; then the sampler and the sweeper stop too.
    async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let served = self.server.serve_until(signal).await;
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        served
    }
}

async fn sweep(sessions: Arc<Sessions>, stop: CancellationToken) {
    let mut beat = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = beat.tick() => {
                let swept = sessions.sweep(Instant::now());
                if swept > 0 {
                    tracing::debug!(swept, "expired sessions forgotten");
                }
            }
        }
    }
}
