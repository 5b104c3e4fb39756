//! Property: for any workload of commands (decided by the domain, appended to the store one
//! transaction each) projected in batches split anywhere, a product's movements add up to its
//! current levels and end at them, and the stock at any instant equals the store's own fold
//! of the events recorded by then (the domain's `Product::apply`, not the projector's code);
//! and both still hold, unchanged, after a rebuild.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::Value;
use sqlx::{Connection, PgPool};
use stockflow_domain::Product;
use stockflow_event_store::{EventStore, StoredEvent};
use stockflow_events::{Envelope, Event, Metadata};
use stockflow_projector::model::{self, Schema};
use stockflow_projector::rebuild::rebuild;

use super::workload::{State, op};
use crate::helpers::TestApp;

fn envelope(stored: &StoredEvent) -> Envelope {
    Envelope {
        id: stored.event_id,
        stream_id: stored.stream_id.clone(),
        stream_version: stored.stream_version,
        position: stored.position,
        recorded_at: stored.recorded_at,
        metadata: Metadata::default(),
        event: Event::decode(
            &stored.event_type,
            stored.type_version as u32,
            stored.data.clone(),
        )
        .expect("stored events decode"),
    }
}

/// Applies the store's events to the live read models in batches of the given sizes (in
/// turn), which split commands anywhere.
async fn project(pool: &PgPool, events: &[StoredEvent], sizes: &[usize]) {
    let envelopes: Vec<Envelope> = events.iter().map(envelope).collect();
    let mut rest = envelopes.as_slice();
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, after) = rest.split_at((*size).min(rest.len()));
        rest = after;
        let mut db = pool.acquire().await.expect("a connection");
        let mut tx = db.begin().await.expect("a transaction");
        sqlx::query("SELECT set_config('search_path', $1, true)")
            .bind(Schema::Live.name())
            .execute(&mut *tx)
            .await
            .expect("the search path");
        model::apply(&mut tx, batch, true)
            .await
            .expect("the batch applies");
        tx.commit().await.expect("the batch commits");
    }
}

/// (sku, currency, on_hand, reserved, available, unit_price_cents, stock_value_cents)
type Stock = (String, String, i64, i64, i64, i64, i64);

/// The store's own answer for `as_of`: its product events recorded by then, folded by the
/// domain; and the last of them that changes stock or price (the answer's `position`).
fn fold(events: &[StoredEvent], as_of: DateTime<Utc>) -> (i64, Vec<Stock>) {
    let by_then = events
        .iter()
        .filter(|e| e.recorded_at <= as_of)
        .map(|e| e.position)
        .max()
        .unwrap_or(0);
    let mut products: BTreeMap<String, Option<Product>> = BTreeMap::new();
    let mut position = 0;
    for stored in events.iter().filter(|e| e.position <= by_then) {
        let Some(sku) = stored.stream_id.strip_prefix("product-") else {
            continue;
        };
        let event = envelope(stored).event;
        let changes_history = !matches!(
            event,
            Event::ProductDiscontinued(_)
                | Event::StockBackordered(_)
                | Event::ReplenishmentRequested(_)
        );
        if changes_history {
            position = stored.position;
        }
        Product::apply(products.entry(sku.to_owned()).or_default(), &event);
    }
    let stock = products
        .into_values()
        .flatten()
        .map(|p| {
            let value = p.on_hand * p.unit_price_cents;
            let available = p.available();
            (
                p.sku,
                p.currency,
                p.on_hand,
                p.reserved,
                available,
                p.unit_price_cents,
                value,
            )
        })
        .collect();
    (position, stock)
}

fn stock_of(item: &Value) -> Stock {
    let n = |field: &str| item[field].as_i64().expect("an integer");
    let s = |field: &str| item[field].as_str().expect("a string").to_owned();
    (
        s("sku"),
        s("currency"),
        n("on_hand"),
        n("reserved"),
        n("available"),
        n("unit_price_cents"),
        n("stock_value_cents"),
    )
}

/// What the API says of the stock at `as_of`, paged by `limit`, and its position.
async fn stock_at(
    app: &TestApp,
    as_of: DateTime<Utc>,
    head: i64,
    limit: usize,
) -> (i64, Vec<Stock>) {
    let as_of = as_of.to_rfc3339_opts(SecondsFormat::Micros, true);
    let path = format!("/v1/analytics/stock?as_of={as_of}&limit={limit}&min_position={head}");
    let pages = app.all_pages(&path).await;
    let position = pages[0].body["position"].as_i64().expect("a position");
    for page in &pages {
        assert_eq!(
            page.body["position"], position,
            "every page shows one moment"
        );
    }
    let items = pages
        .iter()
        .flat_map(|p| p.items().iter().map(stock_of))
        .collect();
    (position, items)
}

/// Checks movements against the products' levels and the stock at instants against the
/// store's fold; returns every product's movements as the API showed them.
async fn check(
    app: &TestApp,
    events: &[StoredEvent],
    head: i64,
    limit: usize,
) -> Result<Vec<Value>, TestCaseError> {
    let skus: Vec<String> = fold(events, DateTime::<Utc>::MAX_UTC)
        .1
        .into_iter()
        .map(|s| s.0)
        .collect();
    let mut all = Vec::new();
    for sku in &skus {
        let product = app
            .get(&format!("/v1/products/{sku}?min_position={head}"))
            .await;
        let product = product.assert_ok().clone();
        let pages = app
            .all_pages(&format!("/v1/products/{sku}/movements?limit={limit}"))
            .await;
        let movements: Vec<Value> = pages.iter().flat_map(|p| p.items().clone()).collect();
        let sum = |field: &str| {
            movements
                .iter()
                .map(|m| m[field].as_i64().unwrap_or(0))
                .sum::<i64>()
        };
        prop_assert_eq!(
            sum("on_hand_change"),
            product["on_hand"].as_i64().unwrap_or(-1),
            "{}",
            sku
        );
        prop_assert_eq!(
            sum("reserved_change"),
            product["reserved"].as_i64().unwrap_or(-1),
            "{}",
            sku
        );
        let last = movements.last().expect("a registration at least");
        for level in ["on_hand", "reserved", "available"] {
            prop_assert_eq!(&last[level], &product[level], "{} {}", sku, level);
        }
        all.extend(movements);
    }
    // Every transaction's time, the instant before it, and before and after them all.
    let mut instants: Vec<DateTime<Utc>> = events.iter().map(|e| e.recorded_at).collect();
    instants.dedup();
    let step = instants.len().div_ceil(15).max(1);
    let mut instants: Vec<DateTime<Utc>> = instants
        .iter()
        .step_by(step)
        .flat_map(|t| [*t, *t - TimeDelta::microseconds(1)])
        .collect();
    if let Some(first) = events.first() {
        instants.push(first.recorded_at - TimeDelta::seconds(1));
    }
    instants.push(Utc::now());
    for as_of in instants {
        let answer = stock_at(app, as_of, head, limit).await;
        prop_assert_eq!(answer, fold(events, as_of), "as of {}", as_of);
    }
    Ok(all)
}

#[test]
fn movements_add_up_and_stock_at_any_instant_is_the_stores_fold_before_and_after_a_rebuild() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let workload = (
        prop::collection::vec(op(), 1..40),
        prop::collection::vec(1usize..7, 1..5),
        1i64..9,
        1usize..6,
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&workload, |(ops, sizes, rebuild_batch, limit)| {
        runtime.block_on(async {
            let app = TestApp::spawn().await;
            let pool = stockflow_event_store::database::connect(&app.database_url, 3, false)
                .await
                .expect("the database is reachable");
            let store = EventStore::new(pool.clone());
            let mut state = State::default();
            for op in &ops {
                state.run(&store, op).await;
            }
            let mut db = pool.acquire().await.expect("a connection");
            let events = EventStore::read_after(&mut *db, 0, i64::MAX)
                .await
                .expect("events");
            drop(db);
            let head = events.last().map_or(0, |e| e.position);
            project(&pool, &events, &sizes).await;
            let live = check(&app, &events, head, limit).await?;

            rebuild(&pool, rebuild_batch)
                .await
                .expect("the rebuild succeeds");
            let rebuilt = check(&app, &events, head, limit).await?;
            prop_assert_eq!(live, rebuilt, "the rebuild changed the movements");
            pool.close().await;
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
