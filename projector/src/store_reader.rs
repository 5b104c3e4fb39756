//! Reading the event store, the truth the read models are made from.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use stockflow_events::{Envelope, Event, Metadata};
use uuid::Uuid;

use crate::model::ApplyError;

/// The position the live read models have reached.
pub async fn checkpoint(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT min(position) AS "position!" FROM read.projections"#)
        .fetch_one(pool)
        .await
}

/// [`checkpoint`], in a transaction of the caller's.
pub async fn checkpoint_in(db: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT min(position) AS "position!" FROM read.projections"#)
        .fetch_one(db)
        .await
}

/// A stored event with its payload and metadata as JSON text: decoded straight into their
/// types, never through `serde_json::Value` (a rebuild reads millions).
struct Row {
    position: i64,
    stream_id: String,
    stream_version: i64,
    event_id: Uuid,
    event_type: String,
    type_version: i32,
    data: String,
    metadata: String,
    recorded_at: DateTime<Utc>,
}

fn envelope(row: Row) -> Result<Envelope, ApplyError> {
    let version = u32::try_from(row.type_version).unwrap_or(0);
    let event = Event::decode_str(&row.event_type, version, &row.data).map_err(|e| {
        ApplyError::Undecodable {
            position: row.position,
            reason: e.to_string(),
        }
    })?;
    Ok(Envelope {
        id: row.event_id,
        stream_id: row.stream_id,
        stream_version: row.stream_version,
        position: row.position,
        recorded_at: row.recorded_at,
        metadata: serde_json::from_str::<Metadata>(&row.metadata).unwrap_or_default(),
        event,
    })
}

/// The events after `after` up to and including `up_to`.
pub async fn read_range(
    db: &mut PgConnection,
    after: i64,
    up_to: i64,
) -> Result<Vec<Envelope>, ApplyError> {
    sqlx::query_as!(
        Row,
        r#"SELECT position, stream_id, stream_version, event_id, event_type, type_version,
                  data::text AS "data!", metadata::text AS "metadata!", recorded_at
             FROM event_store.events WHERE position > $1 AND position <= $2 ORDER BY position"#,
        after,
        up_to,
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(envelope)
    .collect()
}

/// The positions after `after` of the events an operator skipped, which no read model applies.
pub async fn skipped(db: &mut PgConnection, after: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT position FROM ops.skipped_events WHERE position > $1 ORDER BY position",
        after,
    )
    .fetch_all(db)
    .await
}
