//! The writer decides commands and appends their events, many commands per transaction
//! (group commit). One task owns it: commands queue up while a batch commits, and the next
//! batch takes them all. Decisions run one after the other against an in-memory cache of
//! aggregate state, so commands in a process never conflict with each other; a stream moved
//! by another process makes the append fail, the cache entry is dropped and the batch is
//! decided again on fresh state, a bounded number of times.
//!
//! It answers with a [`Reply`] or a typed [`Refusal`]; turning those into HTTP is the
//! caller's business.

mod batch;
mod idempotency;
mod state;
mod times;

use std::num::NonZeroUsize;
use std::sync::Arc;

use stockflow_domain::Command;
use stockflow_event_store::EventStore;
use stockflow_events::Metadata;
use tokio::sync::{mpsc, oneshot};

use crate::replies::{Refusal, Reply};
pub use idempotency::Idempotency;
use state::Cache;
pub use times::{CommandTimes, Reading};

/// Most commands decided and appended in one transaction.
const MAX_BATCH: usize = 256;
/// Attempts at a batch whose streams other writers keep moving.
const MAX_ATTEMPTS: usize = 5;
/// Aggregates whose state is kept in memory. An order's state takes about a kilobyte and most
/// orders are not touched again soon after they are placed, while products are touched all
/// the time and stay: 20,000 keeps the service well under its 100 MiB memory goal
/// (docs/performance.md) and a miss costs one snapshot read.
const CACHE_CAPACITY: usize = 20_000;

/// What the target aggregate's version must be for the command to go ahead (a client's
/// `If-Match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Any version, as long as the aggregate exists.
    Exists,
    Version(i64),
}

/// One command on its way to the writer, with the channel its answer goes back on.
struct Submission {
    command: Command,
    precondition: Option<Precondition>,
    idempotency: Option<Idempotency>,
    metadata: Metadata,
    reply: oneshot::Sender<Result<Reply, Refusal>>,
    /// When it was handed to the writer, for the time it waits for its batch.
    queued: std::time::Instant,
}

#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Submission>,
    times: Arc<CommandTimes>,
}

impl WriterHandle {
    pub async fn submit(
        &self,
        command: Command,
        precondition: Option<Precondition>,
        idempotency: Option<Idempotency>,
        metadata: Metadata,
    ) -> Result<Reply, Refusal> {
        let started = std::time::Instant::now();
        let kind = command.kind();
        let (reply, outcome) = oneshot::channel();
        let submission = Submission {
            command,
            precondition,
            idempotency,
            metadata,
            reply,
            queued: started,
        };
        let result = match self.tx.send(submission).await {
            Ok(()) => outcome.await.unwrap_or_else(|_| {
                Err(Refusal::Unavailable(
                    "the writer dropped the command".into(),
                ))
            }),
            Err(_) => Err(Refusal::Unavailable("the writer has stopped".into())),
        };
        let status = match &result {
            Ok(reply) => reply.status,
            Err(refusal) => refusal.status().as_u16(),
        };
        metrics::counter!(crate::metrics::COMMANDS, "command" => kind, "status" => status.to_string())
            .increment(1);
        let took = started.elapsed();
        metrics::histogram!(crate::metrics::COMMAND_DURATION, "command" => kind)
            .record(took.as_secs_f64());
        self.times.record(took);
        result
    }

    /// The commands' times, for whoever gives way to them.
    pub fn times(&self) -> Arc<CommandTimes> {
        self.times.clone()
    }
}

/// Starts the writer. It stops once every handle is dropped and its queue is drained.
pub fn spawn(store: EventStore) -> (WriterHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
    let writer = Writer {
        store,
        cache: Cache::new(NonZeroUsize::new(CACHE_CAPACITY).expect("capacity is not zero")),
        rx,
    };
    let handle = WriterHandle {
        tx,
        times: Arc::default(),
    };
    (handle, tokio::spawn(writer.run()))
}

struct Writer {
    store: EventStore,
    cache: Cache,
    rx: mpsc::Receiver<Submission>,
}

impl Writer {
    async fn run(mut self) {
        while let Some(first) = self.rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.process(batch).await;
        }
    }

    async fn process(&mut self, batch: Vec<Submission>) {
        metrics::histogram!(crate::metrics::APPEND_BATCH_SIZE).record(batch.len() as f64);
        let waited = metrics::histogram!(crate::metrics::WRITER_WAIT);
        for submission in &batch {
            waited.record(submission.queued.elapsed().as_secs_f64());
        }
        for attempt in 1..=MAX_ATTEMPTS {
            match self.attempt(&batch).await {
                Ok(replies) => {
                    for (submission, reply) in batch.into_iter().zip(replies) {
                        let _ = submission.reply.send(reply);
                    }
                    return;
                }
                Err(batch::AttemptError::Conflict) => {
                    tracing::debug!(
                        attempt,
                        commands = batch.len(),
                        "batch conflicted with another writer; deciding again"
                    );
                }
                Err(batch::AttemptError::Database(cause)) => {
                    for submission in batch {
                        let _ = submission
                            .reply
                            .send(Err(Refusal::Unavailable(cause.clone())));
                    }
                    return;
                }
            }
        }
        for submission in batch {
            let _ = submission.reply.send(Err(Refusal::ConcurrencyConflict));
        }
    }
}
