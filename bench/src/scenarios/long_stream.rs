//! A long stream: place-orders on a product with a long history against a new one's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgConnection;

use super::{check, register};
use crate::load::{self, Samples, Summary};
use crate::plan::Plan;
use crate::results::HotProduct;
use crate::stack::{Stack, catch_up};
use crate::system::BoxError;

/// Seeds HOT-0 with the plan's events, then alternates orders between it and NEW-0 at a
/// quarter of `rate` (half the most), within 1 to 400 a second.
pub async fn long_stream(
    plan: &Plan,
    stack: &Stack,
    db: &mut PgConnection,
    rate: f64,
    problems: &mut Vec<String>,
) -> Result<HotProduct, BoxError> {
    let (client, url) = (&stack.client, stack.command_url.as_str());
    stack.memory_so_far();
    eprintln!("seeding a product with {} events", plan.hot_product_events);
    register(client, url, "HOT", 1, 1_000_000_000, "reject").await?;
    register(client, url, "NEW", 1, 1_000_000_000, "reject").await?;
    let seeded = Instant::now();
    seed_receipts(
        client,
        url,
        "HOT-0",
        plan.hot_product_events - 1,
        plan.concurrency * 2,
    )
    .await?;
    let seed_receipts_per_second =
        (plan.hot_product_events - 1) as f64 / seeded.elapsed().as_secs_f64();
    catch_up(db, Duration::from_secs(600)).await?;
    let hot_rate = (rate / 4.0).clamp(1.0, 400.0);
    stack.memory_so_far();
    eprintln!("hot against new product, open loop, {hot_rate:.0}/s");
    let (hot, new) = hot_and_new(client, url, plan, hot_rate).await;
    check(problems, "orders on the hot product", &hot);
    check(problems, "orders on a new product", &new);
    catch_up(db, Duration::from_secs(60)).await?;
    Ok(HotProduct {
        seeded_events: plan.hot_product_events,
        seed_receipts_per_second,
        rate: hot_rate,
        hot,
        new,
    })
}

/// `count` receipts of one unit each on `sku`, `concurrency` at a time.
async fn seed_receipts(
    client: &reqwest::Client,
    url: &str,
    sku: &str,
    count: u64,
    concurrency: usize,
) -> Result<(), BoxError> {
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            let url = format!("{url}/v1/products/{sku}/receipts");
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let request = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(r#"{"quantity":1}"#);
                    load::send(request).await?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await?.map_err(|e| format!("seeding failed: {e}"))?;
    }
    Ok(())
}

/// Orders alternate between the hot product and a new one, so that whatever else the box
/// does weighs on both alike.
async fn hot_and_new(
    client: &reqwest::Client,
    url: &str,
    plan: &Plan,
    rate: f64,
) -> (Summary, Summary) {
    let outcomes = load::open_loop(rate, Duration::from_secs(plan.seconds), |n, due| {
        let client = client.clone();
        let url = url.to_owned();
        async move {
            let sku = if n % 2 == 0 { "HOT-0" } else { "NEW-0" };
            let request = client
                .post(format!("{url}/v1/orders"))
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"customer_id":"bench-hot","lines":[{{"sku":"{sku}","quantity":1}}]}}"#
                ));
            (n % 2 == 0, load::send(request).await.map(|_| due.elapsed()))
        }
    })
    .await;
    let (mut hot, mut new) = (Samples::default(), Samples::default());
    for (is_hot, outcome) in outcomes {
        let samples = if is_hot { &mut hot } else { &mut new };
        match outcome {
            Ok(latency) => samples.latencies.push(latency),
            Err(e) => samples.fail(e),
        }
    }
    let measured = Duration::from_secs(plan.seconds);
    (hot.summary(measured), new.summary(measured))
}
