//! A position as this process last saw it, kept fresh without polling per request: a
//! PostgreSQL notification wakes a refresher, which re-reads the position into a watch that
//! waiters await. A timer re-reads too, for notifications lost while the listener reconnects.
//! Two positions are followed so: the read models' (`read.projections`, notified by the
//! projector) for `min_position` waits, and the store's head (notified by every append) for
//! the event feed. A notification is only ever a reason to read again, never the value.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::read_models::ReadModels;

/// The channel the projector notifies on, in the transaction that advances its position.
pub const CHANNEL: &str = stockflow_event_store::channels::PROJECTIONS;

/// Reads the followed position from the database.
pub type Reader =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<i64, sqlx::Error>> + Send>> + Send + Sync>;

/// What a [`Positions`] follows: the position `read` reads, and the `channel` that is
/// notified when it moves, on the database of `pool`.
#[derive(Clone)]
pub struct Source {
    /// For the logs: `the projections' position`, `the store's head`.
    pub name: &'static str,
    pub pool: PgPool,
    pub channel: &'static str,
    pub read: Reader,
}

impl Source {
    pub fn new<F, R>(name: &'static str, pool: PgPool, channel: &'static str, read: F) -> Source
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: Future<Output = Result<i64, sqlx::Error>> + Send + 'static,
    {
        let read: Reader = Arc::new(
            move || -> Pin<Box<dyn Future<Output = Result<i64, sqlx::Error>> + Send>> {
                Box::pin(read())
            },
        );
        Source {
            name,
            pool,
            channel,
            read,
        }
    }
}

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

struct Shared {
    position: watch::Sender<i64>,
    listening: AtomicBool,
    refresh: Notify,
}

/// A handle on the position; cheap to clone.
#[derive(Clone)]
pub struct Positions {
    shared: Arc<Shared>,
}

impl Positions {
    /// Follows the read models' position from `initial` until `stop`.
    pub fn start(
        read: ReadModels,
        initial: i64,
        poll_interval: Duration,
        stop: CancellationToken,
    ) -> (Positions, Vec<JoinHandle<()>>) {
        let pool = read.pool().clone();
        let source = Source::new("the projections' position", pool, CHANNEL, move || {
            let read = read.clone();
            async move { read.position().await }
        });
        Positions::follow(source, initial, poll_interval, stop)
    }

    /// Follows `source` from `initial`, re-reading it when notified and every
    /// `poll_interval`, until `stop`.
    pub fn follow(
        source: Source,
        initial: i64,
        poll_interval: Duration,
        stop: CancellationToken,
    ) -> (Positions, Vec<JoinHandle<()>>) {
        let positions = Positions {
            shared: Arc::new(Shared {
                position: watch::Sender::new(initial),
                listening: AtomicBool::new(false),
                refresh: Notify::new(),
            }),
        };
        let tasks = vec![
            tokio::spawn(positions.clone().listen(source.clone(), stop.clone())),
            tokio::spawn(positions.clone().refresh_loop(source, poll_interval, stop)),
        ];
        (positions, tasks)
    }

    /// The latest position known. Read models only move forward, so an answer computed after
    /// this call reflects at least this position.
    pub fn current(&self) -> i64 {
        *self.shared.position.borrow()
    }

    /// A receiver of every change of the position, for waits of their own.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.shared.position.subscribe()
    }

    /// Whether notifications are arriving (false while the listener reconnects, when only the
    /// timer keeps the position fresh).
    pub fn is_listening(&self) -> bool {
        self.shared.listening.load(Ordering::Relaxed)
    }

    /// Waits until the read models reach `min`: `Ok` with the position then, or `Err` with the
    /// position still known when `timeout` passes.
    pub async fn wait_for(&self, min: i64, timeout: Duration) -> Result<i64, i64> {
        let mut receiver = self.shared.position.subscribe();
        let reached = tokio::time::timeout(timeout, async {
            receiver
                .wait_for(|position| *position >= min)
                .await
                .map(|p| *p)
        })
        .await;
        match reached {
            Ok(Ok(position)) => Ok(position),
            // Timed out, or the refresher is gone because the service is stopping.
            _ => Err(self.current()),
        }
    }

    /// Re-reads the position whenever the listener or the timer asks. One task does all the
    /// reads, one after another, so a later read never loses to an earlier one; a burst of
    /// notifications during a read costs one more read, not one each.
    async fn refresh_loop(self, source: Source, interval: Duration, stop: CancellationToken) {
        let mut timer = tokio::time::interval(interval);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.shared.refresh.notified() => {}
                _ = timer.tick() => {}
            }
            match (source.read)().await {
                Ok(position) => {
                    self.shared.position.send_if_modified(|known| {
                        let changed = *known != position;
                        *known = position;
                        changed
                    });
                }
                Err(error) => tracing::warn!(%error, "cannot read {}", source.name),
            }
        }
    }

    /// LISTENs for the source's notifications, reconnecting with backoff when the connection
    /// drops. It has a connection of its own, outside the query pool, opened anew for each
    /// session with the query pool's connect options as they are then: when the query pool
    /// moves to a new primary (a `DATABASE_URL` list), the next session follows it, and never
    /// reuses a connection to the server it left.
    async fn listen(self, source: Source, stop: CancellationToken) {
        let mut backoff = MIN_BACKOFF;
        loop {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
                .connect_lazy_with(source.pool.connect_options().as_ref().clone());
            let error = tokio::select! {
                () = stop.cancelled() => return,
                error = self.listen_once(&pool, source.channel) => error,
            };
            if self.shared.listening.swap(false, Ordering::Relaxed) {
                // It had been working: the next attempt is a fresh start, not a retry storm.
                backoff = MIN_BACKOFF;
            }
            tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64,
                "lost the notifications of {}; reconnecting", source.name);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One listening session; returns why it ended.
    async fn listen_once(&self, pool: &PgPool, channel: &str) -> sqlx::Error {
        let mut listener = match PgListener::connect_with(pool).await {
            Ok(listener) => listener,
            Err(error) => return error,
        };
        // A lost connection ends the session instead of being mended inside sqlx, so the
        // catch-up read below follows every new LISTEN.
        listener.eager_reconnect(false);
        if let Err(error) = listener.listen(channel).await {
            return error;
        }
        self.shared.listening.store(true, Ordering::Relaxed);
        // Whatever was notified while nobody listened is caught up by reading the table.
        self.shared.refresh.notify_one();
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => self.shared.refresh.notify_one(),
                // `try_recv` says a dropped connection with `Ok(None)`.
                Ok(None) => {
                    return sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the listening connection was closed",
                    ));
                }
                Err(error) => return error,
            }
        }
    }
}
