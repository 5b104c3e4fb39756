//! Rebuild (guarantee 6 of docs/guarantees.md): replays the whole store into fresh tables
//! beside the live ones, then, holding the lock live batches share, catches up to the head and
//! swaps the fresh schema in, in one transaction. Queries go on throughout: they read the old
//! tables until the swap commits and the new ones after. The events operators skipped are
//! left out, as the live projection leaves them out. `runs` records each rebuild, from the
//! API or the command line, and keeps them one at a time.

pub mod runs;

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{Connection, PgPool};
use stockflow_events::Envelope;

use crate::batch::SWAP_LOCK;
use crate::model::{self, ApplyError, Schema};
use crate::store_reader;

/// The read-model tables, all rebuilt together.
pub const TABLES: &[&str] = &[
    "products",
    "orders",
    "order_lines",
    "customers",
    "customer_lifetime_values",
    "daily_sales",
    "daily_sku_sales",
    "replenishments",
    "stock_movements",
    "product_prices",
    "projections",
];

/// The tables only ever appended to: no upsert needs their keys, so a rebuild fills them
/// without and builds the keys with the other indexes, afterwards (much quicker than keeping
/// a key up row by row).
const APPEND_ONLY: &[&str] = &["stock_movements", "product_prices"];

/// The fresh tables' schema.
const NEXT: &str = Schema::Rebuild.name();

#[derive(Debug, Serialize)]
pub struct RebuildReport {
    pub events: i64,
    pub position: i64,
    pub seconds: f64,
    pub events_per_second: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("the store reader failed: {0}")]
    Reader(String),
}

/// How far a rebuild has come, read by whoever reports it while it runs.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicI64,
    total: AtomicI64,
}

impl Progress {
    /// The events applied so far.
    pub fn done(&self) -> i64 {
        self.done.load(Ordering::Relaxed)
    }

    /// The store's head when the rebuild started (the final position once it is done).
    pub fn total(&self) -> i64 {
        self.total.load(Ordering::Relaxed)
    }

    fn set_done(&self, position: i64) {
        self.done.store(position, Ordering::Relaxed);
        self.total.fetch_max(position, Ordering::Relaxed);
    }
}

/// Rebuilds the read models, `batch` events a transaction.
pub async fn rebuild(pool: &PgPool, batch: i64) -> Result<RebuildReport, RebuildError> {
    rebuild_reporting(pool, batch, &Progress::default()).await
}

/// [`rebuild`], telling `progress` how far it has come.
pub async fn rebuild_reporting(
    pool: &PgPool,
    batch: i64,
    progress: &Progress,
) -> Result<RebuildReport, RebuildError> {
    let started = Instant::now();
    let head = stockflow_event_store::EventStore::new(pool.clone())
        .head()
        .await?;
    progress.total.store(head, Ordering::Relaxed);
    prepare(pool).await?;

    // The bulk of the work, while the live projector goes on: a reader reads and decodes
    // the next batches on a connection of its own while this one writes.
    let mut db = pool.acquire().await?;
    let skipped: HashSet<i64> = store_reader::skipped(&mut db, 0)
        .await?
        .into_iter()
        .collect();
    let (batches, mut ready) = tokio::sync::mpsc::channel(2);
    let reader = tokio::spawn(read_ahead(pool.clone(), batch, batches));
    while let Some(events) = ready.recv().await {
        let mut events: Vec<Envelope> = events?;
        let Some(through) = events.last().map(|e| e.position) else {
            continue;
        };
        events.retain(|e| !skipped.contains(&e.position));
        let mut tx = db.begin().await?;
        // Nothing reads these tables before the swap, and a crash means starting over:
        // no need to wait for each batch to reach the disk. The swap itself does. (The
        // settings' row is fetched and dropped: a checked query with columns has no `execute`.)
        sqlx::query!(
            "SELECT set_config('synchronous_commit', 'off', true) AS synchronous_commit,
                    set_config('search_path', $1, true) AS search_path",
            NEXT,
        )
        .fetch_one(&mut *tx)
        .await?;
        model::apply_through(&mut tx, &events, through, false).await?;
        tx.commit().await?;
        progress.set_done(through);
    }
    reader
        .await
        .map_err(|e| RebuildError::Reader(e.to_string()))?;
    index(&mut db).await?;

    // The swap. A query holding the old tables makes it wait; after the lock timeout it
    // gives way and tries again rather than queue every other query behind it.
    let mut attempt = 0;
    let position = loop {
        attempt += 1;
        match swap(&mut db, batch).await {
            Ok(position) => break position,
            Err(RebuildError::Database(sqlx::Error::Database(e)))
                if e.code().as_deref() == Some("55P03") && attempt < 10 =>
            {
                tracing::warn!(attempt, "swap waited too long for a lock; trying again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e),
        }
    };
    progress.set_done(position);
    let seconds = started.elapsed().as_secs_f64();
    Ok(RebuildReport {
        events: position,
        position,
        seconds,
        events_per_second: position as f64 / seconds.max(1e-9),
    })
}

/// Fresh, empty tables shaped like the live ones, in their own schema.
async fn prepare(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("DROP SCHEMA IF EXISTS read_next CASCADE")
        .execute(&mut *tx)
        .await?;
    sqlx::query!("CREATE SCHEMA read_next")
        .execute(&mut *tx)
        .await?;
    // Only the keys the upserts need: the other indexes are built once the rows are in
    // (see `index`), far quicker than kept up row by row. These statements splice in table
    // and constraint names (and definitions from the catalog), so they cannot be checked
    // macros: they stay dynamic.
    for table in TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {NEXT}.{table} (LIKE read.{table} INCLUDING ALL EXCLUDING INDEXES)"
        )))
        .execute(&mut *tx)
        .await?;
    }
    add_keys(&mut tx, false).await?;
    // The fresh projections table is named through the search path, as the batches name
    // theirs: the database the query macros are checked against has no read_next.
    sqlx::query!("SELECT set_config('search_path', $1, true)", NEXT)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query!("INSERT INTO projections (name) SELECT name FROM read.projections")
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Adds the live tables' keys to the fresh ones: those of the append-only tables, or those
/// of the others.
async fn add_keys(db: &mut sqlx::PgConnection, append_only: bool) -> Result<(), sqlx::Error> {
    let keys = sqlx::query!(
        r#"SELECT r.relname::text AS "table!", c.conname::text AS "name!",
                  pg_get_constraintdef(c.oid) AS "definition!"
             FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
            WHERE c.connamespace = 'read'::regnamespace AND c.contype IN ('p', 'u')
              AND (r.relname::text = ANY($1)) = $2"#,
        APPEND_ONLY as &[&str],
        append_only,
    )
    .fetch_all(&mut *db)
    .await?;
    for key in keys {
        let (table, name, definition) = (key.table, key.name, key.definition);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {NEXT}.{table} ADD CONSTRAINT {name} {definition}"
        )))
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// Builds the live tables' other indexes on the fresh ones, and the append-only tables' keys.
async fn index(db: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    add_keys(db, true).await?;
    let definitions = sqlx::query_scalar!(
        r#"SELECT indexdef AS "indexdef!" FROM pg_indexes i
            WHERE schemaname = 'read' AND NOT EXISTS (
                  SELECT 1 FROM pg_constraint c
                   WHERE c.connamespace = 'read'::regnamespace AND c.conname = i.indexname)"#
    )
    .fetch_all(&mut *db)
    .await?;
    // Definitions from the catalog, run as they are: dynamic SQL.
    for definition in definitions {
        let definition = definition.replacen(" ON read.", &format!(" ON {NEXT}."), 1);
        sqlx::query(sqlx::AssertSqlSafe(definition))
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

/// Reads the store from the start in batches, until a short one says it reached the head.
async fn read_ahead(
    pool: PgPool,
    batch: i64,
    batches: tokio::sync::mpsc::Sender<Result<Vec<Envelope>, ApplyError>>,
) {
    let mut db = match pool.acquire().await {
        Ok(db) => db,
        Err(e) => {
            let _ = batches.send(Err(e.into())).await;
            return;
        }
    };
    let mut after = 0;
    loop {
        let events = store_reader::read_range(&mut db, after, after + batch).await;
        let (count, last) = match &events {
            Ok(events) => (events.len() as i64, events.last().map(|e| e.position)),
            Err(_) => (0, None),
        };
        let failed = events.is_err();
        if (count > 0 || failed) && batches.send(events).await.is_err() {
            return;
        }
        match last {
            Some(last) if count == batch && !failed => after = last,
            _ => return,
        }
    }
}

/// Applies the next batch of events to the fresh tables, which the transaction's search path
/// names; returns how many.
async fn apply_next(db: &mut sqlx::PgConnection, batch: i64) -> Result<i64, RebuildError> {
    let checkpoint: i64 =
        sqlx::query_scalar!(r#"SELECT min(position) AS "position!" FROM projections"#)
            .fetch_one(&mut *db)
            .await?;
    let mut events = store_reader::read_range(db, checkpoint, checkpoint + batch).await?;
    let Some(through) = events.last().map(|e| e.position) else {
        return Ok(0);
    };
    let count = events.len() as i64;
    let skipped = store_reader::skipped(db, checkpoint).await?;
    events.retain(|e| !skipped.contains(&e.position));
    model::apply_through(db, &events, through, false).await?;
    Ok(count)
}

async fn swap(db: &mut sqlx::PgConnection, batch: i64) -> Result<i64, RebuildError> {
    let mut tx = db.begin().await?;
    sqlx::query!("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "SELECT pg_advisory_xact_lock($1), set_config('search_path', $2, true)",
        SWAP_LOCK,
        NEXT,
    )
    .fetch_one(&mut *tx)
    .await?;
    while apply_next(&mut tx, batch).await? > 0 {}
    sqlx::query!("ALTER SCHEMA read RENAME TO read_old")
        .execute(&mut *tx)
        .await?;
    sqlx::query!("ALTER SCHEMA read_next RENAME TO read")
        .execute(&mut *tx)
        .await?;
    sqlx::query!("GRANT USAGE ON SCHEMA read TO stockflow_analyst")
        .execute(&mut *tx)
        .await?;
    sqlx::query!("GRANT SELECT ON ALL TABLES IN SCHEMA read TO stockflow_analyst")
        .execute(&mut *tx)
        .await?;
    // The roles' default privileges cover a rebuild run as the projector's role; these keep
    // the services working when an operator rebuilds as another user.
    sqlx::query!("GRANT USAGE ON SCHEMA read TO stockflow_query")
        .execute(&mut *tx)
        .await?;
    sqlx::query!("GRANT SELECT ON ALL TABLES IN SCHEMA read TO stockflow_query")
        .execute(&mut *tx)
        .await?;
    sqlx::query!("GRANT USAGE, CREATE ON SCHEMA read TO stockflow_projector")
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA read TO stockflow_projector"
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DROP SCHEMA read_old CASCADE")
        .execute(&mut *tx)
        .await?;
    let position: i64 =
        sqlx::query_scalar!(r#"SELECT min(position) AS "position!" FROM read.projections"#)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        stockflow_event_store::channels::PROJECTIONS,
        position.to_string(),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(position)
}
