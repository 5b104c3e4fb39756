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
    /// Bearer token sent with every request (commands:write, and queries:read for the
    /// visibility scenario); `command-service token --scope admin` makes one. Services under
    /// load should run with RATE_LIMIT_PER_SECOND=0.
    #[arg(long, env = "STOCKFLOW_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
}

static TOKEN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// An HTTP client that sends the token, if one was given, with every request.
fn client(pool: usize) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(Some(token)) = TOKEN.get() {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}")
                .parse()
                .expect("a token is a valid header value"),
        );
    }
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
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
    /// Place orders at a fixed rate (open loop) and measure how long each takes to become
    /// visible in the query service: from the command's answer to a query at its position.
    Visibility {
        #[arg(long, default_value = "http://127.0.0.1:8081")]
        url: String,
        #[arg(long, default_value = "http://127.0.0.1:8082")]
        query_url: String,
        /// Commands per second.
        #[arg(long, default_value_t = 500)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 1000)]
        products: usize,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let _ = TOKEN.set(cli.token);
    match cli.scenario {
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
        Scenario::Visibility {
            url,
            query_url,
            rate,
            seconds,
            products,
        } => {
            visibility(
                &url,
                &query_url,
                rate,
                Duration::from_secs(seconds),
                products,
            )
            .await
        }
    }
}

async fn register_products(client: &reqwest::Client, url: &str, products: usize) {
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
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default().as_secs_f64() * 1e3
}

async fn visibility(url: &str, query_url: &str, rate: u64, measure: Duration, products: usize) {
    let client = client(64);
    register_products(&client, url, products).await;
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::new();
    while start.elapsed() < measure {
        ticker.tick().await;
        let client = client.clone();
        let (url, query_url) = (url.to_owned(), query_url.to_owned());
        tasks.push(tokio::spawn(async move {
            let sku = format!("BENCH-{}", rand::rng().random_range(0..products));
            let sent = Instant::now();
            let response = client
                .post(format!("{url}/v1/orders"))
                .json(&json!({"customer_id": "bench", "lines": [{"sku": sku, "quantity": 1}]}))
                .send()
                .await
                .ok()?;
            let body: serde_json::Value = response.json().await.ok()?;
            let answered = Instant::now();
            let id = body["order_id"].as_str()?.to_owned();
            let position = body["position"].as_i64()?;
            let seen = client
                .get(format!(
                    "{query_url}/v1/orders/{id}?min_position={position}"
                ))
                .send()
                .await
                .ok()?;
            (seen.status().as_u16() == 200).then(|| (answered - sent, answered.elapsed()))
        }));
    }
    let mut commands = Vec::new();
    let mut lags = Vec::new();
    let mut errors = 0;
    for task in tasks {
        match task.await.ok().flatten() {
            Some((command, lag)) => {
                commands.push(command);
                lags.push(lag);
            }
            None => errors += 1,
        }
    }
    commands.sort();
    lags.sort();
    println!(
        "{}",
        json!({
            "scenario": "visibility",
            "rate": rate,
            "seconds": measure.as_secs(),
            "commands": commands.len(),
            "errors": errors,
            "command_p50_ms": percentile(&commands, 0.50),
            "command_p99_ms": percentile(&commands, 0.99),
            "visibility_lag_p50_ms": percentile(&lags, 0.50),
            "visibility_lag_p99_ms": percentile(&lags, 0.99),
        })
    );
}

async fn place_orders(
    url: &str,
    concurrency: usize,
    measure: Duration,
    warmup: Duration,
    products: usize,
) {
    let client = client(concurrency);
    register_products(&client, url, products).await;

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
    println!(
        "{}",
        json!({
            "scenario": "place-orders",
            "concurrency": concurrency,
            "seconds": measure.as_secs(),
            "commands": latencies.len(),
            "errors": errors,
            "commands_per_second": latencies.len() as f64 / measure.as_secs_f64(),
            "p50_ms": percentile(&latencies, 0.50),
            "p99_ms": percentile(&latencies, 0.99),
        })
    );
}
