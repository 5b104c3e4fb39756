//! Getting a stopped projection going again: which event stopped it, and an operator's
//! decision to skip that one event. A skip is the only way an event is ever left out of the
//! read models; it is recorded three times over: in `ops.skipped_events` (which the live
//! projection and every rebuild honour), as a dead letter with reason `skipped` (the event as
//! it was published, for an operator to read), and in the audit log (by the caller).

use sqlx::{Connection, PgPool};
use stockflow_event_store::EventStore;

use crate::control::{self, Status};
use crate::dead_letters::store::{self as dead_letter_store, NewDeadLetter};
use crate::dead_letters::{ReasonKind, Rejection};
use crate::model::{self, ApplyError, Schema};
use crate::store_reader;

/// Events tried one at a time to find the one that fails.
const PROBE: i64 = 5_000;

/// The position of the first event after the checkpoint that cannot be applied: named by
/// the error, or found by applying the events one at a time in a transaction that is rolled
/// back. None if it cannot be told (the database failed meanwhile).
pub async fn failing_position(pool: &PgPool, error: &ApplyError) -> Option<i64> {
    match error {
        ApplyError::Missing { position, .. } | ApplyError::Undecodable { position, .. } => {
            Some(*position)
        }
        ApplyError::Database(_) => probe(pool).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot tell which event stopped the projection");
            None
        }),
    }
}

async fn probe(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    let mut db = pool.acquire().await?;
    let mut tx = db.begin().await?;
    sqlx::query!(
        "SELECT set_config('search_path', $1, true)",
        Schema::Live.name()
    )
    .fetch_one(&mut *tx)
    .await?;
    let checkpoint = store_reader::checkpoint_in(&mut tx).await?;
    let skipped = store_reader::skipped(&mut tx, checkpoint).await?;
    let events = match store_reader::read_range(&mut tx, checkpoint, checkpoint + PROBE).await {
        Ok(events) => events,
        Err(ApplyError::Undecodable { position, .. }) => return Ok(Some(position)),
        Err(ApplyError::Database(error)) => return Err(error),
        Err(ApplyError::Missing { position, .. }) => return Ok(Some(position)),
    };
    for event in events.iter().filter(|e| !skipped.contains(&e.position)) {
        let one = std::slice::from_ref(event);
        if model::apply_through(&mut tx, one, event.position, false)
            .await
            .is_err()
        {
            return Ok(Some(event.position));
        }
    }
    // Dropped without a commit: rolled back.
    Ok(None)
}

#[derive(Debug, thiserror::Error)]
pub enum SkipError {
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error(
        "the projection stopped at position {failing}, not {asked}: only that event can be skipped"
    )]
    NotTheFailingEvent { asked: i64, failing: i64 },
    #[error("the read models include position {position} already (checkpoint {checkpoint})")]
    AlreadyApplied { position: i64, checkpoint: i64 },
    #[error("the store has no event at position {0}")]
    NoSuchEvent(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a skip did.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub position: i64,
    pub dead_letter_id: Option<i64>,
}

/// Skips the event at `position`, which must be the one the projection stopped at, and lets
/// the projection run again: the events around it are applied, it is not. In one
/// transaction, holding the projection's row: two operators cannot both skip or retry.
pub async fn skip(
    pool: &PgPool,
    position: i64,
    subject: &str,
    reason: &str,
) -> Result<Skipped, SkipError> {
    let mut tx = pool.begin().await?;
    let state = sqlx::query!("SELECT status, failing_position FROM ops.projector FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    if state.status != Status::Stopped.as_str() {
        let status = control::read(&mut *tx).await?.status;
        return Err(control::ControlError::NotStopped(status).into());
    }
    match state.failing_position {
        Some(failing) if failing != position => {
            return Err(SkipError::NotTheFailingEvent {
                asked: position,
                failing,
            });
        }
        _ => {}
    }
    let checkpoint = store_reader::checkpoint_in(&mut tx).await?;
    if position <= checkpoint {
        return Err(SkipError::AlreadyApplied {
            position,
            checkpoint,
        });
    }
    let event = EventStore::read_after(&mut *tx, position - 1, 1)
        .await?
        .into_iter()
        .find(|e| e.position == position)
        .ok_or(SkipError::NoSuchEvent(position))?;
    sqlx::query!(
        "INSERT INTO ops.skipped_events (position, subject, reason) VALUES ($1, $2, $3)
         ON CONFLICT (position) DO NOTHING",
        position,
        subject,
        reason,
    )
    .execute(&mut *tx)
    .await?;
    let letter = NewDeadLetter {
        rejection: Rejection {
            kind: ReasonKind::Skipped,
            text: format!("skipped by {subject}: {reason}"),
            event_id: Some(event.event_id),
            position: Some(position),
        },
        routing_key: event.event_type.clone(),
        headers: serde_json::json!({}),
        properties: serde_json::json!({
            "content_type": "application/json",
            "message_id": event.event_id.to_string(),
        }),
        body: event.published_body(),
        dedupe_key: format!("skipped:{position}"),
    };
    dead_letter_store::insert(&mut *tx, &letter).await?;
    let dead_letter_id = sqlx::query_scalar!(
        "SELECT id FROM ops.dead_letters WHERE dedupe_key = $1",
        letter.dedupe_key,
    )
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE ops.projector
            SET status = 'running', error = NULL, failing_position = NULL, updated_at = now()"
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    dead_letter_store::refresh_gauge(pool).await;
    Ok(Skipped {
        position,
        dead_letter_id,
    })
}
