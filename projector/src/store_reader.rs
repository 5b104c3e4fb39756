//! Reading the event store, the truth the read models are made from.

use sqlx::{PgConnection, PgPool};
use stockflow_events::{Envelope, Event, Metadata};
use stockflow_store::{EventStore, StoredEvent};

use crate::model::ApplyError;

/// The position the read models in `schema` have reached.
pub async fn checkpoint(pool: &PgPool, schema: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT min(position) FROM {schema}.projections"
    )))
    .fetch_one(pool)
    .await
}

fn envelope(stored: StoredEvent) -> Result<Envelope, ApplyError> {
    let version = u32::try_from(stored.type_version).unwrap_or(0);
    let event = Event::decode(&stored.event_type, version, stored.data).map_err(|e| {
        ApplyError::Undecodable {
            position: stored.position,
            reason: e.to_string(),
        }
    })?;
    Ok(Envelope {
        id: stored.event_id,
        stream_id: stored.stream_id,
        stream_version: stored.stream_version,
        position: stored.position,
        recorded_at: stored.recorded_at,
        metadata: serde_json::from_value::<Metadata>(stored.metadata).unwrap_or_default(),
        event,
    })
}

/// The events after `after` up to and including `up_to`.
pub async fn read_range(
    db: &mut PgConnection,
    after: i64,
    up_to: i64,
) -> Result<Vec<Envelope>, ApplyError> {
    EventStore::read_after(&mut *db, after, up_to - after)
        .await?
        .into_iter()
        .map(envelope)
        .collect()
}
