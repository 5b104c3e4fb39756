//! What the load sends: products registered up front, and place-orders.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

use crate::load;
use crate::system::BoxError;

/// A closed-loop request maker: single-line orders of one unit on a random product.
pub fn place_order(
    client: reqwest::Client,
    url: &str,
    products: usize,
) -> impl Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static {
    let url = format!("{url}/v1/orders");
    move |n| {
        let sku = rand::rng().random_range(0..products);
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"customer_id":"bench-{}","lines":[{{"sku":"BENCH-{sku}","quantity":1}}]}}"#,
                n % 1_000
            ))
    }
}

/// Registers products `<prefix>-0` to `<prefix>-<count - 1>`, 16 at a time.
pub async fn register(
    client: &reqwest::Client,
    url: &str,
    prefix: &str,
    count: usize,
    initial_stock: i64,
    policy: &str,
) -> Result<(), BoxError> {
    let (next, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, next, failed) = (client.clone(), next.clone(), failed.clone());
            let (url, prefix, policy) = (url.to_owned(), prefix.to_owned(), policy.to_owned());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count as u64 {
                        return None;
                    }
                    let body = serde_json::json!({
                        "sku": format!("{prefix}-{i}"), "name": "benchmark product",
                        "unit_price_cents": 100, "currency": "EUR",
                        "initial_stock": initial_stock, "backorder_policy": policy,
                    });
                    let request = client.post(format!("{url}/v1/products")).json(&body);
                    if let Err(e) = load::send(request).await {
                        failed.fetch_add(1, Ordering::Relaxed);
                        return Some(e);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        if let Some(error) = worker.await? {
            return Err(format!("cannot register the benchmark's products: {error}").into());
        }
    }
    Ok(())
}
