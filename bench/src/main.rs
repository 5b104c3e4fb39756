//! stockflow's benchmark (docs/performance.md): in one run, on this box, the baselines
//! (pgbench and raw confirmed publishes), stockflow's scenarios beside them, and the same
//! PlaceOrder on cqrs-es + postgres-es. Figures are compared with what was measured in the
//! same run; nothing here asserts a speed.
//!
//! The modules, from the bottom up: `system` (processes, CPU and memory), `load` (closed
//! and open loops), `database`, `baselines` (B1 to B4), `plan` and `results` (what a run is
//! asked and what it found), `stack` (stockflow's services under test), `scenarios` (one
//! function each), `run` (the scenarios in order), and `goals` and `report`, which only read
//! the results. `abuse` is the abuse run (docs/testing.md): the same services, attacked.

mod abuse;
mod baselines;
mod database;
mod goals;
mod hops;
mod load;
mod plan;
mod report;
mod results;
mod run;
mod scenarios;
mod stack;
mod system;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "stockflow-bench",
    about = "stockflow's benchmark (docs/performance.md)"
)]
struct Cli {
    /// A short smoke run of every scenario: shows the benchmark works and its figures are
    /// sane (no failed request, nothing zero); its figures are not comparable.
    #[arg(long)]
    quick: bool,
    /// Requests in flight in the closed loops, and pgbench clients.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Seconds of each measured stretch.
    #[arg(long)]
    seconds: Option<u64>,
    /// Events on the long stream of the hot-product scenario.
    #[arg(long)]
    hot_product_events: Option<u64>,
    /// PostgreSQL server (no database name); the benchmark makes and drops its own databases.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres_url: String,
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Where the services' binaries are (default: beside this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Where the report (report.md, results.json) and the services' logs go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Leave out the cqrs-es peer.
    #[arg(long)]
    no_peer: bool,
    #[command(subcommand)]
    scenario: Option<Scenario>,
}

/// Instead of the benchmark: one scenario against a system already running (for profiling
/// it), or the abuse run.
#[derive(clap::Subcommand)]
enum Scenario {
    /// The abuse run (docs/testing.md): the services started as the benchmark starts them,
    /// attacked one way after another while a normal client measures its success and
    /// latency; fails if the normal client, a service's memory or a limit does not hold.
    Abuse(abuse::Options),
    /// Place-orders at the most (closed loop), then at a fixed rate (open loop) with the
    /// visibility lag of each, on products BENCH-0.. registered first if missing.
    Orders {
        #[arg(long, default_value = "http://127.0.0.1:8081")]
        url: String,
        #[arg(long, default_value = "http://127.0.0.1:8082")]
        query_url: String,
        /// Commands per second of the open loop; 0 leaves it out.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Requests in flight of the closed loop; 0 leaves it out.
        #[arg(long, default_value_t = 32)]
        in_flight: usize,
        /// Bearer token (admin scope); the services should run with RATE_LIMIT_PER_SECOND=0.
        #[arg(long, env = "STOCKFLOW_TOKEN", hide_env_values = true)]
        token: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut plan = if cli.quick {
        plan::Plan::quick()
    } else {
        plan::Plan::full()
    };
    plan.concurrency = cli.concurrency.unwrap_or(plan.concurrency);
    plan.seconds = cli.seconds.unwrap_or(plan.seconds);
    plan.hot_product_events = cli
        .hot_product_events
        .unwrap_or(plan.hot_product_events)
        .max(2);
    let options = match cli.scenario {
        Some(Scenario::Orders {
            url,
            query_url,
            rate,
            in_flight,
            token,
        }) => {
            plan.concurrency = in_flight;
            return scenario(&plan, &url, &query_url, rate, &token).await;
        }
        Some(Scenario::Abuse(options)) => Some(options),
        None => None,
    };
    let bin_dir = cli.bin_dir.unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("target/release"))
    });
    let setup = plan::Setup {
        postgres_url: cli.postgres_url.trim_end_matches('/').to_owned(),
        amqp_url: cli.amqp_url,
        bin_dir,
        out: cli.out.clone(),
        with_peer: !cli.no_peer,
    };
    if let Some(options) = options {
        return abuse::main(options, setup).await;
    }
    let results = match run::run(plan, setup).await {
        Ok(results) => results,
        Err(error) => {
            eprintln!("the benchmark failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let markdown = report::markdown(&results);
    let json = serde_json::to_string_pretty(&results).expect("the results serialize");
    let written = std::fs::write(cli.out.join("report.md"), &markdown)
        .and_then(|()| std::fs::write(cli.out.join("results.json"), json));
    if let Err(error) = written {
        eprintln!("cannot write the results to {}: {error}", cli.out.display());
        return ExitCode::FAILURE;
    }
    println!("{markdown}");
    eprintln!(
        "written: {}, {}",
        cli.out.join("report.md").display(),
        cli.out.join("results.json").display()
    );
    if results.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn scenario(
    plan: &plan::Plan,
    url: &str,
    query_url: &str,
    rate: f64,
    token: &str,
) -> ExitCode {
    let client = load::client(Some(token), plan.concurrency.max(16) * 2);
    if let Err(e) = scenarios::register(
        &client,
        url,
        "BENCH",
        plan.products,
        1_000_000_000,
        "reject",
    )
    .await
    {
        eprintln!("{e}");
    }
    let seconds = std::time::Duration::from_secs(plan.seconds);
    if plan.concurrency > 0 {
        let summary = load::closed_loop(
            plan.concurrency,
            std::time::Duration::from_secs(plan.warmup_seconds),
            seconds,
            scenarios::place_order(client.clone(), url, plan.products),
        )
        .await;
        println!(
            "closed loop: {}",
            serde_json::to_string(&summary).unwrap_or_default()
        );
    }
    if rate > 0.0 {
        let half = scenarios::visibility(&client, url, query_url, plan, rate).await;
        println!(
            "open loop: {}",
            serde_json::to_string(&half).unwrap_or_default()
        );
    }
    ExitCode::SUCCESS
}
