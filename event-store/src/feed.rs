//! Reading the store for subscribers: the bytes an event is published as, and committed
//! events after a position, up to a bound, optionally filtered (the query service's event
//! feed, docs/api.md).
//!
//! Only committed events can be read, and what can be read is always a gap-free prefix of
//! positions: an append takes its positions under the lock of the `event_store.head` row and
//! holds it until it commits (see the event store migration), so an append can take positions
//! only after every earlier one has committed and become visible. Readers also stop at a head
//! they read first: every event up to that head was committed when the head was read.

use sqlx::{PgExecutor, Postgres, QueryBuilder};
use stockflow_events::CloudEvent;
use uuid::Uuid;

use crate::{EventStore, StoredEvent};

/// The bytes an event is published as, to RabbitMQ and in the event feed alike: its
/// CloudEvent as compact JSON (no line breaks, so it fits one `data:` line of an event
/// stream).
pub fn published_body(event: &CloudEvent) -> Vec<u8> {
    serde_json::to_vec(event).expect("a CloudEvent always serializes")
}

impl StoredEvent {
    /// [`published_body`] of this event's CloudEvent.
    pub fn published_body(&self) -> Vec<u8> {
        published_body(&self.to_cloud_event())
    }
}

/// Which events a feed reader wants. Each part given narrows the feed; an empty filter
/// passes every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    /// Routing keys (`order.placed`): an event of any of them passes. Empty: any type.
    pub types: Vec<String>,
    /// The one stream (`order-<uuid>`, `product-<sku>`) whose events pass.
    pub stream_id: Option<String>,
    /// The correlation id (in the events' metadata) whose events pass.
    pub correlation_id: Option<Uuid>,
}

impl FeedFilter {
    /// Whether it passes every event.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.stream_id.is_none() && self.correlation_id.is_none()
    }
}

impl EventStore {
    /// Up to `limit` events with `after < position <= upto` that pass `filter`, in position
    /// order. With `upto` at most a head read before, they are all committed and no event
    /// in that range that passes the filter is missing. A bounded range bounds the work of a
    /// sparse filter; a correlation id is found through its index, whatever the range.
    pub async fn read_feed(
        executor: impl PgExecutor<'_>,
        filter: &FeedFilter,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT position, stream_id, stream_version, event_id, event_type, type_version, \
                    data, metadata, recorded_at, commit_position \
               FROM event_store.events WHERE position > ",
        );
        query
            .push_bind(after)
            .push(" AND position <= ")
            .push_bind(upto);
        if !filter.types.is_empty() {
            query
                .push(" AND event_type = ANY(")
                .push_bind(filter.types.clone())
                .push(")");
        }
        if let Some(stream_id) = &filter.stream_id {
            query.push(" AND stream_id = ").push_bind(stream_id.clone());
        }
        if let Some(correlation_id) = filter.correlation_id {
            // The metadata holds the id as serde writes a UUID: lowercase, hyphenated.
            query
                .push(" AND metadata->>'correlation_id' = ")
                .push_bind(correlation_id.to_string());
        }
        query.push(" ORDER BY position LIMIT ").push_bind(limit);
        query.build_query_as().fetch_all(executor).await
    }
}
