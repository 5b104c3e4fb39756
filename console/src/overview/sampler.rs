//! The overview's sampler: on a fixed beat, reads the three services' `/metrics` and
//! `/readyz` (open endpoints: no token), and records what it read on the board.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::prometheus::Scrape;
use super::ring::Reading;
use super::{Board, Readiness};
use crate::upstream::{Upstream, Upstreams};

/// Longest wait for one service's answer; a slower service is read as not answering.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest `/metrics` answer read.
const MAX_METRICS_BYTES: usize = 4 * 1024 * 1024;

/// Samples every `every` until `stop`.
pub async fn run(
    upstreams: Arc<Upstreams>,
    board: Arc<Board>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut beat = tokio::time::interval(every);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = beat.tick() => {}
        }
        tokio::select! {
            () = stop.cancelled() => return,
            (readiness, reading) = sample(&upstreams) => board.record(readiness, reading),
        }
    }
}

/// One sampling. Each metric is read from the service that owns it: in tests, where
/// services share one recorder, any of them would show it, and adding theirs up would count
/// it several times.
pub async fn sample(upstreams: &Upstreams) -> (Vec<Readiness>, Reading) {
    let at = Utc::now();
    let (commands, queries, projector, ready) = tokio::join!(
        scrape(upstreams, Upstream::Commands),
        scrape(upstreams, Upstream::Queries),
        scrape(upstreams, Upstream::Projector),
        readiness(upstreams),
    );
    let commands = commands.unwrap_or_default();
    let queries = queries.unwrap_or_default();
    let projector = projector.unwrap_or_default();
    let reading = Reading {
        at,
        commands_total: commands.sum("stockflow_commands_total"),
        relay_position: commands.max("stockflow_relay_published_position"),
        relay_lag_events: commands.max("stockflow_relay_lag_events"),
        projector_position: projector.max("stockflow_projector_position"),
        lag_events: projector.max("stockflow_projector_lag_events"),
        lag_seconds: projector.max("stockflow_projector_lag_seconds"),
        dead_letters: projector.max("stockflow_dead_letters_stored"),
        replica_lag_seconds: queries.max("stockflow_replica_replay_lag_seconds"),
    };
    (ready, reading)
}

async fn readiness(upstreams: &Upstreams) -> Vec<Readiness> {
    let (commands, queries, projector) = tokio::join!(
        ready(upstreams, Upstream::Commands),
        ready(upstreams, Upstream::Queries),
        ready(upstreams, Upstream::Projector),
    );
    [
        (Upstream::Commands, commands),
        (Upstream::Queries, queries),
        (Upstream::Projector, projector),
    ]
    .into_iter()
    .map(|(upstream, ready)| Readiness {
        service: upstream.service_name(),
        ready,
    })
    .collect()
}

/// The service's `/metrics`, or `None` if it did not answer them.
async fn scrape(upstreams: &Upstreams, upstream: Upstream) -> Option<Scrape> {
    let answer = upstreams
        .client()
        .get(upstreams.metrics_url(upstream))
        .timeout(ANSWER_TIMEOUT)
        .send()
        .await
        .ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let body = crate::upstream::read_limited(answer, MAX_METRICS_BYTES)
        .await
        .ok()?;
    Some(Scrape::parse(&String::from_utf8_lossy(&body)))
}

/// Whether the service answers `/readyz` with 200.
async fn ready(upstreams: &Upstreams, upstream: Upstream) -> bool {
    upstreams
        .client()
        .get(upstreams.endpoint(upstream, "readyz"))
        .timeout(ANSWER_TIMEOUT)
        .send()
        .await
        .is_ok_and(|answer| answer.status() == reqwest::StatusCode::OK)
}
