//! The dead letters in PostgreSQL (`ops.dead_letters`): recorded once however often a
//! message is delivered, listed oldest first a page at a time, read whole, marked as failed
//! again, and removed only by a successful replay or a discard.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::{PREVIEW_BYTES, Rejection};

/// A message about to be recorded.
#[derive(Debug, Clone)]
pub struct NewDeadLetter {
    pub rejection: Rejection,
    pub routing_key: String,
    pub headers: Value,
    pub properties: Value,
    pub body: Vec<u8>,
    pub dedupe_key: String,
}

/// A dead letter as a listing shows it: its body cut to a preview.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: i64,
    pub reason_kind: String,
    pub reason: String,
    pub routing_key: String,
    pub received_at: DateTime<Utc>,
    pub attempts: i32,
    /// The first [`PREVIEW_BYTES`] bytes of the body.
    pub body_start: Vec<u8>,
}

/// A dead letter, whole.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: i64,
    pub reason_kind: String,
    pub reason: String,
    pub routing_key: String,
    pub received_at: DateTime<Utc>,
    pub attempts: i32,
    pub headers: Value,
    pub properties: Value,
    pub body: Vec<u8>,
    pub event_id: Option<Uuid>,
    pub position: Option<i64>,
}

/// Some dead letters, oldest first; the id the next page starts after (none after the
/// last); how many there are in all.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Summary>,
    pub next: Option<i64>,
    pub total: i64,
}

/// Records `letter`, unless the same message is recorded already. `Ok(true)`: a new row.
pub async fn insert(db: impl PgExecutor<'_>, letter: &NewDeadLetter) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO ops.dead_letters
             (reason_kind, reason, routing_key, headers, properties, body, event_id, position,
              dedupe_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (dedupe_key) DO NOTHING",
        letter.rejection.kind.as_str(),
        letter.rejection.text,
        letter.routing_key,
        letter.headers,
        letter.properties,
        letter.body,
        letter.rejection.event_id,
        letter.rejection.position,
        letter.dedupe_key,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// At most `limit` dead letters (at least 1), oldest first, after the id `after` when given.
pub async fn page(db: &PgPool, limit: i64, after: Option<i64>) -> Result<Page, sqlx::Error> {
    let limit = limit.max(1);
    // One row more than asked says whether another page follows.
    let mut items = sqlx::query_as!(
        Summary,
        r#"SELECT id, reason_kind, reason, routing_key, received_at, attempts,
                  substring(body FROM 1 FOR $3) AS "body_start!"
             FROM ops.dead_letters
            WHERE id > $1
            ORDER BY id
            LIMIT $2"#,
        after.unwrap_or(0),
        limit + 1,
        PREVIEW_BYTES,
    )
    .fetch_all(db)
    .await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next = more.then(|| items.last().map(|last| last.id)).flatten();
    Ok(Page {
        items,
        next,
        total: count(db).await?,
    })
}

/// The dead letter `id`, if there is one.
pub async fn get(db: &PgPool, id: i64) -> Result<Option<DeadLetter>, sqlx::Error> {
    sqlx::query_as!(
        DeadLetter,
        "SELECT id, reason_kind, reason, routing_key, received_at, attempts, headers, properties,
                body, event_id, position
           FROM ops.dead_letters WHERE id = $1",
        id,
    )
    .fetch_optional(db)
    .await
}

/// Removes the dead letter `id`. `Ok(false)`: there was none.
pub async fn remove(db: impl PgExecutor<'_>, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM ops.dead_letters WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that another attempt at `id` failed, for `rejection`: the new reason, one
/// attempt more.
pub async fn failed_again(db: &PgPool, id: i64, rejection: &Rejection) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE ops.dead_letters
            SET reason_kind = $2, reason = $3, attempts = attempts + 1,
                event_id = coalesce($4, event_id), position = coalesce($5, position)
          WHERE id = $1",
        id,
        rejection.kind.as_str(),
        super::storable(&rejection.text),
        rejection.event_id,
        rejection.position,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// How many dead letters there are.
pub async fn count(db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM ops.dead_letters"#)
        .fetch_one(db)
        .await
}

/// Sets the gauge of dead letters in the store to their count; a failure to count leaves it
/// as it was (the next change counts again).
pub async fn refresh_gauge(db: &PgPool) {
    match count(db).await {
        Ok(n) => metrics::gauge!(crate::metrics::DEAD_LETTERS_STORED).set(n as f64),
        Err(error) => tracing::warn!(%error, "cannot count the dead letters"),
    }
}
