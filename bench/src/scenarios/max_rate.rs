//! Place-order at the most: a closed loop with the relay and the projector running, and
//! whether they keep up with it.

use std::time::{Duration, Instant};

use sqlx::{Connection as _, PgConnection};

use super::{check, place_order};
use crate::load;
use crate::plan::Plan;
use crate::results::{KeepsUp, MaxRate};
use crate::stack::{EXCHANGE, Stack, catch_up, head};
use crate::system::{BoxError, CpuSnapshot};

/// The most place-orders the system takes, relay and projector running.
pub async fn max_rate(
    plan: &Plan,
    stack: &Stack,
    db: &mut PgConnection,
    problems: &mut Vec<String>,
) -> Result<MaxRate, BoxError> {
    eprintln!(
        "place-order, closed loop, {} in flight, {} s",
        plan.concurrency, plan.seconds
    );
    let services = stack.services();
    let head_before = head(db).await?;
    let cpu_before = CpuSnapshot::take(&services);
    let sampler = tokio::spawn(sample_lag(
        stack.database_url.clone(),
        Duration::from_secs(plan.warmup_seconds),
        Duration::from_secs(plan.seconds),
    ));
    let max = load::closed_loop(
        plan.concurrency,
        Duration::from_secs(plan.warmup_seconds),
        Duration::from_secs(plan.seconds),
        place_order(stack.client.clone(), &stack.command_url, plan.products),
    )
    .await;
    let cpu = CpuSnapshot::take(&services).since(&cpu_before);
    let events = head(db).await? - head_before;
    let lag = sampler.await??;
    let catch_up_seconds = catch_up(db, Duration::from_secs(300)).await?;
    let keeps_up = keeps_up(&lag, catch_up_seconds, max.per_second);
    let max_rate = MaxRate {
        events_per_second: events as f64 / (plan.seconds + plan.warmup_seconds) as f64,
        commands: max,
        keeps_up,
        cpu,
    };
    check(problems, "place-order at the most", &max_rate.commands);
    Ok(max_rate)
}

/// Lag samples: seconds since the measured stretch began, the head, the relay's and the
/// projector's positions.
type LagSample = (f64, i64, i64, i64);

async fn sample_lag(
    database_url: String,
    warmup: Duration,
    measure: Duration,
) -> Result<Vec<LagSample>, BoxError> {
    let mut db = PgConnection::connect(&database_url).await?;
    tokio::time::sleep(warmup).await;
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < measure {
        let (head, relay, projector): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT position FROM event_store.head),
                    coalesce((SELECT position FROM event_store.relay_checkpoints WHERE name = $1), 0),
                    (SELECT min(position) FROM read.projections)",
        )
        .bind(EXCHANGE)
        .fetch_one(&mut db)
        .await?;
        samples.push((start.elapsed().as_secs_f64(), head, relay, projector));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(samples)
}

/// The relay and projector keep up if, over the stretch, the projector's lag did not grow
/// (least-squares slope under 2 % of the command rate) and they caught up within 5 s after.
fn keeps_up(samples: &[LagSample], catch_up_seconds: f64, commands_per_second: f64) -> KeepsUp {
    let relay: Vec<i64> = samples.iter().map(|s| s.1 - s.2).collect();
    let projector: Vec<(f64, f64)> = samples.iter().map(|s| (s.0, (s.1 - s.3) as f64)).collect();
    let n = projector.len() as f64;
    let growth = if projector.len() >= 2 {
        let (mean_t, mean_l) = (
            projector.iter().map(|p| p.0).sum::<f64>() / n,
            projector.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let covariance: f64 = projector
            .iter()
            .map(|p| (p.0 - mean_t) * (p.1 - mean_l))
            .sum();
        let variance: f64 = projector.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
        if variance > 0.0 {
            covariance / variance
        } else {
            0.0
        }
    } else {
        0.0
    };
    KeepsUp {
        relay_lag_max_events: relay.iter().copied().max().unwrap_or(0),
        relay_lag_end_events: relay.last().copied().unwrap_or(0),
        projector_lag_max_events: projector.iter().map(|p| p.1 as i64).max().unwrap_or(0),
        projector_lag_end_events: projector.last().map_or(0, |p| p.1 as i64),
        projector_lag_growth_per_second: growth,
        catch_up_seconds,
        verdict: growth < 0.02 * commands_per_second.max(1.0) && catch_up_seconds < 5.0,
    }
}
