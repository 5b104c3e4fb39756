//! What operators decide about the live projection (`ops.projector`): it runs, an operator
//! paused it, or an event it could not apply stopped it. The transitions the admin API asks
//! for, the consumer's own stop, and a watch of the state that the consumer follows: every
//! projector sharing the store reads the same row, so a pause reaches whichever consumes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often each projector reads the state, for the changes made through another one.
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    /// By an operator: nothing is applied; messages wait in the queue.
    Paused,
    /// By an event that could not be applied: waits for an operator's retry or skip.
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    fn parse(text: &str) -> Status {
        match text {
            "paused" => Status::Paused,
            "stopped" => Status::Stopped,
            _ => Status::Running,
        }
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub status: Status,
    pub error: Option<String>,
    pub failing_position: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

/// Why a transition was refused: the projection is not in a state it applies to.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the projection has stopped at an event it cannot apply: retry it, or skip that event")]
    Stopped,
    #[error("the projection is {}, not stopped: there is nothing to retry or skip", .0.as_str())]
    NotStopped(Status),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub async fn read(db: impl sqlx::PgExecutor<'_>) -> Result<State, sqlx::Error> {
    let row = sqlx::query!("SELECT status, error, failing_position, updated_at FROM ops.projector")
        .fetch_one(db)
        .await?;
    Ok(State {
        status: Status::parse(&row.status),
        error: row.error,
        failing_position: row.failing_position,
        updated_at: row.updated_at,
    })
}

/// Running or paused becomes paused. It waits for the batch in hand (which holds the row in
/// share mode) to commit: once it returns, nothing more is applied.
pub async fn pause(pool: &PgPool) -> Result<(), ControlError> {
    set_unless_stopped(pool, Status::Paused).await
}

/// Paused or running becomes running.
pub async fn resume(pool: &PgPool) -> Result<(), ControlError> {
    set_unless_stopped(pool, Status::Running).await
}

/// An operator's pause or resume: refused while an event has the projection stopped.
async fn set_unless_stopped(pool: &PgPool, status: Status) -> Result<(), ControlError> {
    let set = sqlx::query!(
        "UPDATE ops.projector SET status = $1, updated_at = now()
          WHERE status IN ('running', 'paused')",
        status.as_str(),
    )
    .execute(pool)
    .await?;
    if set.rows_affected() == 0 {
        return Err(ControlError::Stopped);
    }
    Ok(())
}

/// Stopped becomes running: the projector tries the events it could not apply again.
pub async fn retry(pool: &PgPool) -> Result<(), ControlError> {
    let retried = sqlx::query!(
        "UPDATE ops.projector
            SET status = 'running', error = NULL, failing_position = NULL, updated_at = now()
          WHERE status = 'stopped'"
    )
    .execute(pool)
    .await?;
    if retried.rows_affected() == 0 {
        return Err(ControlError::NotStopped(read(pool).await?.status));
    }
    Ok(())
}

/// The consumer's own stop, after its attempts at a batch failed: running becomes stopped,
/// with why and where. (A pause that came meanwhile stands: the operator's word first.)
/// The read models' own row says so too, for the query service's readiness.
pub async fn stop(
    pool: &PgPool,
    error: &str,
    failing_position: Option<i64>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "UPDATE ops.projector
            SET status = 'stopped', error = $1, failing_position = $2, updated_at = now()
          WHERE status = 'running'",
        error,
        failing_position,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE read.projections SET status = 'stopped', last_error = $1, updated_at = now()",
        error,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The projection's status as this projector last read it, kept fresh by [`Control::follow`]
/// and by the admin API's own transitions.
#[derive(Debug, Clone)]
pub struct Control {
    status: watch::Sender<Status>,
}

impl Default for Control {
    fn default() -> Control {
        Control {
            status: watch::Sender::new(Status::Running),
        }
    }
}

impl Control {
    pub fn status(&self) -> Status {
        *self.status.borrow()
    }

    pub fn set(&self, status: Status) {
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
    }

    /// Reads the state until `stop`: changes made through another projector (or by hand)
    /// reach this one within [`POLL`].
    pub async fn follow(self, pool: PgPool, stop: CancellationToken) {
        loop {
            match read(&pool).await {
                Ok(state) => self.set(state.status),
                Err(error) => tracing::debug!(%error, "cannot read the projection's state"),
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    /// Waits until the projection may run; false if `stop` came first.
    pub async fn running(&self, stop: &CancellationToken) -> bool {
        let mut status = self.status.subscribe();
        tokio::select! {
            ran = status.wait_for(|s| *s == Status::Running) => ran.is_ok(),
            () = stop.cancelled() => false,
        }
    }

    /// Resolves once the projection is paused or stopped.
    pub async fn halted(&self) {
        let mut status = self.status.subscribe();
        let _ = status.wait_for(|s| *s != Status::Running).await;
    }
}

/// Where each projection stands against the store.
#[derive(Debug, Clone)]
pub struct Standing {
    pub head: i64,
    pub projections: Vec<Projection>,
}

#[derive(Debug, Clone)]
pub struct Projection {
    pub name: String,
    pub position: i64,
    /// When the oldest event it has not applied was recorded.
    pub oldest_unapplied: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn standing(pool: &PgPool) -> Result<Standing, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT p.name, p.position, p.updated_at, h.position AS head,
                  (SELECT recorded_at FROM event_store.events e WHERE e.position = p.position + 1)
                      AS "oldest_unapplied?"
             FROM read.projections p, event_store.head h
            ORDER BY p.name"#
    )
    .fetch_all(pool)
    .await?;
    let head = match rows.first() {
        Some(row) => row.head,
        None => {
            stockflow_event_store::EventStore::new(pool.clone())
                .head()
                .await?
        }
    };
    Ok(Standing {
        head,
        projections: rows
            .into_iter()
            .map(|row| Projection {
                name: row.name,
                position: row.position,
                oldest_unapplied: row.oldest_unapplied,
                updated_at: row.updated_at,
            })
            .collect(),
    })
}
