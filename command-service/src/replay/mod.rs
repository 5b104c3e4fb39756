//! Replays: stored events published again to one queue, for a subscriber that joined late or
//! lost its queue (docs/api.md, "Replaying events into a queue"). A replay runs in the
//! background at a bounded rate, on connections of its own, records its progress as it goes,
//! and ends `done` or `failed`; one cut short by a stop of its service is marked failed by
//! the next service to start, and a new replay from its `last_position` resumes it.

mod filter;
mod pace;
mod publish;
mod store;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use sqlx::{Connection, PgConnection, PgPool};
use stockflow_broker as amqp;
use stockflow_event_store::EventStore;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::writer::CommandTimes;
pub use filter::{PastHead, Range, TypeFilter};
use publish::{Job, Outcome, Session};
pub use store::Replay;

/// Replays one service runs at once, at most.
pub const MAX_RUNNING: usize = 2;
/// What a replay abandoned by its service is marked failed with.
pub const INTERRUPTED: &str = "interrupted by a restart";
/// What a replay an operator cancelled is marked failed with.
pub const CANCELLED: &str = "cancelled by an operator";
/// How often a running service looks for replays another one abandoned.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A replay as asked for, its fields checked.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    pub queue: String,
    pub after: i64,
    pub to: Option<i64>,
    pub types: Option<TypeFilter>,
}

/// A replay that started: its id and the range it publishes.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    pub replay_id: Uuid,
    pub range: Range,
}

/// Why a replay did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{} replays are running already", MAX_RUNNING)]
    Busy,
    #[error(transparent)]
    PastHead(#[from] PastHead),
    #[error("no queue `{0}`")]
    QueueNotFound(String),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why a replay was not cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no replay {0}")]
    NotFound(Uuid),
    #[error("the replay has ended already")]
    Ended(Box<Replay>),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The service's replays: starts them, answers for them, and stops them with the service.
pub struct Replays {
    pool: PgPool,
    amqp_url: String,
    rate: u32,
    commands: Arc<CommandTimes>,
    slots: Arc<Semaphore>,
    stop: CancellationToken,
    tasks: Mutex<JoinSet<()>>,
}

impl Replays {
    /// Replays publishing to the broker at `amqp_url`, `rate` messages per second each at
    /// most, less while the `commands` they give way to slow down, until `stop`.
    pub fn new(
        pool: PgPool,
        amqp_url: String,
        rate: u32,
        commands: Arc<CommandTimes>,
        stop: CancellationToken,
    ) -> Replays {
        Replays {
            pool,
            amqp_url,
            rate: rate.max(1),
            commands,
            slots: Arc::new(Semaphore::new(MAX_RUNNING)),
            stop,
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// Marks failed every replay left running by a service that is gone (a stop or a crash
    /// cut it short), keeping what it published. Run at start-up, then every minute for the
    /// services beside this one.
    pub async fn recover(&self) -> Result<(), sqlx::Error> {
        let failed = store::fail_abandoned(&self.pool, INTERRUPTED).await?;
        if failed > 0 {
            tracing::warn!(
                failed,
                "replays cut short by a stop were marked failed; resume them from their last_position"
            );
        }
        Ok(())
    }

    /// [`Replays::recover`] every minute until the service stops.
    pub async fn keep_recovering(self: Arc<Replays>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(SWEEP_EVERY) => {}
                () = self.stop.cancelled() => return,
            }
            if let Err(error) = self.recover().await {
                tracing::warn!(%error, "cannot look for abandoned replays");
            }
        }
    }

    /// Checks the request against the store and the broker, records the replay and starts it.
    pub async fn start(&self, request: ReplayRequest) -> Result<Started, StartError> {
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| StartError::Busy)?;
        let head = EventStore::new(self.pool.clone()).head().await?;
        let range = Range::resolve(request.after, request.to, head)?;
        check_queue(&self.amqp_url, &request.queue).await?;
        let mut session = self.open(&request.queue).await?;
        let replay_id = Uuid::now_v7();
        // Locked before it is recorded, so that no service takes it for abandoned.
        store::lock(&mut session.db, replay_id).await?;
        let types = request.types.as_ref().map(|t| t.named.as_slice());
        let new = store::NewReplay {
            replay_id,
            queue: &request.queue,
            range,
            types,
        };
        store::insert(&mut session.db, &new).await?;
        let job = Job {
            replay_id,
            queue: request.queue,
            range,
            keys: request.types.map(|t| t.keys).unwrap_or_default(),
            rate: self.rate,
            commands: self.commands.clone(),
        };
        tracing::info!(%replay_id, queue = %job.queue, after = range.after, to = range.to, "replay started");
        self.spawn(job, session, slot);
        Ok(Started { replay_id, range })
    }

    /// The replay recorded under `replay_id`, if any.
    pub async fn get(&self, replay_id: Uuid) -> Result<Option<Replay>, sqlx::Error> {
        store::get(&self.pool, replay_id).await
    }

    /// Cancels a running replay, wherever it runs: it is `failed` at once and stops
    /// publishing within a second; a new replay from its `last_position` resumes it. The
    /// replay as it now stands.
    pub async fn cancel(&self, replay_id: Uuid) -> Result<Replay, CancelError> {
        let cancelled = store::cancel(&self.pool, replay_id, CANCELLED).await?;
        let replay = store::get(&self.pool, replay_id)
            .await?
            .ok_or(CancelError::NotFound(replay_id))?;
        if !cancelled {
            return Err(CancelError::Ended(Box::new(replay)));
        }
        tracing::info!(%replay_id, "replay cancelled");
        Ok(replay)
    }

    /// Waits for the replays to stop, once the service's stop was signalled.
    pub async fn drain(&self) {
        let mut tasks =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        while tasks.join_next().await.is_some() {}
    }

    /// A replay's own connections: to the broker, with a channel in confirm mode, and to the
    /// database.
    async fn open(&self, queue: &str) -> Result<Session, StartError> {
        let broker = amqp::connect(&self.amqp_url, &format!("stockflow-replay {queue}")).await?;
        let channel = amqp::within(broker.create_channel()).await?;
        amqp::within(channel.confirm_select(ConfirmSelectOptions::default())).await?;
        let db = PgConnection::connect_with(&self.pool.connect_options()).await?;
        Ok(Session {
            broker,
            channel,
            db,
        })
    }

    fn spawn(&self, job: Job, session: Session, slot: OwnedSemaphorePermit) {
        let pool = self.pool.clone();
        let stop = self.stop.clone();
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget the replays that ended.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            metrics::gauge!(crate::metrics::REPLAYS_RUNNING).increment(1.0);
            run(job, session, &stop, &pool).await;
            metrics::gauge!(crate::metrics::REPLAYS_RUNNING).decrement(1.0);
            drop(slot);
        });
    }
}

/// Runs one replay to its end and records how it ended.
async fn run(job: Job, mut session: Session, stop: &CancellationToken, pool: &PgPool) {
    let replay_id = job.replay_id;
    match publish::run(&job, &mut session, stop).await {
        Ok(Outcome::Done) => tracing::info!(%replay_id, "replay done"),
        Ok(Outcome::Cancelled) => tracing::info!(%replay_id, "replay stopped: it was cancelled"),
        Ok(Outcome::Stopped) => {
            tracing::info!(%replay_id, "replay stopped with the service; the next start marks it failed");
        }
        Err(error) => {
            tracing::warn!(%replay_id, %error, "replay failed");
            // Through the pool: the replay's own connection may be what failed.
            if let Err(e) = store::fail(pool, replay_id, &error.to_string()).await {
                tracing::warn!(%replay_id, error = %e, "cannot record the replay's failure");
            }
        }
    }
    // Let go of the lock at once, so that a service starting right after this one finds
    // the replay abandoned.
    let _ = store::unlock(&mut session.db, replay_id).await;
    let _ = session.db.close().await;
    let _ = session.broker.close(200, "replay ended".into()).await;
}

/// Whether `queue` exists, asked on a connection of its own: a passive declare of a missing
/// queue closes its channel, and may take the connection with it.
async fn check_queue(amqp_url: &str, queue: &str) -> Result<(), StartError> {
    let broker = amqp::connect(amqp_url, "stockflow-replay-check").await?;
    let channel = amqp::within(broker.create_channel()).await?;
    let declared = amqp::within(channel.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    ))
    .await;
    let _ = broker.close(200, "checked".into()).await;
    match declared {
        Ok(_) => Ok(()),
        Err(error) => match soft_error(&error) {
            Some(AMQPSoftError::NOTFOUND) => Err(StartError::QueueNotFound(queue.to_owned())),
            // Exclusive to its consumer's connection: it exists, and the default exchange
            // delivers to it.
            Some(AMQPSoftError::RESOURCELOCKED) => Ok(()),
            _ => Err(StartError::Broker(error)),
        },
    }
}

/// The channel-level AMQP error `error` is, if it is one.
fn soft_error(error: &lapin::Error) -> Option<AMQPSoftError> {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(soft) => Some(soft.clone()),
            AMQPErrorKind::Hard(_) => None,
        },
        _ => None,
    }
}
