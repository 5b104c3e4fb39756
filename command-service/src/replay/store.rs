//! The replays' rows in `event_store.replays`, the events a replay reads, and the advisory
//! lock that tells a running replay from one whose service is gone: a replay holds it on its
//! own connection for as long as it runs.

use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use super::filter::Range;

/// A replay as recorded.
#[derive(Debug, Clone)]
pub struct Replay {
    pub replay_id: Uuid,
    pub queue: String,
    pub after: i64,
    pub to: i64,
    /// The `types` asked for, or `None` for every event.
    pub types: Option<Vec<String>>,
    pub status: String,
    pub published: i64,
    pub last_position: i64,
    pub error: Option<String>,
}

/// What a new replay records before it starts.
pub struct NewReplay<'a> {
    pub replay_id: Uuid,
    pub queue: &'a str,
    pub range: Range,
    pub types: Option<&'a [String]>,
}

/// Takes the lock of the new replay `replay_id` on this connection; it is held until let go
/// or until the connection closes.
pub async fn lock(db: &mut PgConnection, replay_id: Uuid) -> Result<(), sqlx::Error> {
    // Nobody else knows the id yet, so nobody else holds its lock.
    let _taken = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_lock(hashtext('stockflow.replay'), hashtext($1::text)) AS "taken!""#,
        replay_id.to_string(),
    )
    .fetch_one(db)
    .await?;
    Ok(())
}

pub async fn unlock(db: &mut PgConnection, replay_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT pg_advisory_unlock(hashtext('stockflow.replay'), hashtext($1::text)) AS "held!""#,
        replay_id.to_string(),
    )
    .fetch_one(db)
    .await?;
    Ok(())
}

pub async fn insert(db: &mut PgConnection, replay: &NewReplay<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO event_store.replays (replay_id, queue, after, "to", types, last_position)
           VALUES ($1, $2, $3, $4, $5, $3)"#,
        replay.replay_id,
        replay.queue,
        replay.range.after,
        replay.range.to,
        replay.types,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records how far a replay got: everything up to `last_position` was examined, and
/// `published` messages confirmed. Whether it is still running: false once an operator
/// cancelled it (its progress is recorded all the same, for a replay that resumes it).
pub async fn progress(
    db: &mut PgConnection,
    replay_id: Uuid,
    published: i64,
    last_position: i64,
) -> Result<bool, sqlx::Error> {
    let status = sqlx::query_scalar!(
        "UPDATE event_store.replays SET published = $2, last_position = $3, updated_at = now()
          WHERE replay_id = $1 RETURNING status",
        replay_id,
        published,
        last_position,
    )
    .fetch_optional(db)
    .await?;
    Ok(status.as_deref() == Some("running"))
}

/// Marks a running replay failed with `error`, whichever service runs it: that one sees it
/// at its next progress write, within a second, and stops. False if it was not running.
pub async fn cancel(pool: &PgPool, replay_id: Uuid, error: &str) -> Result<bool, sqlx::Error> {
    let cancelled = sqlx::query!(
        "UPDATE event_store.replays SET status = 'failed', error = $2, updated_at = now()
          WHERE replay_id = $1 AND status = 'running'",
        replay_id,
        error,
    )
    .execute(pool)
    .await?;
    Ok(cancelled.rows_affected() == 1)
}

pub async fn done(db: &mut PgConnection, replay_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE event_store.replays SET status = 'done', updated_at = now()
          WHERE replay_id = $1 AND status = 'running'",
        replay_id,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a running replay failed, keeping its progress.
pub async fn fail(
    db: impl PgExecutor<'_>,
    replay_id: Uuid,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE event_store.replays SET status = 'failed', error = $2, updated_at = now()
          WHERE replay_id = $1 AND status = 'running'",
        replay_id,
        error,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get(pool: &PgPool, replay_id: Uuid) -> Result<Option<Replay>, sqlx::Error> {
    sqlx::query_as!(
        Replay,
        r#"SELECT replay_id, queue, after, "to", types, status, published, last_position, error
             FROM event_store.replays WHERE replay_id = $1"#,
        replay_id,
    )
    .fetch_optional(pool)
    .await
}

/// Marks failed, with `error`, every replay recorded as running whose lock nobody holds:
/// its service stopped before it ended. Returns how many.
pub async fn fail_abandoned(pool: &PgPool, error: &str) -> Result<u64, sqlx::Error> {
    let running =
        sqlx::query_scalar!("SELECT replay_id FROM event_store.replays WHERE status = 'running'")
            .fetch_all(pool)
            .await?;
    let mut failed = 0;
    for replay_id in running {
        // The transaction-level lock is let go as the statement ends; a replay that holds
        // its lock is running somewhere and is left alone.
        failed += sqlx::query!(
            "UPDATE event_store.replays SET status = 'failed', error = $2, updated_at = now()
              WHERE replay_id = $1 AND status = 'running'
                AND pg_try_advisory_xact_lock(hashtext('stockflow.replay'), hashtext(replay_id::text))",
            replay_id,
            error,
        )
        .execute(pool)
        .await?
        .rows_affected();
    }
    Ok(failed)
}
