//! Stock as of an instant: every product's stock and value as they stood at a moment in the
//! middle of their history (`GET /v1/analytics/stock`), read page by page over a store the
//! long stream has made large.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgConnection;

use super::{check, register};
use crate::load::{self, Samples, percentile};
use crate::plan::Plan;
use crate::results::StockAsOf;
use crate::stack::{Stack, catch_up};
use crate::system::BoxError;

/// The products of this scenario are `STOCK-0`, `STOCK-1`, …
const PREFIX: &str = "STOCK";
/// Units each product is registered with, and what each round of history does to it.
const INITIAL_STOCK: i64 = 100;
const ROUNDS: [Round; 2] = [
    Round {
        received: 5,
        price_cents: 120,
    },
    Round {
        received: 3,
        price_cents: 150,
    },
];
/// The largest page the endpoint serves.
const PAGE_LIMIT: u32 = 500;
/// Times the single page at now is asked for.
const NOW_PAGES: usize = 20;

/// One round of history on every product: a receipt and a price change.
struct Round {
    received: i64,
    price_cents: i64,
}

/// Registers the scenario's products, gives them two rounds of history with an instant
/// between, then reads the whole listing at that instant several times, and one page as
/// the stock stands now.
pub async fn stock_as_of(
    plan: &Plan,
    stack: &Stack,
    db: &mut PgConnection,
    problems: &mut Vec<String>,
) -> Result<StockAsOf, BoxError> {
    stack.memory_so_far();
    eprintln!(
        "stock as of an instant: registering {} products with history",
        plan.stock_products
    );
    let (client, url) = (&stack.client, stack.command_url.as_str());
    register(
        client,
        url,
        PREFIX,
        plan.stock_products,
        INITIAL_STOCK,
        "reject",
    )
    .await?;
    history(stack, plan, &ROUNDS[0]).await?;
    let as_of = db_now(db).await?;
    history(stack, plan, &ROUNDS[1]).await?;
    catch_up(db, Duration::from_secs(300)).await?;

    eprintln!(
        "GET /v1/analytics/stock?as_of={as_of}, every page, {} times",
        plan.stock_repetitions
    );
    let mut listings = Vec::with_capacity(plan.stock_repetitions);
    let mut pages = Samples::default();
    for _ in 0..plan.stock_repetitions {
        listings.push(read_all(stack, &as_of, &mut pages).await?);
    }
    let first = &listings[0];
    if first.wrong > 0 {
        problems.push(format!(
            "stock as of {as_of}: {} of the {PREFIX} products not as they stood then",
            first.wrong
        ));
    }
    if first.ours < plan.stock_products as u64 {
        problems.push(format!(
            "stock as of {as_of}: {} of {} {PREFIX} products listed",
            first.ours, plan.stock_products
        ));
    }
    let mut totals: Vec<Duration> = listings.iter().map(|l| l.took).collect();
    totals.sort_unstable();
    let read_for = totals.iter().sum();
    let page = pages.summary(read_for);
    check(problems, "stock as of an instant, pages", &page);
    let now_page = now_page(stack).await;
    check(problems, "stock now, one page", &now_page);
    Ok(StockAsOf {
        as_of,
        products: first.items,
        pages: first.pages,
        page_limit: PAGE_LIMIT,
        repetitions: listings.len(),
        all_pages_p50_ms: percentile(&totals, 0.5),
        all_pages_max_ms: percentile(&totals, 1.0),
        page,
        now_page,
    })
}

/// One round on every product of the scenario: a receipt, then a price change.
async fn history(stack: &Stack, plan: &Plan, round: &Round) -> Result<(), BoxError> {
    let url = stack.command_url.clone();
    let (received, price_cents) = (round.received, round.price_cents);
    // A product's receipt and price change go in order: one worker sends both.
    each(
        &stack.client,
        plan.stock_products,
        plan.concurrency * 2,
        move |client, i| {
            let product = format!("{url}/v1/products/{PREFIX}-{i}");
            vec![
                client
                    .post(format!("{product}/receipts"))
                    .json(&serde_json::json!({ "quantity": received })),
                client
                    .post(format!("{product}/price"))
                    .json(&serde_json::json!({ "unit_price_cents": price_cents })),
            ]
        },
    )
    .await
}

/// Sends `requests(i)` for i in 0..count, in order for each i, `workers` at a time.
async fn each<F>(
    client: &reqwest::Client,
    count: usize,
    workers: usize,
    requests: F,
) -> Result<(), BoxError>
where
    F: Fn(&reqwest::Client, usize) -> Vec<reqwest::RequestBuilder> + Send + Sync + 'static,
{
    let (next, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(requests));
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (client, next, requests) = (client.clone(), next.clone(), requests.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok(());
                    }
                    for request in requests(&client, i) {
                        load::send(request).await?;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?
            .map_err(|e: String| format!("cannot give the products a history: {e}"))?;
    }
    Ok(())
}

/// The database's clock, as an RFC 3339 instant in UTC to the microsecond.
async fn db_now(db: &mut PgConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        r#"SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#,
    )
    .fetch_one(db)
    .await
}

/// One reading of the whole listing.
struct Listing {
    took: Duration,
    pages: u64,
    items: u64,
    /// The scenario's own products listed, and those of them not as they stood at `as_of`.
    ours: u64,
    wrong: u64,
}

/// Reads every page of the stock at `as_of`, each page's latency into `pages`.
async fn read_all(stack: &Stack, as_of: &str, pages: &mut Samples) -> Result<Listing, BoxError> {
    let first = format!(
        "{}/v1/analytics/stock?as_of={as_of}&limit={PAGE_LIMIT}",
        stack.query_url
    );
    let mut listing = Listing {
        took: Duration::ZERO,
        pages: 0,
        items: 0,
        ours: 0,
        wrong: 0,
    };
    let started = Instant::now();
    let mut next = Some(first.clone());
    while let Some(url) = next.take() {
        let sent = Instant::now();
        let body = load::send(stack.client.get(&url))
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        pages.latencies.push(sent.elapsed());
        let page: Value = serde_json::from_slice(&body)?;
        let items = page["items"].as_array().map_or(&[][..], Vec::as_slice);
        listing.pages += 1;
        listing.items += items.len() as u64;
        tally(&mut listing, items);
        next = page["next_cursor"]
            .as_str()
            .map(|cursor| format!("{first}&cursor={cursor}"));
    }
    listing.took = started.elapsed();
    Ok(listing)
}

/// Counts the scenario's products on a page, and those not as the first round left them.
fn tally(listing: &mut Listing, items: &[Value]) {
    let (prefix, expected_on_hand) = (format!("{PREFIX}-"), INITIAL_STOCK + ROUNDS[0].received);
    for item in items {
        if !item["sku"]
            .as_str()
            .is_some_and(|sku| sku.starts_with(&prefix))
        {
            continue;
        }
        listing.ours += 1;
        if item["on_hand"].as_i64() != Some(expected_on_hand)
            || item["unit_price_cents"].as_i64() != Some(ROUNDS[0].price_cents)
        {
            listing.wrong += 1;
        }
    }
}

/// The first page of the stock as it stands now, asked for again and again.
async fn now_page(stack: &Stack) -> crate::load::Summary {
    let url = format!("{}/v1/analytics/stock?limit={PAGE_LIMIT}", stack.query_url);
    let mut samples = Samples::default();
    let started = Instant::now();
    for _ in 0..NOW_PAGES {
        let sent = Instant::now();
        match load::send(stack.client.get(&url)).await {
            Ok(_) => samples.latencies.push(sent.elapsed()),
            Err(e) => samples.fail(e),
        }
    }
    samples.summary(started.elapsed())
}
