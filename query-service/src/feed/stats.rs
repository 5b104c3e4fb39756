//! What the feed has done: counted per service (for whoever holds its `Feed`, tests
//! included) and exported as Prometheus series (`crate::metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::{FEED_BUFFERED, FEED_EVENTS, FEED_STREAMS};

/// The streams of one service, so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Streams open now.
    pub open_streams: u64,
    /// Events the streams have read from the store.
    pub read: u64,
    /// Events the streams have handed to the connection. `read - sent` is what they hold.
    pub sent: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    open_streams: AtomicU64,
    read: AtomicU64,
    sent: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> FeedStats {
        // `sent` before `read`: what was sent was read before, so the snapshot never shows
        // more sent than read.
        let sent = self.sent.load(Ordering::SeqCst);
        FeedStats {
            open_streams: self.open_streams.load(Ordering::SeqCst),
            read: self.read.load(Ordering::SeqCst),
            sent,
        }
    }

    pub(super) fn opened(&self) {
        self.open_streams.fetch_add(1, Ordering::SeqCst);
        metrics::gauge!(FEED_STREAMS).increment(1.0);
    }

    /// A stream closed, dropping `held` events it had read and not sent.
    pub(super) fn closed(&self, held: usize) {
        self.open_streams.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!(FEED_STREAMS).decrement(1.0);
        metrics::gauge!(FEED_BUFFERED).decrement(held as f64);
    }

    pub(super) fn read(&self, events: usize) {
        self.read.fetch_add(events as u64, Ordering::SeqCst);
        metrics::gauge!(FEED_BUFFERED).increment(events as f64);
    }

    pub(super) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::SeqCst);
        metrics::gauge!(FEED_BUFFERED).decrement(1.0);
        metrics::counter!(FEED_EVENTS, "mode" => "stream").increment(1);
    }
}

/// A page of `events` was answered.
pub(super) fn sent_in_pages(events: usize) {
    metrics::counter!(FEED_EVENTS, "mode" => "page").increment(events as u64);
}
