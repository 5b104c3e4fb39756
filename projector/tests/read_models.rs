//! Batches applied to a real database: loaded, applied and written with one statement, in the
//! schema the transaction's search path names, announcing the position when live. Each test
//! migrates a database of its own on the server `TEST_POSTGRES_URL` names (default
//! `postgres://postgres@127.0.0.1:5432`) and drops it afterwards.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use stockflow_event_store::channels::PROJECTIONS;
use stockflow_events::{
    BackorderFilled, BackorderPolicy, Envelope, Event, Metadata, OrderCancelled, OrderLineFilled,
    OrderPlaced, OrderReady, OrderStatus, PlacedLine, ProductRegistered, ReplenishmentRequested,
    StockBackordered, StockReceived, StockReleased, StockReserved, order_stream, product_stream,
};
use stockflow_projector::model::{self, Schema};
use stockflow_projector::rebuild::TABLES;
use stockflow_testkit::TestDatabase;
use uuid::Uuid;

const SKU: &str = "SKU-1";
const CUSTOMER: &str = "C-1";

fn order_id() -> Uuid {
    Uuid::from_u128(0xA)
}

fn placed_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
}

fn day() -> NaiveDate {
    placed_at().date_naive()
}

// ---------------------------------------------------------------------------------------------
// A database of the test's own.
// ---------------------------------------------------------------------------------------------

/// A migrated database (dropped with this value) and a pool on it.
struct Database {
    pool: PgPool,
    _database: TestDatabase,
}

impl Database {
    async fn migrated() -> Database {
        let database = TestDatabase::migrated().await;
        let pool = stockflow_event_store::database::connect(&database.url, 2, false)
            .await
            .expect("the test database is reachable");
        Database {
            pool,
            _database: database,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Batches.
// ---------------------------------------------------------------------------------------------

/// Events of a batch, at consecutive positions after `after`, each a minute after the one
/// before from [`placed_at`]; stream versions are the position (the store's own are not read).
fn batch(after: i64, events: Vec<(String, Event)>) -> Vec<Envelope> {
    (after + 1..)
        .zip(events)
        .map(|(position, (stream_id, event))| Envelope {
            id: Uuid::from_u128(position as u128),
            stream_id,
            stream_version: position,
            position,
            recorded_at: placed_at() + chrono::Duration::minutes(position - 1),
            metadata: Metadata::default(),
            event,
        })
        .collect()
}

fn product(event: impl Into<Event>) -> (String, Event) {
    (product_stream(SKU), event.into())
}

fn order(event: impl Into<Event>) -> (String, Event) {
    (order_stream(&order_id()), event.into())
}

/// Applies a batch in a transaction of its own in `schema`, as the projector does.
async fn apply(pool: &PgPool, schema: Schema, events: &[Envelope], announce: bool) {
    let mut tx = pool.begin().await.expect("a transaction");
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(schema.name())
        .execute(&mut *tx)
        .await
        .expect("the search path is set");
    model::apply(&mut tx, events, announce)
        .await
        .expect("the batch applies");
    tx.commit().await.expect("the batch commits");
}

/// An order of three units of which two are reserved and one backordered, with the events of
/// its product: positions 1 to 5.
fn placing() -> Vec<Envelope> {
    batch(
        0,
        vec![
            product(ProductRegistered {
                sku: SKU.into(),
                name: "Widget".into(),
                unit_price_cents: 100,
                currency: "EUR".into(),
                initial_stock: 2,
                backorder_policy: BackorderPolicy::Backorder,
            }),
            order(OrderPlaced {
                order_id: order_id(),
                customer_id: CUSTOMER.into(),
                currency: "EUR".into(),
                total_cents: 300,
                status: OrderStatus::Backordered,
                lines: vec![PlacedLine {
                    sku: SKU.into(),
                    quantity: 3,
                    unit_price_cents: 100,
                    reserved: 2,
                    backordered: 1,
                }],
            }),
            product(StockReserved {
                sku: SKU.into(),
                order_id: order_id(),
                quantity: 2,
                on_hand: 2,
                reserved: 2,
                available: 0,
            }),
            product(StockBackordered {
                sku: SKU.into(),
                order_id: order_id(),
                quantity: 1,
                backordered: 1,
            }),
            product(ReplenishmentRequested {
                sku: SKU.into(),
                order_id: order_id(),
                shortfall: 1,
                quantity: 2,
            }),
        ],
    )
}

/// Two units received: the backorder is filled and the order is ready. Positions 6 to 9.
fn filling() -> Vec<Envelope> {
    batch(
        5,
        vec![
            product(StockReceived {
                sku: SKU.into(),
                quantity: 2,
                reference: None,
                on_hand: 4,
                reserved: 2,
                available: 2,
                backordered: 1,
            }),
            product(BackorderFilled {
                sku: SKU.into(),
                order_id: order_id(),
                quantity: 1,
                remaining: 0,
                on_hand: 4,
                reserved: 3,
                available: 1,
                backordered: 0,
            }),
            order(OrderLineFilled {
                order_id: order_id(),
                sku: SKU.into(),
                quantity: 1,
                reserved: 3,
                backordered: 0,
            }),
            order(OrderReady {
                order_id: order_id(),
            }),
        ],
    )
}

/// The order is cancelled and its units released. Positions 10 and 11.
fn cancelling() -> Vec<Envelope> {
    batch(
        9,
        vec![
            order(OrderCancelled {
                order_id: order_id(),
                reason: None,
                lines: vec![],
            }),
            product(StockReleased {
                sku: SKU.into(),
                order_id: order_id(),
                released: 3,
                backorder_withdrawn: 0,
                on_hand: 4,
                reserved: 0,
                available: 4,
                backordered: 0,
            }),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// What the read models hold.
// ---------------------------------------------------------------------------------------------

/// (on_hand, reserved, available, backordered, status, version)
async fn product_levels(pool: &PgPool, schema: &str) -> Option<(i64, i64, i64, i64, String, i64)> {
    let sql = format!(
        "SELECT on_hand, reserved, available, backordered, status, version
           FROM {schema}.products WHERE sku = $1"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(SKU)
        .fetch_optional(pool)
        .await
        .expect("products are readable")
}

/// (status, line_count, total_cents, cancelled_at is set, version)
async fn order_row(pool: &PgPool) -> (String, i32, i64, bool, i64) {
    sqlx::query_as(
        "SELECT status, line_count, total_cents, cancelled_at IS NOT NULL, version
           FROM read.orders WHERE order_id = $1",
    )
    .bind(order_id())
    .fetch_one(pool)
    .await
    .expect("the order is there")
}

/// (line_no, quantity, reserved, backordered)
async fn lines(pool: &PgPool) -> Vec<(i32, i64, i64, i64)> {
    sqlx::query_as(
        "SELECT line_no, quantity, reserved, backordered FROM read.order_lines
          WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(order_id())
    .fetch_all(pool)
    .await
    .expect("order lines are readable")
}

/// (quantity, outstanding, status)
async fn replenishment(pool: &PgPool) -> (i64, i64, String) {
    sqlx::query_as(
        "SELECT quantity, outstanding, status FROM read.replenishments
          WHERE sku = $1 AND order_id = $2",
    )
    .bind(SKU)
    .bind(order_id())
    .fetch_one(pool)
    .await
    .expect("the request is there")
}

/// (order_count, open_order_count, first_order_at, last_order_at)
async fn customer(pool: &PgPool) -> (i64, i64, DateTime<Utc>, DateTime<Utc>) {
    sqlx::query_as(
        "SELECT order_count, open_order_count, first_order_at, last_order_at
           FROM read.customers WHERE customer_id = $1",
    )
    .bind(CUSTOMER)
    .fetch_one(pool)
    .await
    .expect("the customer is there")
}

/// (lifetime value, day's (orders, units, revenue), day's sku's (orders, units, revenue))
async fn sales(pool: &PgPool) -> (i64, (i64, i64, i64), (i64, i64, i64)) {
    let value: i64 = sqlx::query_scalar(
        "SELECT value_cents FROM read.customer_lifetime_values
          WHERE customer_id = $1 AND currency = 'EUR'",
    )
    .bind(CUSTOMER)
    .fetch_one(pool)
    .await
    .expect("the lifetime value is there");
    let daily = sqlx::query_as(
        "SELECT orders, units, revenue_cents FROM read.daily_sales
          WHERE day = $1 AND currency = 'EUR'",
    )
    .bind(day())
    .fetch_one(pool)
    .await
    .expect("the day's sales are there");
    let daily_sku = sqlx::query_as(
        "SELECT orders, units, revenue_cents FROM read.daily_sku_sales
          WHERE day = $1 AND sku = $2 AND currency = 'EUR'",
    )
    .bind(day())
    .bind(SKU)
    .fetch_one(pool)
    .await
    .expect("the day's sales of the sku are there");
    (value, daily, daily_sku)
}

/// Every projection's (position, status), in one list.
async fn checkpoints(pool: &PgPool, schema: &str) -> Vec<(i64, String)> {
    let sql = format!("SELECT position, status FROM {schema}.projections ORDER BY name");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .expect("projections are readable")
}

async fn notified(listener: &mut PgListener) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .ok()
        .map(|n| n.expect("the listener is connected").payload().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn live_batches_keep_the_read_models_and_announce_their_position() {
    let database = Database::migrated().await;
    let pool = &database.pool;
    let mut listener = PgListener::connect_with(pool).await.expect("a listener");
    listener.listen(PROJECTIONS).await.expect("listening");
    let running = |position| vec![(position, "running".to_owned()); 5];

    apply(pool, Schema::Live, &placing(), true).await;
    assert_eq!(notified(&mut listener).await.as_deref(), Some("5"));
    assert_eq!(checkpoints(pool, "read").await, running(5));
    assert_eq!(
        product_levels(pool, "read").await,
        Some((2, 2, 0, 1, "active".into(), 5))
    );
    assert_eq!(
        order_row(pool).await,
        ("backordered".into(), 1, 300, false, 2)
    );
    assert_eq!(lines(pool).await, vec![(1, 3, 2, 1)]);
    assert_eq!(replenishment(pool).await, (2, 2, "open".into()));
    let at = placed_at() + chrono::Duration::minutes(1);
    assert_eq!(customer(pool).await, (1, 1, at, at));
    assert_eq!(sales(pool).await, (300, (1, 3, 300), (1, 3, 300)));

    apply(pool, Schema::Live, &filling(), true).await;
    assert_eq!(notified(&mut listener).await.as_deref(), Some("9"));
    assert_eq!(checkpoints(pool, "read").await, running(9));
    assert_eq!(
        product_levels(pool, "read").await,
        Some((4, 3, 1, 0, "active".into(), 7))
    );
    assert_eq!(order_row(pool).await, ("ready".into(), 1, 300, false, 9));
    assert_eq!(lines(pool).await, vec![(1, 3, 3, 0)]);
    assert_eq!(replenishment(pool).await, (2, 0, "fulfilled".into()));

    // Counters are added to the stored ones; a change without placements keeps the times.
    apply(pool, Schema::Live, &cancelling(), true).await;
    assert_eq!(notified(&mut listener).await.as_deref(), Some("11"));
    assert_eq!(
        order_row(pool).await,
        ("cancelled".into(), 1, 300, true, 10)
    );
    assert_eq!(customer(pool).await, (1, 0, at, at));
    assert_eq!(sales(pool).await, (0, (0, 0, 0), (0, 0, 0)));
    assert_eq!(
        product_levels(pool, "read").await,
        Some((4, 0, 4, 0, "active".into(), 11))
    );
}

#[tokio::test]
async fn a_rebuilds_batches_stay_in_its_schema_and_announce_nothing() {
    let database = Database::migrated().await;
    let pool = &database.pool;
    // Fresh tables beside the live ones, as a rebuild prepares them.
    sqlx::query("CREATE SCHEMA read_next")
        .execute(pool)
        .await
        .expect("the schema");
    for table in TABLES {
        let sql = format!("CREATE TABLE read_next.{table} (LIKE read.{table} INCLUDING ALL)");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .expect("a fresh table");
    }
    sqlx::query("INSERT INTO read_next.projections (name) SELECT name FROM read.projections")
        .execute(pool)
        .await
        .expect("fresh checkpoints");
    let mut listener = PgListener::connect_with(pool).await.expect("a listener");
    listener.listen(PROJECTIONS).await.expect("listening");

    apply(pool, Schema::Rebuild, &placing(), false).await;

    assert_eq!(
        product_levels(pool, "read_next").await,
        Some((2, 2, 0, 1, "active".into(), 5))
    );
    assert_eq!(product_levels(pool, "read").await, None);
    assert_eq!(
        checkpoints(pool, "read_next").await,
        vec![(5, "running".to_owned()); 5]
    );
    assert_eq!(
        checkpoints(pool, "read").await,
        vec![(0, "running".to_owned()); 5]
    );
    assert_eq!(
        tokio::time::timeout(Duration::from_millis(300), listener.recv())
            .await
            .ok()
            .map(|n| n.map(|n| n.payload().to_owned()).ok()),
        None,
        "a rebuild's batch notified"
    );
}
