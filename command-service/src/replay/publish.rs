//! One replay at work: it reads its range from the store a chunk at a time, publishes each
//! chunk to its queue through the default exchange, waits for the broker's confirms of the
//! whole chunk, records its progress, and keeps to the rate its pacer allows (its configured
//! rate at most, less while live commands slow down: see [`super::pace`]). It has a broker
//! connection and a database connection of its own, so the relay and the commands never wait
//! for it.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::{Channel, Confirmation};
use sqlx::PgConnection;
use stockflow_event_store::{EventStore, FeedFilter, StoredEvent};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::filter::Range;
use super::pace::{self, Pacer};
use super::store;
use crate::writer::{CommandTimes, Reading};

/// Events read, published and confirmed together, at most.
const MAX_CHUNK: u32 = 500;
/// Longest wait for a chunk's confirms before the broker is presumed gone.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// What a replay publishes, and how fast.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub replay_id: Uuid,
    pub queue: String,
    pub range: Range,
    /// The routing keys to publish; every event when empty.
    pub keys: Vec<String>,
    /// Messages per second, at most.
    pub rate: u32,
    /// The live commands' times, which the replay gives way to.
    pub commands: Arc<CommandTimes>,
}

/// A replay's own connections: the broker's, with a channel in confirm mode, and the
/// database's, which holds the replay's lock.
pub(super) struct Session {
    pub broker: lapin::Connection,
    pub channel: Channel,
    pub db: PgConnection,
}

/// How a replay that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Every event of the range was published and confirmed.
    Done,
    /// The service is stopping; the replay stays `running` in the store until a service
    /// starts and finds it abandoned.
    Stopped,
    /// An operator cancelled it: it is `failed` in the store, with its progress.
    Cancelled,
}

/// Why a replay failed; the message is what its status shows.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker refused (nacked) the event at position {0}")]
    Nacked(i64),
    #[error("the queue is gone: the broker returned the event at position {0} as unroutable")]
    QueueGone(i64),
    #[error("no confirm from the broker within {0:?}")]
    ConfirmTimeout(Duration),
}

/// Events per chunk: a fiftieth of a second's worth, so that the work comes in small, even
/// steps rather than bursts that the live commands would queue behind.
fn chunk_size(rate: f64) -> i64 {
    ((rate / 50.0) as i64).clamp(1, i64::from(MAX_CHUNK))
}

/// How often progress is written: each write is a commit, and a chunk is a fiftieth of a
/// second. A replay cut short resumes from the last progress written, so at worst this much
/// is published twice (subscribers deduplicate on `id`); nothing is skipped.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How long a chunk of `events` takes at `rate`: the next starts no sooner.
fn pace(events: usize, rate: f64) -> Duration {
    Duration::from_secs_f64(events as f64 / rate.max(1.0))
}

/// The live commands' times window by window.
struct Watch<'a> {
    times: &'a CommandTimes,
    last: Reading,
    window_end: Instant,
}

impl<'a> Watch<'a> {
    fn new(times: &'a CommandTimes) -> Watch<'a> {
        Watch {
            times,
            last: times.read(),
            window_end: Instant::now() + pace::WINDOW,
        }
    }

    /// What the commands took in the window that ended, once one has.
    fn ended(&mut self, now: Instant) -> Option<Reading> {
        if now < self.window_end {
            return None;
        }
        let reading = self.times.read();
        let window = reading.since(&self.last);
        self.last = reading;
        self.window_end = now + pace::WINDOW;
        Some(window)
    }
}

/// Publishes the job's range, chunk by chunk, until it is all confirmed or `stop`.
pub(super) async fn run(
    job: &Job,
    session: &mut Session,
    stop: &CancellationToken,
) -> Result<Outcome, ReplayError> {
    let mut allowed = 0.0;
    let outcome = paced(job, session, stop, &mut allowed).await;
    metrics::gauge!(crate::metrics::REPLAY_RATE).decrement(allowed);
    outcome
}

/// [`run`], keeping this replay's share of the rate gauge in `allowed`.
async fn paced(
    job: &Job,
    session: &mut Session,
    stop: &CancellationToken,
    allowed: &mut f64,
) -> Result<Outcome, ReplayError> {
    let filter = FeedFilter {
        types: job.keys.clone(),
        ..FeedFilter::default()
    };
    let mut pacer = Pacer::new(job.rate);
    let mut watch = Watch::new(&job.commands);
    let mut published = 0;
    let mut last = job.range.after;
    let mut next = Instant::now();
    let mut saved = Instant::now();
    while last < job.range.to {
        if let Some(window) = watch.ended(Instant::now()) {
            pacer.observe(Instant::now(), window);
            let now_allowed = pacer.rate().unwrap_or(0.0);
            metrics::gauge!(crate::metrics::REPLAY_RATE).increment(now_allowed - *allowed);
            *allowed = now_allowed;
        }
        let Some(rate) = pacer.rate() else {
            // Paused for a probe: nothing is sent until the window ends.
            tokio::select! {
                () = tokio::time::sleep_until(watch.window_end) => continue,
                () = stop.cancelled() => break,
            }
        };
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = stop.cancelled() => break,
        }
        let began = Instant::now();
        let chunk = chunk_size(rate);
        let events =
            EventStore::read_feed(&mut session.db, &filter, last, job.range.to, chunk).await?;
        // A short read reached the end of the range: every event up to `to` was examined.
        let examined = match events.last() {
            Some(event) if events.len() as i64 == chunk => event.position,
            _ => job.range.to,
        };
        tokio::select! {
            sent = publish_chunk(&session.channel, &job.queue, &events) => sent?,
            () = stop.cancelled() => break,
        }
        published += events.len() as i64;
        last = examined;
        metrics::counter!(crate::metrics::REPLAY_EVENTS_PUBLISHED).increment(events.len() as u64);
        if saved.elapsed() >= PROGRESS_EVERY {
            if !store::progress(&mut session.db, job.replay_id, published, last).await? {
                return Ok(Outcome::Cancelled);
            }
            saved = Instant::now();
        }
        next = began + pace(events.len(), rate);
    }
    // What the broker confirmed, whether the range is done or the service is stopping.
    if !store::progress(&mut session.db, job.replay_id, published, last).await? {
        return Ok(Outcome::Cancelled);
    }
    if last < job.range.to {
        return Ok(Outcome::Stopped);
    }
    store::done(&mut session.db, job.replay_id).await?;
    Ok(Outcome::Done)
}

/// Publishes `events` in order to `queue` alone, as the live messages, and waits for the
/// broker to confirm them all. They are mandatory: if the queue was deleted meanwhile, the
/// broker returns them rather than dropping them unseen.
async fn publish_chunk(
    channel: &Channel,
    queue: &str,
    events: &[StoredEvent],
) -> Result<(), ReplayError> {
    let mut confirms = Vec::with_capacity(events.len());
    for event in events {
        let (body, properties) = crate::message::message(event);
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &body,
                properties,
            )
            .await?;
        confirms.push((event.position, confirm));
    }
    let settle = async {
        for (position, confirm) in confirms {
            match confirm.await? {
                Confirmation::Nack(_) => return Err(ReplayError::Nacked(position)),
                Confirmation::Ack(Some(_)) => return Err(ReplayError::QueueGone(position)),
                Confirmation::Ack(None) | Confirmation::NotRequested => {}
            }
        }
        Ok(())
    };
    tokio::time::timeout(CONFIRM_TIMEOUT, settle)
        .await
        .map_err(|_| ReplayError::ConfirmTimeout(CONFIRM_TIMEOUT))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_a_fiftieth_of_a_second_of_the_rate_within_bounds() {
        assert_eq!(chunk_size(2_000.0), 40);
        assert_eq!(chunk_size(5_000.0), 100);
        assert_eq!(chunk_size(1_000_000.0), 500);
        assert_eq!(chunk_size(50.0), 1);
        assert_eq!(chunk_size(0.5), 1);
        assert_eq!(pace(500, 5_000.0), Duration::from_millis(100));
        assert_eq!(pace(0, 5_000.0), Duration::ZERO);
    }
}
