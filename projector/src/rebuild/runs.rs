//! Each rebuild as operators see it (`ops.rebuilds`): started from the admin API or the
//! command line, one at a time, its progress written while it runs, and how it ended. A
//! rebuild whose projector died stops writing its heartbeat, and the next start counts it
//! as failed rather than waiting for it for ever.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use super::{Progress, RebuildError, RebuildReport, rebuild_reporting};

/// How often a running rebuild writes its progress.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// Events applied per transaction by a rebuild started from the API (the command's default).
pub const BATCH: i64 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Done,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Status {
        match text {
            "done" => Status::Done,
            "failed" => Status::Failed,
            _ => Status::Running,
        }
    }
}

/// A rebuild, as last written.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: Uuid,
    pub status: Status,
    pub requested_by: String,
    pub events_done: i64,
    pub events_total: i64,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl Run {
    /// Events applied a second, on average since it started.
    pub fn events_per_second(&self) -> f64 {
        let until = self.finished_at.unwrap_or(self.heartbeat_at);
        let seconds = (until - self.started_at).num_milliseconds() as f64 / 1000.0;
        if seconds <= 0.0 {
            0.0
        } else {
            self.events_done as f64 / seconds
        }
    }

    /// Seconds left at the average rate; none until there is a rate, or once it ended.
    pub fn eta_seconds(&self) -> Option<f64> {
        let rate = self.events_per_second();
        (self.status == Status::Running && rate > 0.0)
            .then(|| (self.events_total - self.events_done).max(0) as f64 / rate)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("rebuild {0} is running; one at a time")]
    Running(Uuid),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Records a new rebuild as running, unless one runs already.
pub async fn start(pool: &PgPool, requested_by: &str) -> Result<Uuid, StartError> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "UPDATE ops.rebuilds
            SET status = 'failed', finished_at = heartbeat_at,
                error = 'its projector stopped before the rebuild ended'
          WHERE status = 'running' AND heartbeat_at < now() - interval '30 seconds'"
    )
    .execute(&mut *tx)
    .await?;
    let id = Uuid::now_v7();
    let inserted = sqlx::query!(
        "INSERT INTO ops.rebuilds (id, status, requested_by, events_total)
         SELECT $1, 'running', $2, position FROM event_store.head
         ON CONFLICT DO NOTHING",
        id,
        requested_by,
    )
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        let running = sqlx::query_scalar!("SELECT id FROM ops.rebuilds WHERE status = 'running'")
            .fetch_optional(&mut *tx)
            .await?;
        return Err(StartError::Running(running.unwrap_or_default()));
    }
    tx.commit().await?;
    Ok(id)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Run>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        "SELECT id, status, requested_by, events_done, events_total, started_at, heartbeat_at,
                finished_at, error
           FROM ops.rebuilds WHERE id = $1",
        id,
    )
    .fetch_optional(pool)
    .await
    .map(|row| row.map(Run::from))
}

/// The rebuild started last, if any.
pub async fn latest(db: impl sqlx::PgExecutor<'_>) -> Result<Option<Run>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        "SELECT id, status, requested_by, events_done, events_total, started_at, heartbeat_at,
                finished_at, error
           FROM ops.rebuilds ORDER BY started_at DESC LIMIT 1"
    )
    .fetch_optional(db)
    .await
    .map(|row| row.map(Run::from))
}

/// Runs the rebuild recorded as `id` to its end, writing its progress meanwhile, on two
/// connections of its own (the live projection keeps its pool).
pub async fn run(pool: &PgPool, id: Uuid, batch: i64) -> Result<RebuildReport, RebuildError> {
    let own = PgPoolOptions::new()
        .max_connections(2)
        .connect_with((*pool.connect_options()).clone())
        .await;
    let progress = Progress::default();
    let result = match &own {
        Ok(own) => {
            follow(
                pool,
                id,
                &progress,
                rebuild_reporting(own, batch, &progress),
            )
            .await
        }
        Err(error) => Err(RebuildError::Reader(format!("cannot connect: {error}"))),
    };
    let progress_written = finish(pool, id, &result).await;
    if let Err(error) = progress_written {
        tracing::error!(%error, %id, "cannot record how the rebuild ended");
    }
    if let Ok(own) = own {
        own.close().await;
    }
    result
}

/// Drives `work` while writing its progress every [`HEARTBEAT`] (the write is brief: the
/// rebuild waits for it rather than racing it).
async fn follow(
    pool: &PgPool,
    id: Uuid,
    progress: &Progress,
    work: impl Future<Output = Result<RebuildReport, RebuildError>>,
) -> Result<RebuildReport, RebuildError> {
    let mut work = std::pin::pin!(work);
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            result = &mut work => return result,
            _ = tick.tick() => {
                let written = sqlx::query!(
                    "UPDATE ops.rebuilds
                        SET events_done = $2, events_total = greatest(events_total, $3),
                            heartbeat_at = now()
                      WHERE id = $1",
                    id,
                    progress.done(),
                    progress.total(),
                )
                .execute(pool)
                .await;
                if let Err(error) = written {
                    tracing::warn!(%error, %id, "cannot record the rebuild's progress");
                }
            }
        }
    }
}

async fn finish(
    pool: &PgPool,
    id: Uuid,
    result: &Result<RebuildReport, RebuildError>,
) -> Result<(), sqlx::Error> {
    let (status, done, error) = match result {
        Ok(report) => (Status::Done, Some(report.position), None),
        Err(error) => (Status::Failed, None, Some(error.to_string())),
    };
    sqlx::query!(
        "UPDATE ops.rebuilds
            SET status = $2, events_done = coalesce($3, events_done),
                events_total = coalesce($3, events_total), error = $4,
                finished_at = now(), heartbeat_at = now()
          WHERE id = $1",
        id,
        status.as_str(),
        done,
        error,
    )
    .execute(pool)
    .await?;
    Ok(())
}

struct Row {
    id: Uuid,
    status: String,
    requested_by: String,
    events_done: i64,
    events_total: i64,
    started_at: DateTime<Utc>,
    heartbeat_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    error: Option<String>,
}

impl From<Row> for Run {
    fn from(row: Row) -> Run {
        Run {
            id: row.id,
            status: Status::parse(&row.status),
            requested_by: row.requested_by,
            events_done: row.events_done,
            events_total: row.events_total,
            started_at: row.started_at,
            heartbeat_at: row.heartbeat_at,
            finished_at: row.finished_at,
            error: row.error,
        }
    }
}
