//! One replay at work: it reads its range from the store a chunk at a time, publishes each
//! chunk to its queue through the default exchange, waits for the broker's confirms of the
//! whole chunk, records its progress, and keeps to its rate. It has a broker connection and
//! a database connection of its own, so the relay and the commands never wait for it.

use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::{Channel, Confirmation};
use sqlx::PgConnection;
use stockflow_event_store::{EventStore, FeedFilter, StoredEvent};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::filter::Range;
use super::store;

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
fn chunk_size(rate: u32) -> i64 {
    i64::from((rate / 50).clamp(1, MAX_CHUNK))
}

/// How often progress is written: each write is a commit, and a chunk is a fiftieth of a
/// second. A replay cut short resumes from the last progress written, so at worst this much
/// is published twice (subscribers deduplicate on `id`); nothing is skipped.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How long a chunk of `events` takes at `rate`: the next starts no sooner.
fn pace(events: usize, rate: u32) -> Duration {
    Duration::from_secs_f64(events as f64 / f64::from(rate.max(1)))
}

/// Publishes the job's range, chunk by chunk, until it is all confirmed or `stop`.
pub(super) async fn run(
    job: &Job,
    session: &mut Session,
    stop: &CancellationToken,
) -> Result<Outcome, ReplayError> {
    let chunk = chunk_size(job.rate);
    let filter = FeedFilter {
        types: job.keys.clone(),
        ..FeedFilter::default()
    };
    let mut published = 0;
    let mut last = job.range.after;
    let mut next = Instant::now();
    let mut saved = Instant::now();
    while last < job.range.to {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = stop.cancelled() => break,
        }
        let began = Instant::now();
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
            store::progress(&mut session.db, job.replay_id, published, last).await?;
            saved = Instant::now();
        }
        next = began + pace(events.len(), job.rate);
    }
    // What the broker confirmed, whether the range is done or the service is stopping.
    store::progress(&mut session.db, job.replay_id, published, last).await?;
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
        assert_eq!(chunk_size(2_000), 40);
        assert_eq!(chunk_size(5_000), 100);
        assert_eq!(chunk_size(1_000_000), 500);
        assert_eq!(chunk_size(50), 1);
        assert_eq!(pace(500, 5_000), Duration::from_millis(100));
        assert_eq!(pace(0, 5_000), Duration::ZERO);
    }
}
