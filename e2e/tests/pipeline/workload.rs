//! A seeded random workload of every command kind, run concurrently; then every read model
//! must equal what the event store says.

use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use stockflow_e2e::Stack;
use uuid::Uuid;

use crate::checks::assert_read_models_match_the_store;

pub const SEED: u64 = 20261121;

/// Runs `commands` random commands from `workers` concurrent clients; returns how many of each
/// kind succeeded. Panics on any 5xx or unexpected refusal.
pub async fn run_workload(
    stack: Arc<Stack>,
    commands: usize,
    workers: usize,
    seed: u64,
) -> Vec<(String, u16)> {
    // The fault run's starting products: (sku, backorder policy, currency).
    let skus = stockflow_e2e::faults::workload::PRODUCTS;
    for (sku, policy, currency) in &skus {
        stack
            .command(
                "/v1/products",
                json!({"sku": sku, "name": format!("Product {sku}"), "unit_price_cents": 250, "currency": currency,
                       "initial_stock": 20, "backorder_policy": policy}),
            )
            .await
            .ok();
    }
    let skus: Arc<Vec<String>> = Arc::new(skus.iter().map(|(s, _, _)| s.to_string()).collect());
    let orders: Arc<Mutex<Vec<Uuid>>> = Arc::new(Mutex::new(Vec::new()));
    let per_worker = commands / workers;
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let stack = stack.clone();
            let skus = skus.clone();
            let orders = orders.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed + w as u64);
                let mut outcomes = Vec::new();
                for i in 0..per_worker {
                    let roll = rng.random_range(0..100);
                    let known_order = orders.lock().expect("not poisoned").choose(&mut rng).copied();
                    let sku = skus.choose(&mut rng).expect("skus").clone();
                    let (kind, path, body): (&str, String, Value) = match roll {
                        0..40 => {
                            let n = rng.random_range(1..=3);
                            let mut lines = Vec::new();
                            for s in skus.choose_multiple(&mut rng, n) {
                                lines.push(json!({"sku": s, "quantity": rng.random_range(1..=6)}));
                            }
                            let customer = format!("customer-{}", rng.random_range(0..25));
                            ("place", "/v1/orders".into(), json!({"customer_id": customer, "lines": lines}))
                        }
                        40..55 => ("receive", format!("/v1/products/{sku}/receipts"), json!({"quantity": rng.random_range(1..=25)})),
                        55..63 => {
                            let delta = [-3, -1, 2, 5, 8][rng.random_range(0..5)];
                            ("adjust", format!("/v1/products/{sku}/adjustments"), json!({"delta": delta, "reason": "count"}))
                        }
                        63..67 => ("price", format!("/v1/products/{sku}/price"), json!({"unit_price_cents": rng.random_range(100..=900)})),
                        67..80 => match known_order {
                            Some(id) => ("cancel", format!("/v1/orders/{id}/cancel"), json!({"reason": "changed mind"})),
                            None => continue,
                        },
                        80..95 => match known_order {
                            Some(id) => ("ship", format!("/v1/orders/{id}/ship"), json!({"carrier": "UPS", "tracking_number": format!("T{i}")})),
                            None => continue,
                        },
                        95..98 => {
                            let policy = if rng.random_bool(0.5) { "reject" } else { "backorder" };
                            let sku = format!("N-{w}-{i}");
                            ("register", "/v1/products".into(), json!({"sku": sku, "name": "new", "unit_price_cents": 99, "currency": "EUR", "initial_stock": rng.random_range(0..10), "backorder_policy": policy}))
                        }
                        _ => {
                            // Rarely, and only ever the same product, so orders keep flowing.
                            ("discontinue", "/v1/products/B-3/discontinue".into(), json!({}))
                        }
                    };
                    let response = stack.command(&path, body).await;
                    assert!(response.status < 500, "{kind} {path} got {}: {}", response.status, response.text);
                    if response.status >= 400 {
                        let code = response.body["code"].as_str().unwrap_or("");
                        let expected = [
                            "insufficient_stock", "currency_mismatch", "product_discontinued", "already_discontinued",
                            "adjustment_below_reserved", "order_not_cancellable", "order_not_ready", "order_cancelled",
                            "order_already_shipped",
                        ];
                        assert!(expected.contains(&code), "{kind} {path} refused with {}: {}", response.status, response.text);
                    }
                    if kind == "place" && response.status == 201 {
                        let id = response.body["order_id"].as_str().and_then(|s| s.parse().ok()).expect("an order id");
                        orders.lock().expect("not poisoned").push(id);
                    }
                    outcomes.push((kind.to_owned(), response.status));
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.extend(task.await.expect("a worker finished"));
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_random_concurrent_workload_ends_with_read_models_equal_to_the_store() {
    let stack = Arc::new(Stack::spawn().await);
    let outcomes = run_workload(stack.clone(), 2_200, 8, SEED).await;
    assert!(
        outcomes.len() >= 2_000,
        "only {} commands ran",
        outcomes.len()
    );
    for kind in [
        "place",
        "receive",
        "adjust",
        "price",
        "cancel",
        "ship",
        "register",
        "discontinue",
    ] {
        assert!(
            outcomes
                .iter()
                .any(|(k, status)| k == kind && *status < 300),
            "no {kind} command succeeded; the workload does not cover it"
        );
    }
    assert!(
        outcomes.iter().any(|(k, s)| k == "place" && *s == 422),
        "no order was ever refused"
    );
    assert_read_models_match_the_store(&stack).await;
}
