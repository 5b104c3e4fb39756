//! A position as this process last saw it, kept fresh without polling per request: a
//! PostgreSQL notification wakes a refresher, which re-reads the position into a watch that
//! waiters await. A timer re-reads too, for notifications lost while the listener reconnects.
//! Two positions are followed so: the read models' (`read.projections`, notified by the
//! projector) for `min_position` waits, and the store's head (notified by every append) for
//! the event feed. A notification is only ever a reason to read again, never the value.
//!
//! A standby (a streaming replica, in recovery) takes no LISTEN and is never notified: there
//! the position is polled, every few milliseconds while someone waits for it and at the usual
//! interval otherwise, and the listener only tries again now and then, in case the server has
//! been promoted since.

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
/// How often the position is re-read on a standby while someone waits for it: a wait for the
/// replica to replay a commit ends at most this long after it did.
const STANDBY_POLL: Duration = Duration::from_millis(5);
/// How often the listener tries LISTEN again on a standby, in case it has been promoted.
const STANDBY_RETRY: Duration = Duration::from_secs(5);
/// What PostgreSQL answers LISTEN with on a standby: `cannot execute LISTEN during recovery`.
const READ_ONLY: &str = "25006";

struct Shared {
    position: watch::Sender<i64>,
    listening: AtomicBool,
    /// The server is a standby: no notification will come, the position is polled.
    standby: AtomicBool,
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
                standby: AtomicBool::new(false),
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

    /// A receiver of every change of the position, for waits of their own. On a standby, the
    /// position is polled quickly for as long as a receiver exists, from now on.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        let receiver = self.shared.position.subscribe();
        if self.is_polling() {
            self.shared.refresh.notify_one();
        }
        receiver
    }

    /// Whether notifications are arriving (false while the listener reconnects, when only the
    /// timer keeps the position fresh, and on a standby).
    pub fn is_listening(&self) -> bool {
        self.shared.listening.load(Ordering::Relaxed)
    }

    /// Whether the server is a standby, which is never notified: the position is polled.
    pub fn is_polling(&self) -> bool {
        self.shared.standby.load(Ordering::Relaxed)
    }

    /// Waits until the read models reach `min`: `Ok` with the position then, or `Err` with the
    /// position still known when `timeout` passes.
    pub async fn wait_for(&self, min: i64, timeout: Duration) -> Result<i64, i64> {
        let mut receiver = self.subscribe();
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
    /// notifications during a read costs one more read, not one each. On a standby, it reads
    /// every [`STANDBY_POLL`] too while someone waits and the last read worked (a server that
    /// does not answer is not asked hundreds of times a second).
    async fn refresh_loop(self, source: Source, interval: Duration, stop: CancellationToken) {
        let mut timer = tokio::time::interval(interval);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_read_worked = true;
        loop {
            let poll = last_read_worked && self.is_polling() && self.has_waiters();
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.shared.refresh.notified() => {}
                _ = timer.tick() => {}
                () = tokio::time::sleep(STANDBY_POLL), if poll => {}
            }
            match (source.read)().await {
                Ok(position) => {
                    last_read_worked = true;
                    self.shared.position.send_if_modified(|known| {
                        let changed = *known != position;
                        *known = position;
                        changed
                    });
                }
                Err(error) => {
                    last_read_worked = false;
                    tracing::warn!(%error, "cannot read {}", source.name);
                }
            }
        }
    }

    /// Whether anyone waits for the position to move: every waiter holds a receiver.
    fn has_waiters(&self) -> bool {
        self.shared.position.receiver_count() > 0
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
                error = self.listen_once(&pool, source.channel, source.name) => error,
            };
            if self.shared.listening.swap(false, Ordering::Relaxed) {
                // It had been working: the next attempt is a fresh start, not a retry storm.
                backoff = MIN_BACKOFF;
            }
            let retry_in = if is_standby(&error) {
                // Not a fault: the server is a replica. Said once, then tried again quietly.
                if !self.shared.standby.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        retry_in_s = STANDBY_RETRY.as_secs(),
                        "the database server is a standby: no notifications of {}; polling it \
                         instead",
                        source.name
                    );
                    // Whoever waits already is polled for from now on.
                    self.shared.refresh.notify_one();
                }
                backoff = MIN_BACKOFF;
                STANDBY_RETRY
            } else {
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64,
                    "lost the notifications of {}; reconnecting", source.name);
                let retry_in = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                retry_in
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(retry_in) => {}
            }
        }
    }

    /// One listening session; returns why it ended.
    async fn listen_once(&self, pool: &PgPool, channel: &str, name: &str) -> sqlx::Error {
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
        if self.shared.standby.swap(false, Ordering::Relaxed) {
            tracing::info!(
                "the database server takes LISTEN again (promoted): notifications \
                of {name} resume"
            );
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

/// Whether LISTEN failed because the server is a standby (in recovery).
fn is_standby(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(READ_ONLY))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::time::Duration;

    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use tokio_util::sync::CancellationToken;

    use super::{Positions, Source};

    #[tokio::test]
    async fn on_a_standby_the_position_is_polled_while_someone_waits() {
        // A position kept in memory, with its reads counted, and a pool on an address nothing
        // listens on: no notification ever comes, and the timer reads at once, then again in
        // an hour.
        let stored = Arc::new(AtomicI64::new(0));
        let reads = Arc::new(AtomicUsize::new(0));
        let pool = PgPoolOptions::new().connect_lazy_with(
            PgConnectOptions::new()
                .host("127.0.0.1")
                .port(stockflow_testkit::free_address().port()),
        );
        let (position, counter) = (stored.clone(), reads.clone());
        let source = Source::new("a test position", pool, "test", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let position = position.load(Ordering::SeqCst);
            async move { Ok(position) }
        });
        let stop = CancellationToken::new();
        let (positions, _tasks) =
            Positions::follow(source, 0, Duration::from_secs(3600), stop.clone());
        positions.shared.standby.store(true, Ordering::Relaxed);
        assert!(positions.is_polling());

        let waiter = tokio::spawn({
            let positions = positions.clone();
            async move { positions.wait_for(9, Duration::from_secs(120)).await }
        });
        // The timer alone would take a day to read this often.
        tokio::time::timeout(Duration::from_secs(60), async {
            while reads.load(Ordering::SeqCst) < 25 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("the position is read again and again while a waiter waits");
        stored.store(9, Ordering::SeqCst);
        assert_eq!(waiter.await.expect("the waiter ends"), Ok(9));
        stop.cancel();
    }
}
