//! The history read models in a real database: movements and prices written with the batch
//! that applies their events, a release whose cancellation fell in the batch before taking
//! the reason from the store, and a rebuild (whose batches split commands anywhere) making the
//! same rows as the live batches did.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;
use stockflow_events::{
    BackorderPolicy, CancelledLine, Envelope, Event, Metadata, OrderCancelled, OrderPlaced,
    OrderStatus, PlacedLine, PriceChanged, ProductRegistered, StockReceived, StockReleased,
    StockReserved, order_stream, product_stream,
};
use stockflow_projector::model::{self, Schema};
use stockflow_projector::rebuild::rebuild;
use stockflow_testkit::TestDatabase;
use uuid::Uuid;

const SKU: &str = "SKU-1";

fn order_id() -> Uuid {
    Uuid::from_u128(0xB)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 23, 58, 0).unwrap()
}

fn product(event: impl Into<Event>) -> (String, Event) {
    (product_stream(SKU), event.into())
}

fn order(event: impl Into<Event>) -> (String, Event) {
    (order_stream(&order_id()), event.into())
}

/// A product registered, priced anew, stocked, ordered from and the order cancelled with a
/// reason: positions 1 to 7, a minute apart.
fn story() -> Vec<(String, Event)> {
    vec![
        product(ProductRegistered {
            sku: SKU.into(),
            name: "Widget".into(),
            unit_price_cents: 100,
            currency: "EUR".into(),
            initial_stock: 0,
            backorder_policy: BackorderPolicy::Reject,
        }),
        product(PriceChanged {
            sku: SKU.into(),
            previous_unit_price_cents: 100,
            unit_price_cents: 120,
            currency: "EUR".into(),
        }),
        product(StockReceived {
            sku: SKU.into(),
            quantity: 5,
            reference: Some("PO-1".into()),
            on_hand: 5,
            reserved: 0,
            available: 5,
            backordered: 0,
        }),
        order(OrderPlaced {
            order_id: order_id(),
            customer_id: "C-1".into(),
            currency: "EUR".into(),
            total_cents: 360,
            status: OrderStatus::Ready,
            lines: vec![PlacedLine {
                sku: SKU.into(),
                quantity: 3,
                unit_price_cents: 120,
                reserved: 3,
                backordered: 0,
            }],
        }),
        product(StockReserved {
            sku: SKU.into(),
            order_id: order_id(),
            quantity: 3,
            on_hand: 5,
            reserved: 3,
            available: 2,
        }),
        order(OrderCancelled {
            order_id: order_id(),
            reason: Some("found it cheaper".into()),
            lines: vec![CancelledLine {
                sku: SKU.into(),
                released: 3,
                backorder_withdrawn: 0,
            }],
        }),
        product(StockReleased {
            sku: SKU.into(),
            order_id: order_id(),
            released: 3,
            backorder_withdrawn: 0,
            on_hand: 5,
            reserved: 0,
            available: 5,
            backordered: 0,
        }),
    ]
}

/// The story as stored: each event at its position, each stream versioned from 1.
fn envelopes() -> Vec<Envelope> {
    let mut versions: BTreeMap<String, i64> = BTreeMap::new();
    (1..)
        .zip(story())
        .map(|(position, (stream_id, event))| {
            let version = versions.entry(stream_id.clone()).or_default();
            *version += 1;
            Envelope {
                id: Uuid::from_u128(position as u128),
                stream_id,
                stream_version: *version,
                position,
                recorded_at: start() + chrono::Duration::minutes(position - 1),
                metadata: Metadata::default(),
                event,
            }
        })
        .collect()
}

async fn store(pool: &PgPool, events: &[Envelope]) {
    for e in events {
        sqlx::query(
            "INSERT INTO event_store.events (position, stream_id, stream_version, event_id,
                    event_type, type_version, data, recorded_at, commit_position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $1)",
        )
        .bind(e.position)
        .bind(&e.stream_id)
        .bind(e.stream_version)
        .bind(e.id)
        .bind(e.event.event_type())
        .bind(e.event.version() as i32)
        .bind(e.event.data())
        .bind(e.recorded_at)
        .execute(pool)
        .await
        .expect("the event is stored");
    }
    let head = events.last().map_or(0, |e| e.position);
    sqlx::query("UPDATE event_store.head SET position = $1")
        .bind(head)
        .execute(pool)
        .await
        .expect("the head moves");
}

async fn apply_live(pool: &PgPool, events: &[Envelope]) {
    let mut tx = pool.begin().await.expect("a transaction");
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(Schema::Live.name())
        .execute(&mut *tx)
        .await
        .expect("the search path is set");
    model::apply(&mut tx, events, true)
        .await
        .expect("the batch applies");
    tx.commit().await.expect("the batch commits");
}

/// (position, event, on_hand_change, reserved_change, on_hand, reserved, available, order
/// id, reference, reason), by position.
type Movement = (
    i64,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<Uuid>,
    Option<String>,
    Option<String>,
);

async fn movements(pool: &PgPool) -> Vec<Movement> {
    sqlx::query_as(
        "SELECT position, event, on_hand_change, reserved_change, on_hand, reserved, available,
                order_id, reference, reason
           FROM read.stock_movements WHERE sku = $1 ORDER BY position",
    )
    .bind(SKU)
    .fetch_all(pool)
    .await
    .expect("movements are readable")
}

/// (position, at, unit_price_cents), by position.
async fn prices(pool: &PgPool) -> Vec<(i64, DateTime<Utc>, i64)> {
    sqlx::query_as(
        "SELECT position, at, unit_price_cents FROM read.product_prices
          WHERE sku = $1 ORDER BY position",
    )
    .bind(SKU)
    .fetch_all(pool)
    .await
    .expect("prices are readable")
}

#[tokio::test]
async fn batches_append_movements_and_prices_and_a_rebuild_makes_the_same() {
    let database = TestDatabase::migrated().await;
    let pool = stockflow_event_store::database::connect(&database.url, 3, false)
        .await
        .expect("the test database is reachable");
    let events = envelopes();
    store(&pool, &events).await;
    // The cancellation ends one batch, its release begins the next.
    apply_live(&pool, &events[..6]).await;
    apply_live(&pool, &events[6..]).await;

    let order = Some(order_id());
    let expected: Vec<Movement> = vec![
        (
            1,
            "product.registered".into(),
            0,
            0,
            0,
            0,
            0,
            None,
            None,
            None,
        ),
        (
            3,
            "product.stock_received".into(),
            5,
            0,
            5,
            0,
            5,
            None,
            Some("PO-1".into()),
            None,
        ),
        (
            5,
            "product.stock_reserved".into(),
            0,
            3,
            5,
            3,
            2,
            order,
            None,
            None,
        ),
        (
            7,
            "product.stock_released".into(),
            0,
            -3,
            5,
            0,
            5,
            order,
            None,
            Some("found it cheaper".into()),
        ),
    ];
    assert_eq!(movements(&pool).await, expected);
    let minute = |n| start() + chrono::Duration::minutes(n);
    assert_eq!(
        prices(&pool).await,
        vec![(1, minute(0), 100), (2, minute(1), 120)]
    );

    // Batches of two split the cancellation from its release too.
    rebuild(&pool, 2).await.expect("the rebuild succeeds");
    assert_eq!(movements(&pool).await, expected);
    assert_eq!(
        prices(&pool).await,
        vec![(1, minute(0), 100), (2, minute(1), 120)]
    );
    pool.close().await;
}
