//! Replaying and discarding a dead letter, the two ways one leaves the store. A replay reads
//! the message again and applies it through the projector's own transaction, under the
//! checkpoint's rules; one that fails again stays, with its new reason and one attempt more.

use sqlx::PgPool;
use stockflow_events::Envelope;

use super::{ReasonKind, Rejection, store};
use crate::batch::{self, Batch};
use crate::health::Health;
use crate::model::ApplyError;
use crate::store_reader;
use crate::transient::is_transient;

/// How a replay ended, as the operator is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied to the read models; the dead letter is gone.
    Applied,
    /// The read models include its position already; the dead letter is gone.
    SkippedDuplicate(String),
    /// It failed again, for this reason; the dead letter stays, one attempt more.
    DeadLettered(String),
}

/// Why a replay could not be carried out (it may be tried again).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no dead letter {0}")]
    NotFound(i64),
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
}

impl From<sqlx::Error> for ReplayError {
    fn from(error: sqlx::Error) -> ReplayError {
        ReplayError::Unavailable(error)
    }
}

/// Replays the dead letter `id`.
pub async fn replay(pool: &PgPool, id: i64, health: &Health) -> Result<Outcome, ReplayError> {
    let letter = store::get(pool, id)
        .await?
        .ok_or(ReplayError::NotFound(id))?;
    let envelope = match super::decode(&letter.body) {
        Ok(envelope) => envelope,
        Err(rejection) => return failed_again(pool, id, rejection).await,
    };
    let refused = |text: String| Rejection {
        kind: ReasonKind::Unapplied,
        text,
        event_id: Some(envelope.id),
        position: Some(envelope.position),
    };
    let outcome = match apply_replayed(pool, &envelope, health).await {
        Ok(Replayed::Applied) => Outcome::Applied,
        Ok(Replayed::Duplicate { checkpoint }) => Outcome::SkippedDuplicate(format!(
            "the read models include position {} already (checkpoint {checkpoint})",
            envelope.position
        )),
        Ok(Replayed::Refused(text)) => return failed_again(pool, id, refused(text)).await,
        Err(ApplyError::Database(error)) if is_transient(&error) => {
            return Err(ReplayError::Unavailable(error));
        }
        Err(error) => return failed_again(pool, id, refused(error.to_string())).await,
    };
    store::remove(pool, id).await?;
    store::refresh_gauge(pool).await;
    Ok(outcome)
}

async fn failed_again(
    pool: &PgPool,
    id: i64,
    rejection: Rejection,
) -> Result<Outcome, ReplayError> {
    store::failed_again(pool, id, &rejection).await?;
    Ok(Outcome::DeadLettered(rejection.text))
}

/// Discards the dead letter `id`: it leaves the store unapplied.
pub async fn discard(pool: &PgPool, id: i64) -> Result<(), ReplayError> {
    if !store::remove(pool, id).await? {
        return Err(ReplayError::NotFound(id));
    }
    store::refresh_gauge(pool).await;
    Ok(())
}

/// What a replayed event came to (see [`apply_replayed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// Applied now; the checkpoint is its position.
    Applied,
    /// The read models include its position already.
    Duplicate { checkpoint: i64 },
    /// Not applied, for this reason: the read models have not reached the event before it,
    /// or the store has another event (or none) at its position.
    Refused(String),
}

/// Applies one event an operator replays, through the same transaction as a live batch,
/// under one more rule: it is never applied out of order. At or below the checkpoint it is a
/// duplicate; right after it, it is applied if it is the store's event at that position;
/// further ahead it is refused, since the live path would take the events between from the
/// store and this one with them: the projector applies it in order when it gets there.
pub async fn apply_replayed(
    pool: &PgPool,
    envelope: &Envelope,
    health: &Health,
) -> Result<Replayed, ApplyError> {
    let checkpoint = store_reader::checkpoint(pool).await?;
    if envelope.position <= checkpoint {
        return Ok(Replayed::Duplicate { checkpoint });
    }
    if envelope.position > checkpoint + 1 {
        return Ok(Replayed::Refused(format!(
            "position {} is ahead of the checkpoint ({checkpoint}): it cannot be applied out of \
             order; the projector applies the store's events in order, replay it once the \
             checkpoint has reached {}",
            envelope.position,
            envelope.position - 1
        )));
    }
    let stored = sqlx::query_scalar!(
        "SELECT event_id FROM event_store.events WHERE position = $1",
        envelope.position,
    )
    .fetch_optional(pool)
    .await?;
    match stored {
        Some(id) if id == envelope.id => {}
        Some(id) => {
            return Ok(Replayed::Refused(format!(
                "the store's event at position {} is {id}, not {}",
                envelope.position, envelope.id
            )));
        }
        None => {
            return Ok(Replayed::Refused(format!(
                "the store has no event at position {}",
                envelope.position
            )));
        }
    }
    // The checkpoint only advances: by now the event is next, or a duplicate.
    let (before, after) = match batch::apply_batch(pool, std::slice::from_ref(envelope)).await? {
        Batch::Applied { before, after } => (before, after),
        Batch::Halted => {
            return Ok(Replayed::Refused(
                "the projection is paused or stopped: nothing is applied until it runs".into(),
            ));
        }
    };
    health.set_position(after);
    if after >= envelope.position && before < envelope.position {
        Ok(Replayed::Applied)
    } else {
        Ok(Replayed::Duplicate { checkpoint: after })
    }
}
