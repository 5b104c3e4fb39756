//! stockflow's event store in PostgreSQL: the schema and its migrations, opening (and creating)
//! the database, appending events atomically across streams, and reading them back in
//! position order. It knows nothing of HTTP or the broker.

pub mod channels;
pub mod database;
mod feed;
mod store;

pub use feed::{FeedFilter, published_body};
pub use store::{
    AppendBatch, AppendError, EventStore, IdempotencyRecord, NewEvent, StoredEvent,
    StoredIdempotency, StoredStream, StreamWrite,
};
