//! Reading and appending events. Appends go through `event_store.append` (see the migration):
//! one round trip that checks expected versions, takes gap-free positions, writes events,
//! snapshots and idempotency outcomes, and notifies the relay; all or nothing.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use stockflow_events::{CloudEvent, Metadata};
use uuid::Uuid;

/// A new version of one stream, as part of an append.
#[derive(Debug, Clone)]
pub struct StreamWrite {
    pub stream_id: String,
    /// The version the decision was made against; 0 for a stream that must not exist yet.
    pub expected_version: i64,
    pub new_version: i64,
    /// The aggregate's state at `new_version`.
    pub snapshot: serde_json::Value,
    /// The layout `snapshot` is written in; readers rebuild from events when they do not
    /// know it.
    pub snapshot_schema: i32,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub type_version: i32,
    pub data: serde_json::Value,
    pub metadata: serde_json::Value,
}

/// The outcome of a command sent with an Idempotency-Key.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub key: String,
    pub request_hash: Vec<u8>,
    pub status: i16,
    pub body: String,
    /// 1-based ordinal, within the batch's events, of the command's last event.
    pub last_event_ordinal: Option<i32>,
}

/// Everything one transaction writes.
#[derive(Debug, Clone, Default)]
pub struct AppendBatch {
    pub streams: Vec<StreamWrite>,
    pub events: Vec<NewEvent>,
    pub idempotency: Vec<IdempotencyRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// A stream moved on since it was read (another writer): decide again on fresh state.
    #[error("a stream is not at its expected version")]
    VersionConflict,
    /// An idempotency key was recorded meanwhile: look the outcome up again.
    #[error("an idempotency key is already recorded")]
    IdempotencyConflict,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredStream {
    pub stream_id: String,
    pub version: i64,
    pub snapshot: Option<serde_json::Value>,
    pub snapshot_schema: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredIdempotency {
    pub key: String,
    pub request_hash: Vec<u8>,
    pub status: i16,
    pub body: String,
    pub position: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub type_version: i32,
    pub data: serde_json::Value,
    pub metadata: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
    /// The position of the last event of the transaction that appended this one.
    pub commit_position: i64,
}

impl StoredEvent {
    /// The published form. Metadata that cannot be read is dropped rather than blocking the
    /// event: the payload and its identity are what subscribers need.
    pub fn to_cloud_event(&self) -> CloudEvent {
        let metadata: Metadata = serde_json::from_value(self.metadata.clone()).unwrap_or_default();
        CloudEvent::from_stored(
            self.event_id,
            &self.stream_id,
            self.stream_version,
            self.position,
            self.recorded_at,
            &self.event_type,
            u32::try_from(self.type_version).unwrap_or_default(),
            self.data.clone(),
            &metadata,
        )
    }
}

#[derive(Debug, Clone)]
pub struct EventStore {
    pool: PgPool,
}

impl EventStore {
    pub fn new(pool: PgPool) -> EventStore {
        EventStore { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Appends a batch atomically. Returns the position of its last event (or the head when
    /// it has none).
    pub async fn append(&self, batch: &AppendBatch) -> Result<i64, AppendError> {
        let AppendBatch {
            streams,
            events,
            idempotency,
        } = batch;
        let stream_ids: Vec<&str> = streams.iter().map(|s| s.stream_id.as_str()).collect();
        let expected: Vec<i64> = streams.iter().map(|s| s.expected_version).collect();
        let new_versions: Vec<i64> = streams.iter().map(|s| s.new_version).collect();
        let snapshots: Vec<&serde_json::Value> = streams.iter().map(|s| &s.snapshot).collect();
        let snapshot_schemas: Vec<i32> = streams.iter().map(|s| s.snapshot_schema).collect();
        let event_streams: Vec<&str> = events.iter().map(|e| e.stream_id.as_str()).collect();
        let event_versions: Vec<i64> = events.iter().map(|e| e.stream_version).collect();
        let event_ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let event_types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let type_versions: Vec<i32> = events.iter().map(|e| e.type_version).collect();
        let data: Vec<&serde_json::Value> = events.iter().map(|e| &e.data).collect();
        let metadata: Vec<&serde_json::Value> = events.iter().map(|e| &e.metadata).collect();
        let keys: Vec<&str> = idempotency.iter().map(|i| i.key.as_str()).collect();
        let hashes: Vec<&[u8]> = idempotency
            .iter()
            .map(|i| i.request_hash.as_slice())
            .collect();
        let statuses: Vec<i16> = idempotency.iter().map(|i| i.status).collect();
        let bodies: Vec<&str> = idempotency.iter().map(|i| i.body.as_str()).collect();
        let ordinals: Vec<Option<i32>> = idempotency.iter().map(|i| i.last_event_ordinal).collect();
        let result = sqlx::query_scalar!(
            r#"SELECT event_store.append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) AS "position!""#,
            &stream_ids as &[&str],
            &expected,
            &new_versions,
            &snapshots as &[&serde_json::Value],
            &snapshot_schemas,
            &event_streams as &[&str],
            &event_versions,
            &event_ids,
            &event_types as &[&str],
            &type_versions,
            &data as &[&serde_json::Value],
            &metadata as &[&serde_json::Value],
            &keys as &[&str],
            &hashes as &[&[u8]],
            &statuses,
            &bodies as &[&str],
            &ordinals as &[Option<i32>],
        )
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(position) => Ok(position),
            Err(sqlx::Error::Database(e)) => match e.code().as_deref() {
                Some("SF001") => Err(AppendError::VersionConflict),
                Some("SF002") => Err(AppendError::IdempotencyConflict),
                // Two writers locking the same streams in another order: one is chosen to
                // yield, and deciding again is the right answer for it too.
                Some("40P01") | Some("40001") | Some("23505") => Err(AppendError::VersionConflict),
                _ => Err(AppendError::Database(sqlx::Error::Database(e))),
            },
            Err(e) => Err(AppendError::Database(e)),
        }
    }

    /// The current version and snapshot of each named stream that exists.
    pub async fn load_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<StoredStream>, sqlx::Error> {
        sqlx::query_as!(
            StoredStream,
            "SELECT stream_id, version, snapshot, snapshot_schema FROM event_store.streams WHERE stream_id = ANY($1)",
            stream_ids,
        )
        .fetch_all(&self.pool)
        .await
    }

    /// All events of one stream in order: used when a snapshot cannot be read.
    pub async fn read_stream(&self, stream_id: &str) -> Result<Vec<StoredEvent>, sqlx::Error> {
        sqlx::query_as!(
            StoredEvent,
            "SELECT position, stream_id, stream_version, event_id, event_type, type_version, data,
                    metadata, recorded_at, commit_position
               FROM event_store.events WHERE stream_id = $1 ORDER BY stream_version",
            stream_id,
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Up to `limit` events after `position`, in position order.
    pub async fn read_after(
        executor: impl PgExecutor<'_>,
        position: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        sqlx::query_as!(
            StoredEvent,
            "SELECT position, stream_id, stream_version, event_id, event_type, type_version, data,
                    metadata, recorded_at, commit_position
               FROM event_store.events WHERE position > $1 ORDER BY position LIMIT $2",
            position,
            limit,
        )
        .fetch_all(executor)
        .await
    }

    /// The position at which the event `stream_version` of `stream_id` was stored, if it is
    /// the event `event_id`: tells whether an append whose outcome was lost did commit.
    pub async fn position_of(
        &self,
        stream_id: &str,
        stream_version: i64,
        event_id: Uuid,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar!(
            "SELECT position FROM event_store.events WHERE stream_id = $1 AND stream_version = $2 AND event_id = $3",
            stream_id,
            stream_version,
            event_id,
        )
        .fetch_optional(&self.pool)
        .await
    }

    /// The current version of each named stream that exists.
    pub async fn stream_versions(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query!(
            "SELECT stream_id, version FROM event_store.streams WHERE stream_id = ANY($1)",
            stream_ids,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.stream_id, r.version)).collect())
    }

    /// The position of the last committed event.
    pub async fn head(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar!("SELECT position FROM event_store.head")
            .fetch_one(&self.pool)
            .await
    }

    pub async fn idempotency_records(
        &self,
        keys: &[String],
    ) -> Result<Vec<StoredIdempotency>, sqlx::Error> {
        sqlx::query_as!(
            StoredIdempotency,
            "SELECT key, request_hash, status, body, position FROM event_store.idempotency_keys WHERE key = ANY($1)",
            keys,
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Forgets idempotency outcomes older than `max_age`.
    pub async fn purge_idempotency(
        &self,
        max_age: std::time::Duration,
    ) -> Result<u64, sqlx::Error> {
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        let done = sqlx::query!(
            "DELETE FROM event_store.idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
            seconds as f64,
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
