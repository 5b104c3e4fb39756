//! Place-order at half the most: latency in an open loop, and how soon a query sees each
//! command.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;
use sqlx::PgConnection;

use super::check;
use crate::hops::{self, Histograms};
use crate::load::{self, Samples};
use crate::plan::Plan;
use crate::results::HalfRate;
use crate::stack::{Stack, catch_up};
use crate::system::BoxError;

/// Place-orders at `rate` (half the most), each read back from the query service.
pub async fn half_rate(
    plan: &Plan,
    stack: &Stack,
    db: &mut PgConnection,
    rate: f64,
    problems: &mut Vec<String>,
) -> Result<HalfRate, BoxError> {
    stack.memory_so_far();
    eprintln!("place-order, open loop, {rate:.0}/s, {} s", plan.seconds);
    let before = scrape(stack).await?;
    let mut half_rate = visibility(
        &stack.client,
        &stack.command_url,
        &stack.query_url,
        plan,
        rate,
    )
    .await;
    half_rate.hops = hops::hops(&before, &scrape(stack).await?);
    check(problems, "place-order at half rate", &half_rate.commands);
    check(problems, "visibility", &half_rate.visibility_lag);
    for hop in &half_rate.hops {
        if hop.count == 0 {
            problems.push(format!(
                "half rate: nothing was measured for the hop `{}` ({})",
                hop.hop, hop.metric
            ));
        }
    }
    catch_up(db, Duration::from_secs(60)).await?;
    Ok(half_rate)
}

/// Place-orders in an open loop at `rate`; once answered, each order is read from the query
/// service with `min_position` set to the answer's position.
pub async fn visibility(
    client: &reqwest::Client,
    command_url: &str,
    query_url: &str,
    plan: &Plan,
    rate: f64,
) -> HalfRate {
    let products = plan.products;
    let outcomes = load::open_loop(rate, Duration::from_secs(plan.seconds), |n, due| {
        let client = client.clone();
        let (command_url, query_url) = (command_url.to_owned(), query_url.to_owned());
        async move {
            let sku = rand::rng().random_range(0..products);
            let request = client
                .post(format!("{command_url}/v1/orders"))
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"customer_id":"bench-{}","lines":[{{"sku":"BENCH-{sku}","quantity":1}}]}}"#,
                    n % 1_000
                ));
            let body = load::send(request).await?;
            let answered = Instant::now();
            let body: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            let (Some(id), Some(position)) = (body["order_id"].as_str(), body["position"].as_i64())
            else {
                return Err(format!("an order answer without order_id and position: {body}"));
            };
            let query = client.get(format!(
                "{query_url}/v1/orders/{id}?min_position={position}"
            ));
            load::send(query).await?;
            Ok((answered - due, answered.elapsed()))
        }
    })
    .await;
    let (mut commands, mut lags) = (Samples::default(), Samples::default());
    for outcome in outcomes {
        match outcome {
            Ok((command, lag)) => {
                commands.latencies.push(command);
                lags.latencies.push(lag);
            }
            Err(e) => commands.fail(e),
        }
    }
    let measured = Duration::from_secs(plan.seconds);
    HalfRate {
        rate,
        commands: commands.summary(measured),
        visibility_lag: lags.summary(measured),
        hops: Vec::new(),
    }
}

/// Every service's histograms as they stand.
async fn scrape(stack: &Stack) -> Result<BTreeMap<hops::Service, Histograms>, BoxError> {
    let mut scraped = BTreeMap::new();
    for (service, url) in [
        (hops::Service::Commands, &stack.command_url),
        (hops::Service::Projector, &stack.projector_url),
        (hops::Service::Queries, &stack.query_url),
    ] {
        scraped.insert(service, Histograms::scrape(&stack.client, url).await?);
    }
    Ok(scraped)
}
