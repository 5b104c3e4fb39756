//! One reader's stream of the feed. It is pulled: the next chunk is read from the store only
//! when the one before has been handed on, that is when the connection asks for more; a
//! reader that does not read stops the reads of its own stream (TCP backpressure stops the
//! server polling the stream), and never holds more than one chunk.
//!
//! Catching up and following live are the same loop: read the store after the last position
//! examined, up to the head; when there is nothing more, wait for the head to move. The head
//! watch is marked seen *before* the head is read, so a commit after that read changes the
//! watch and ends the wait: nothing is missed at the switch. Events are always read from the
//! store by position, so nothing is sent twice either.

use std::collections::VecDeque;

use stockflow_event_store::FeedFilter;
use tokio::sync::watch;

use super::{CHUNK, Feed, Published};

pub struct FeedStream {
    feed: Feed,
    filter: FeedFilter,
    /// The last position examined: every event up to it that passes the filter is sent or
    /// held in `held`.
    after: i64,
    held: VecDeque<Published>,
    head: watch::Receiver<i64>,
}

impl FeedStream {
    pub(super) fn new(feed: Feed, filter: FeedFilter, after: i64) -> FeedStream {
        feed.stats.opened();
        let head = feed.head.subscribe();
        FeedStream {
            feed,
            filter,
            after,
            held: VecDeque::new(),
            head,
        }
    }

    /// The next event, waiting for one to be committed when caught up. `None` ends the stream:
    /// the service is stopping, or the store cannot be read (the client resumes with
    /// `Last-Event-ID`).
    pub async fn next(&mut self) -> Option<Published> {
        let closing = self.feed.closing.clone();
        tokio::select! {
            biased;
            () = closing.cancelled() => None,
            next = self.next_event() => next,
        }
    }

    async fn next_event(&mut self) -> Option<Published> {
        loop {
            if let Some(event) = self.held.pop_front() {
                self.feed.stats.sent();
                return Some(event);
            }
            match self.read_more().await {
                Ok(true) => {}
                Ok(false) => self.head.changed().await.ok()?,
                Err(error) => {
                    tracing::warn!(%error, after = self.after, "an event stream cannot read the store; ending it");
                    return None;
                }
            }
        }
    }

    /// Reads the next chunk after `after`; false when the store has nothing beyond it yet.
    async fn read_more(&mut self) -> Result<bool, sqlx::Error> {
        // Seen before the head is read: a head that moves after this read wakes the wait.
        self.head.borrow_and_update();
        let head = self.feed.store.head().await?;
        if head <= self.after {
            return Ok(false);
        }
        let (events, examined) = self
            .feed
            .read(&self.filter, self.after, head, CHUNK)
            .await?;
        self.feed.stats.read(events.len());
        self.held.extend(events.into_iter().map(Published::new));
        self.after = examined;
        Ok(true)
    }
}

impl Drop for FeedStream {
    fn drop(&mut self) {
        self.feed.stats.closed(self.held.len());
    }
}
