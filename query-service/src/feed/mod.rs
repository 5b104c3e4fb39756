//! The event feed (docs/api.md, "Event feed"): the stored events exactly as they are
//! published, for subscribers that join late or lost their queue: a page at a time, or as a
//! stream that catches up from the store and then follows new commits. It knows nothing of
//! HTTP (`http/events.rs` translates).
//!
//! Every read is capped at a head read just before it. Appends take their positions under
//! the lock of the store's head row and keep it until they commit, so whatever a reader sees
//! is a gap-free prefix of positions, and every event up to a head it has read is committed
//! and visible: a page or a stream never skips a position it later finds filled.

mod stats;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use stockflow_event_store::{EventStore, FeedFilter, StoredEvent, channels};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::positions::{Positions, Source};

pub use stats::FeedStats;
pub use stream::FeedStream;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
/// Most positions one read examines with a type or stream filter: a page of a sparse filter
/// over a large store ends there (empty, perhaps) rather than scan the whole store at once.
pub const SCAN_WINDOW: i64 = 10_000;
/// Most events one read of a stream fetches; a stream holds no more than these, read and not
/// yet sent, which bounds its memory.
pub const CHUNK: i64 = 500;

/// An event as it is published: its position, its routing key and its CloudEvents JSON,
/// byte for byte the body of the message on RabbitMQ.
#[derive(Debug, Clone)]
pub struct Published {
    pub position: i64,
    pub routing_key: String,
    pub body: String,
}

impl Published {
    fn new(event: StoredEvent) -> Published {
        let body = String::from_utf8(event.published_body()).expect("JSON is UTF-8");
        Published {
            position: event.position,
            routing_key: event.event_type,
            body,
        }
    }
}

/// One page of the feed.
#[derive(Debug)]
pub struct Page {
    pub events: Vec<Published>,
    /// The last position examined: the `after` of the next page.
    pub next_after: i64,
    /// The store's head when the page was read.
    pub head: i64,
}

/// The feed: reads pages, opens streams. Cheap to clone.
#[derive(Clone)]
pub struct Feed {
    store: EventStore,
    head: Positions,
    heartbeat: Duration,
    stats: Arc<stats::Counters>,
    /// Cancelled when the service stops: open streams end so the server can drain.
    closing: CancellationToken,
}

/// How the feed is run.
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings {
    /// The interval of comment lines on an idle stream.
    pub heartbeat: Duration,
    /// How often the head is re-read in case a notification was lost.
    pub poll_interval: Duration,
}

impl Feed {
    /// Follows the store's head (one listener for every stream of the service) from
    /// `initial` until `stop`.
    pub fn start(
        pool: PgPool,
        initial: i64,
        settings: FeedSettings,
        stop: CancellationToken,
    ) -> (Feed, Vec<JoinHandle<()>>) {
        let store = EventStore::new(pool.clone());
        let reader = store.clone();
        let source = Source::new("the store's head", pool, channels::EVENTS, move || {
            let reader = reader.clone();
            async move { reader.head().await }
        });
        let (head, tasks) = Positions::follow(source, initial, settings.poll_interval, stop);
        let feed = Feed {
            store,
            head,
            heartbeat: settings.heartbeat,
            stats: Arc::default(),
            closing: CancellationToken::new(),
        };
        (feed, tasks)
    }

    /// Up to `limit` events after `after` that pass `filter`, in position order.
    pub async fn page(
        &self,
        filter: &FeedFilter,
        after: i64,
        limit: i64,
    ) -> Result<Page, sqlx::Error> {
        let head = self.store.head().await?;
        if after >= head {
            return Ok(Page {
                events: Vec::new(),
                next_after: after,
                head,
            });
        }
        let (events, next_after) = self.read(filter, after, head, limit).await?;
        stats::sent_in_pages(events.len());
        Ok(Page {
            events: events.into_iter().map(Published::new).collect(),
            next_after,
            head,
        })
    }

    /// Up to `limit` events after `after` up to `head` that pass `filter`, and the last
    /// position they account for: the last event's if `limit` was reached, else the end of
    /// what was examined.
    async fn read(
        &self,
        filter: &FeedFilter,
        after: i64,
        head: i64,
        limit: i64,
    ) -> Result<(Vec<StoredEvent>, i64), sqlx::Error> {
        let end = scan_end(filter, after, head);
        let events = EventStore::read_feed(self.store.pool(), filter, after, end, limit).await?;
        let examined = match events.last() {
            Some(last) if events.len() as i64 >= limit => last.position,
            _ => end,
        };
        Ok((events, examined))
    }

    /// A stream of the events after `after` that pass `filter`: those stored, then those
    /// committed later, each once, in position order.
    pub fn stream(&self, filter: FeedFilter, after: i64) -> FeedStream {
        FeedStream::new(self.clone(), filter, after)
    }

    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// What the streams of this service have read and sent so far.
    pub fn stats(&self) -> FeedStats {
        self.stats.snapshot()
    }

    /// Ends every open stream (and any opened later): the service is stopping.
    pub fn close_streams(&self) {
        self.closing.cancel();
    }
}

/// The last position a read after `after` examines. Unfiltered, the limit bounds the read;
/// a correlation id is found through its index; any other filter examines a window of
/// positions at most.
fn scan_end(filter: &FeedFilter, after: i64, head: i64) -> i64 {
    if filter.is_empty() || filter.correlation_id.is_some() {
        head
    } else {
        head.min(after.saturating_add(SCAN_WINDOW))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_filters_without_an_index_examine_a_window() {
        let by_type = FeedFilter {
            types: vec!["order.placed".into()],
            ..FeedFilter::default()
        };
        assert_eq!(scan_end(&by_type, 0, 1_000_000), SCAN_WINDOW);
        assert_eq!(scan_end(&by_type, 5, 100), 100);
        assert_eq!(scan_end(&FeedFilter::default(), 0, 1_000_000), 1_000_000);
        assert_eq!(scan_end(&by_type, i64::MAX - 1, i64::MAX), i64::MAX);
        let by_correlation = FeedFilter {
            correlation_id: Some(uuid::Uuid::nil()),
            ..by_type
        };
        assert_eq!(scan_end(&by_correlation, 0, 1_000_000), 1_000_000);
    }
}
