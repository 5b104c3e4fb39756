//! Load generator for stockflow: drives the command API in a closed loop and reports
//! throughput and latency percentiles. Figures are compared with baselines measured in the
//! same run; nothing here asserts a speed.

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rand::Rng;
use serde_json::json;

#[derive(Parser)]
#[command(name = "stockflow-bench", about = "stockflow's load generator")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Place single-line orders as fast as the service takes them (closed loop).
    PlaceOrders {
        /// The command service.
        #[arg(long, default_value = "http://127.0.0.1:8081")]
        url: String,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seconds measured, after the warm-up.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 2)]
        warmup_seconds: u64,
        /// Products the orders are spread over.
        #[arg(long, default_value_t = 1000)]
        products: usize,
    },
}

#[tokio::main]
async fn main() {
    match Cli::parse().scenario {
        Scenario::PlaceOrders {
            url,
            concurrency,
            seconds,
            warmup_seconds,
            products,
        } => {
            place_orders(
                &url,
                concurrency,
                Duration::from_secs(seconds),
                Duration::from_secs(warmup_seconds),
                products,
            )
            .await
        }
    }
}

async fn place_orders(
    url: &str,
    concurrency: usize,
    measure: Duration,
    warmup: Duration,
    products: usize,
) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("an HTTP client");
    for i in 0..products {
        let response = client
            .post(format!("{url}/v1/products"))
            .json(
                &json!({"sku": format!("BENCH-{i}"), "name": "bench", "unit_price_cents": 100,
                          "currency": "EUR", "initial_stock": 1_000_000_000}),
            )
            .send()
            .await
            .expect("the command service answers");
        assert!(
            matches!(response.status().as_u16(), 201 | 409),
            "cannot register products: {}",
            response.status()
        );
    }

    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let url = url.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                loop {
                    let now = Instant::now();
                    if now - start >= warmup + measure {
                        break;
                    }
                    let sku = format!("BENCH-{}", rand::rng().random_range(0..products));
                    let response = client
                        .post(format!("{url}/v1/orders"))
                        .json(&json!({"customer_id": "bench", "lines": [{"sku": sku, "quantity": 1}]}))
                        .send()
                        .await;
                    let ok = matches!(&response, Ok(r) if r.status().as_u16() == 201);
                    if let Ok(r) = response {
                        let _ = r.bytes().await;
                    }
                    if now - start >= warmup {
                        if ok {
                            latencies.push(now.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await.expect("a worker finished");
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{}",
        json!({
            "scenario": "place-orders",
            "concurrency": concurrency,
            "seconds": measure.as_secs(),
            "commands": latencies.len(),
            "errors": errors,
            "commands_per_second": latencies.len() as f64 / measure.as_secs_f64(),
            "p50_ms": pct(0.50).as_secs_f64() * 1e3,
            "p99_ms": pct(0.99).as_secs_f64() * 1e3,
        })
    );
}
