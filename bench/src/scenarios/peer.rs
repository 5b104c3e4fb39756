//! The peer: the same PlaceOrder on cqrs-es + postgres-es (`bench/peer`), under the same
//! load, in a database of its own.

use std::time::Duration;

use super::{check, place_order, register};
use crate::database::{drop_database, recreate_database};
use crate::load::{self, Samples};
use crate::plan::{Plan, Setup};
use crate::results::Peer;
use crate::system::{BoxError, CpuSnapshot, Service, free_port};

/// The peer's database, made for it and dropped after.
const PEER_DB: &str = "stockflow_bench_peer";

/// Place-orders on the peer at the most (closed loop), then at half that (open loop).
pub async fn peer(
    plan: &Plan,
    setup: &Setup,
    problems: &mut Vec<String>,
) -> Result<Peer, BoxError> {
    recreate_database(&setup.postgres_url, PEER_DB).await?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let peer = Service::start(
        "stockflow-peer",
        &setup.bin_dir.join("stockflow-peer"),
        &[
            ("DATABASE_URL", setup.database_url(PEER_DB)),
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
        ],
        &setup.out.join("stockflow-peer.log"),
        &url,
    )
    .await?;
    let client = load::client(None, plan.concurrency * 2);
    register(
        &client,
        &url,
        "BENCH",
        plan.products,
        1_000_000_000,
        "reject",
    )
    .await?;
    eprintln!(
        "peer: place-order, closed loop, {} in flight, {} s",
        plan.concurrency, plan.seconds
    );
    let before = CpuSnapshot::take(&[&peer]);
    let max_rate = load::closed_loop(
        plan.concurrency,
        Duration::from_secs(plan.warmup_seconds),
        Duration::from_secs(plan.seconds),
        place_order(client.clone(), &url, plan.products),
    )
    .await;
    let cpu = CpuSnapshot::take(&[&peer]).since(&before);
    check(problems, "peer place-order at the most", &max_rate);
    let rate = (max_rate.per_second / 2.0).max(1.0);
    eprintln!("peer: place-order, open loop, {rate:.0}/s");
    let products = plan.products;
    let outcomes = load::open_loop(rate, Duration::from_secs(plan.seconds), |n, due| {
        let request = place_order(client.clone(), &url, products)(n);
        async move { load::send(request).await.map(|_| due.elapsed()) }
    })
    .await;
    let mut samples = Samples::default();
    for outcome in outcomes {
        match outcome {
            Ok(latency) => samples.latencies.push(latency),
            Err(e) => samples.fail(e),
        }
    }
    let half_rate = samples.summary(Duration::from_secs(plan.seconds));
    check(problems, "peer place-order at half rate", &half_rate);
    let peak_rss_mib = peer.peak_rss_mib();
    if let Err(e) = peer.stop().await {
        problems.push(e.to_string());
    }
    drop_database(&setup.postgres_url, PEER_DB).await?;
    Ok(Peer {
        max_rate,
        half_rate,
        peak_rss_mib,
        cpu,
    })
}
