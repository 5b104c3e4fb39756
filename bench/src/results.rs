//! What a run found, as written to results.json: every figure, with the CPU each part of the
//! box used, and each goal of docs/performance.md set against its figure. The run fills
//! these in; the goals and the report only read them.

use serde::Serialize;
use serde_json::Value;

use crate::baselines::{Pgbench, Publishing, TableBuild};
use crate::load::Summary;
use crate::plan::Plan;
use crate::system::CpuUse;

/// The JSON result of a run.
#[derive(Debug, Serialize)]
pub struct Results {
    pub plan: Plan,
    pub machine: Machine,
    pub baselines: Baselines,
    pub stockflow: Stockflow,
    pub peer: Option<Peer>,
    pub goals: Vec<Goal>,
    /// Failed requests, zero figures and the like: a run with problems is not to be trusted.
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub postgresql: String,
    pub rabbitmq: String,
}

#[derive(Debug, Serialize)]
pub struct Baselines {
    pub b1_place_order_sql: Pgbench,
    pub b1_cpu: CpuUse,
    pub b2_publish: Publishing,
    pub b2_cpu: CpuUse,
    pub b3_primary_key_select: Pgbench,
    pub b3_cpu: CpuUse,
    pub b4_insert_select: TableBuild,
}

#[derive(Debug, Serialize)]
pub struct Stockflow {
    pub max_rate: MaxRate,
    pub half_rate: HalfRate,
    pub product_reads: Summary,
    pub reads_cpu: CpuUse,
    pub hot_product: HotProduct,
    pub rebuild: Value,
    pub stock_as_of: StockAsOf,
    pub replay: ReplayLatency,
    pub peak_rss_mib: Vec<(String, f64)>,
    pub load_generator_cpu_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct MaxRate {
    pub commands: Summary,
    pub events_per_second: f64,
    pub keeps_up: KeepsUp,
    pub cpu: CpuUse,
}

/// Whether the relay and the projector keep up with the commands: how far behind the head
/// each was over the measured stretch, and how long they took to catch up after it.
#[derive(Debug, Default, Serialize)]
pub struct KeepsUp {
    pub relay_lag_max_events: i64,
    pub relay_lag_end_events: i64,
    pub projector_lag_max_events: i64,
    pub projector_lag_end_events: i64,
    /// Lag growth over the stretch, least-squares, in events per second (0 if it keeps up).
    pub projector_lag_growth_per_second: f64,
    pub catch_up_seconds: f64,
    pub verdict: bool,
}

#[derive(Debug, Serialize)]
pub struct HalfRate {
    pub rate: f64,
    pub commands: Summary,
    pub visibility_lag: Summary,
    /// Where the time went, hop by hop, as the services measured it over the stretch.
    pub hops: Vec<crate::hops::Hop>,
}

#[derive(Debug, Serialize)]
pub struct HotProduct {
    pub seeded_events: u64,
    pub seed_receipts_per_second: f64,
    pub rate: f64,
    pub hot: Summary,
    pub new: Summary,
}

/// Every product's stock as of an instant (`GET /v1/analytics/stock`), read page by page.
#[derive(Debug, Serialize)]
pub struct StockAsOf {
    /// The instant asked for: between two rounds of receipts and price changes.
    pub as_of: String,
    /// Products a whole listing held, and in how many pages of `page_limit`.
    pub products: u64,
    pub pages: u64,
    pub page_limit: u32,
    pub repetitions: usize,
    /// Time to read every page of the listing: the median and the slowest repetition.
    pub all_pages_p50_ms: f64,
    pub all_pages_max_ms: f64,
    /// Every page of every repetition.
    pub page: Summary,
    /// One page of the stock as it stands now, asked for again and again.
    pub now_page: Summary,
}

/// Place-orders at one rate, alone and then while a replay of the whole store runs into a
/// queue of the benchmark's own.
#[derive(Debug, Serialize)]
pub struct ReplayLatency {
    pub rate: f64,
    pub alone: Summary,
    pub alone_seconds: f64,
    pub during: Summary,
    pub during_seconds: f64,
    pub replay: ReplayRun,
}

/// What the replay did, as its `GET /v1/admin/replays/{id}` said.
#[derive(Debug, Default, Serialize)]
pub struct ReplayRun {
    /// The command service's `REPLAY_RATE`.
    pub rate_limit: u32,
    /// The store's head when it started: the replay covers positions 1 to it.
    pub to: i64,
    /// Messages confirmed while the commands ran, and per second of that stretch.
    pub with_commands: i64,
    pub with_commands_per_second: f64,
    /// Messages confirmed per second once the commands had stopped, over that many seconds.
    pub quiet_per_second: f64,
    pub quiet_seconds: f64,
    /// Messages confirmed in all.
    pub published: i64,
    /// `done`, or `cancelled` at the end of the scenario (else what went wrong).
    pub status: String,
    pub completed: bool,
    /// Messages the ack-only subscriber took off the queue.
    pub delivered: u64,
}

#[derive(Debug, Serialize)]
pub struct Peer {
    pub max_rate: Summary,
    pub half_rate: Summary,
    pub peak_rss_mib: f64,
    pub cpu: CpuUse,
}

/// One line of the goals table of docs/performance.md, with this run's figure.
#[derive(Debug, Serialize)]
pub struct Goal {
    pub what: String,
    pub value: f64,
    pub unit: &'static str,
    pub baseline: Option<(String, f64)>,
    pub ratio: Option<f64>,
    pub goal: String,
    pub met: bool,
}
