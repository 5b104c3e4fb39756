//! Rebuild (docs/guarantees.md §6): the whole store replayed into fresh tables, swapped in while queries
//! keep being served; what it builds equals what the live projector built.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use sqlx::PgConnection;
use stockflow_e2e::Stack;
use stockflow_projector::rebuild::{RebuildReport, TABLES, rebuild};
use tokio::task::JoinHandle;

use crate::checks::assert_read_models_match_the_store;
use crate::workload::{SEED, run_workload};

/// The read tables a rebuild replaces, except `projections`, whose `updated_at` says when
/// rather than what.
fn tables() -> impl Iterator<Item = &'static str> {
    TABLES
        .iter()
        .copied()
        .filter(|table| *table != "projections")
}

/// Small, so that the rebuild takes many transactions for the queries to run between.
const REBUILD_BATCH: i64 = 100;

/// Clients reading all the while: every answer must be a 200.
struct Traffic {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<Vec<String>>>,
}

impl Traffic {
    fn start(stack: &Arc<Stack>, clients: usize) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let tasks = (0..clients)
            .map(|client| {
                let (stack, stop, answered) = (stack.clone(), stop.clone(), answered.clone());
                tokio::spawn(async move {
                    let paths = [
                        "/v1/products?limit=50",
                        "/v1/orders?limit=20",
                        "/v1/products/R-1",
                        "/v1/analytics/sales?group_by=day",
                        "/v1/replenishments",
                    ];
                    let mut failures = Vec::new();
                    let mut i = client;
                    while !stop.load(Ordering::Relaxed) {
                        let path = paths[i % paths.len()];
                        i += 1;
                        let response = stack.query(path).await;
                        if response.status != 200 {
                            failures.push(format!("{path}: {} {}", response.status, response.text));
                        }
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    failures
                })
            })
            .collect();
        Traffic {
            stop,
            answered,
            tasks,
        }
    }

    fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Stops the clients; returns how many queries were answered and the failed ones.
    async fn stop(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        for task in self.tasks {
            failures.extend(task.await.expect("a query client ran to the end"));
        }
        (self.answered.load(Ordering::Relaxed), failures)
    }
}

async fn run_rebuild(stack: &Stack) -> RebuildReport {
    let pool = sqlx::PgPool::connect(&stack.database_url)
        .await
        .expect("the database is reachable");
    let report = rebuild(&pool, REBUILD_BATCH)
        .await
        .expect("the rebuild succeeds");
    pool.close().await;
    report
}

async fn scalar<T>(db: &mut PgConnection, sql: &str) -> T
where
    T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows of `left.table` that `right.table` lacks, as JSON, a few at most.
async fn rows_missing(db: &mut PgConnection, table: &str, left: &str, right: &str) -> Vec<String> {
    let sql = format!(
        "SELECT row_to_json(d)::text FROM (TABLE {left}.{table} EXCEPT ALL TABLE {right}.{table}) d LIMIT 5"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(db)
        .await
        .expect("the tables compare")
}

/// The analyst role (docs/analysts.md) can still read the read schema, and the rebuild left no
/// schema of its own behind.
async fn assert_the_swap_left_the_schema_as_it_was(db: &mut PgConnection) {
    assert!(
        scalar::<bool>(
            db,
            "SELECT has_schema_privilege('stockflow_analyst', 'read', 'USAGE')"
        )
        .await,
        "the analyst lost USAGE on the read schema"
    );
    for table in tables() {
        let sql =
            format!("SELECT has_table_privilege('stockflow_analyst', 'read.{table}', 'SELECT')");
        assert!(
            scalar::<bool>(db, &sql).await,
            "the analyst lost SELECT on read.{table}"
        );
    }
    let leftovers: i64 = scalar(
        db,
        "SELECT count(*) FROM pg_namespace WHERE nspname IN ('read_next', 'read_old')",
    )
    .await;
    assert_eq!(leftovers, 0, "the rebuild left a schema behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_under_concurrent_queries_answers_every_query_and_equals_the_live_tables() {
    let stack = Arc::new(Stack::spawn().await);
    let outcomes = run_workload(stack.clone(), 800, 8, SEED + 2).await;
    assert!(
        outcomes.len() >= 700,
        "only {} commands ran",
        outcomes.len()
    );
    let head = stack.head().await;
    stack
        .wait_for_projection(head, Duration::from_secs(30))
        .await;

    let mut db = stack.db().await;
    sqlx::query("CREATE SCHEMA snap")
        .execute(&mut db)
        .await
        .expect("a schema for the snapshot");
    for table in tables() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE snap.{table} AS TABLE read.{table}"
        )))
        .execute(&mut db)
        .await
        .expect("a snapshot of the live table");
    }

    let traffic = Traffic::start(&stack, 6);
    // Let every client warm its connections and statements on the live tables first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = traffic.answered();
    let report = run_rebuild(&stack).await;
    let during = traffic.answered() - before;
    // Queries prepared on the old tables go on after the swap too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (answered, failures) = traffic.stop().await;

    println!(
        "rebuilt {} events in {:.2} s; {answered} queries, {during} of them during the rebuild",
        report.events, report.seconds
    );
    assert!(
        failures.is_empty(),
        "{} of {answered} queries failed, the first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(during > 0, "no query ran while the rebuild did");
    assert_eq!(report.position, head, "the rebuild's position");

    for table in tables() {
        let extra = rows_missing(&mut db, table, "read", "snap").await;
        let lost = rows_missing(&mut db, table, "snap", "read").await;
        assert!(
            extra.is_empty() && lost.is_empty(),
            "read.{table} after the rebuild differs from the live one: rebuilt only {extra:?}, live only {lost:?}"
        );
    }
    assert_the_swap_left_the_schema_as_it_was(&mut db).await;
    assert_read_models_match_the_store(&stack).await;

    // The live projector goes on, into the new tables.
    let on_hand = stack.query("/v1/products/R-1").await.ok()["on_hand"]
        .as_i64()
        .expect("on hand");
    let receipt = stack
        .command("/v1/products/R-1/receipts", json!({"quantity": 7}))
        .await;
    receipt.ok();
    let product = stack.query_at("/v1/products/R-1", receipt.position()).await;
    assert_eq!(product.ok()["on_hand"], on_hand + 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_while_commands_flow_ends_equal_to_the_store() {
    let stack = Arc::new(Stack::spawn().await);
    let workload = tokio::spawn(run_workload(stack.clone(), 1_600, 8, SEED + 3));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stack.head().await < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the workload is too slow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let traffic = Traffic::start(&stack, 4);
    let from = stack.head().await;
    let report = run_rebuild(&stack).await;
    let to = stack.head().await;
    let outcomes = workload.await.expect("the workload finished");
    let (answered, failures) = traffic.stop().await;

    println!(
        "rebuilt {} events in {:.2} s while the head went from {from} to {to}; {answered} queries",
        report.events, report.seconds
    );
    assert!(
        outcomes.len() >= 1_500,
        "only {} commands ran",
        outcomes.len()
    );
    assert!(to > from, "no command was written during the rebuild");
    assert!(
        (from..=to).contains(&report.position),
        "the rebuild swapped in at {}, outside the head's {from}..={to} while it ran",
        report.position
    );
    assert!(
        failures.is_empty(),
        "{} of {answered} queries failed, the first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    let head = stack.head().await;
    stack
        .wait_for_projection(head, Duration::from_secs(30))
        .await;
    let mut db = stack.db().await;
    assert_the_swap_left_the_schema_as_it_was(&mut db).await;
    assert_read_models_match_the_store(&stack).await;
}
