//! The abuse run (docs/testing.md, "The abuse run"): the three services started as the
//! benchmark starts them, a normal client measuring its success and latency throughout, and
//! one attack after another on the query and command services (slowloris, idle keep-alive
//! hoarding, a connection flood past the cap, forged tokens, oversized headers, header
//! stuffing, oversized bodies), each followed by a quiet stretch in which the normal client
//! must be back. The report gives each attack's effect and whether the run passed.
//!
//! Modules, from the bottom up: `raw` (HTTP by hand), `windows` (pure: the run cut into
//! windows), `watch` (memory, CPU, connections), `normal` (the normal client), `attacks`
//! and `kinds` (the attacks in order), `plan`, `results`, `checks` (pure: pass or fail) and
//! `report`.

mod attacks;
mod checks;
mod kinds;
mod normal;
mod plan;
mod raw;
mod report;
mod results;
mod watch;
mod windows;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use attacks::Target;
use kinds::KINDS;
use plan::AbusePlan;
use results::{AbuseResults, AttackFigures, WindowFigures};
use windows::{Phase, Reading, Sample, Window};

use crate::database::drop_database;
use crate::goals::MEMORY_GOAL_MIB;
use crate::plan::Setup;
use crate::scenarios;
use crate::stack::{Names, Stack, delete_topology_of};
use crate::system::BoxError;

/// The run's database, exchange and queue: its own, apart from the benchmark's.
const NAMES: Names = Names {
    database: "stockflow_abuse",
    exchange: "stockflow.abuse.events",
    queue: "stockflow.abuse.projector",
};

/// The services attacked, in the order of every per-service list of the run.
const ATTACKED: [&str; 2] = ["query-service", "command-service"];

#[derive(Debug, clap::Args)]
pub struct Options {
    /// A short run for CI: each attack for a few seconds (about 90 s in all).
    #[arg(long)]
    quick: bool,
    /// Where the report (report.md, results.json) and the services' logs go.
    #[arg(long, default_value = "target/abuse")]
    out: PathBuf,
    /// The bound on the normal client's p99 in every window, in milliseconds.
    #[arg(long)]
    p99_bound_ms: Option<f64>,
    /// Seconds of each attack's stretch.
    #[arg(long)]
    seconds: Option<f64>,
}

/// Runs it, writes and prints the report; fails if a check did not pass.
pub async fn main(options: Options, mut setup: Setup) -> ExitCode {
    let mut plan = if options.quick {
        AbusePlan::quick()
    } else {
        AbusePlan::full()
    };
    plan.p99_bound_ms = options.p99_bound_ms.unwrap_or(plan.p99_bound_ms);
    plan.during_seconds = options.seconds.unwrap_or(plan.during_seconds);
    setup.out = options.out.clone();
    let results = match run(plan, &setup).await {
        Ok(results) => results,
        Err(error) => {
            eprintln!("the abuse run failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let markdown = report::markdown(&results);
    let json = serde_json::to_string_pretty(&results).expect("the results serialize");
    let written = std::fs::write(setup.out.join("report.md"), &markdown)
        .and_then(|()| std::fs::write(setup.out.join("results.json"), json));
    if let Err(error) = written {
        eprintln!(
            "cannot write the results to {}: {error}",
            setup.out.display()
        );
        return ExitCode::FAILURE;
    }
    println!("{markdown}");
    eprintln!(
        "written: {}, {}",
        setup.out.join("report.md").display(),
        setup.out.join("results.json").display()
    );
    if results.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(plan: AbusePlan, setup: &Setup) -> Result<AbuseResults, BoxError> {
    std::fs::create_dir_all(&setup.out)?;
    let stack = Stack::start_with(setup, NAMES, &plan.limits.settings(), 16).await?;
    let recorded = attack(&plan, &stack).await;
    let peak_rss_mib = stack.peak_rss_mib();
    let mut problems = Vec::new();
    stack.stop(&mut problems).await;
    drop_database(&setup.postgres_url, NAMES.database).await?;
    delete_topology_of(&setup.amqp_url, NAMES).await?;
    let recorded = recorded?;
    write_samples(&setup.out.join("normal.csv"), &recorded.normal)?;

    let services: Vec<&str> = recorded.services.iter().map(String::as_str).collect();
    let mut attacks = recorded.attacks;
    for a in &mut attacks {
        let during = &recorded.windows[a.during];
        a.most_attackers = windows::most_attackers(&recorded.readings, during);
        // The attackers let go as the stretch ends: the reading just before tells what
        // they held.
        let end = during.start + plan.during_seconds - 0.2;
        a.attackers_at_end = windows::connections_at(&recorded.readings, end)
            .iter()
            .map(|c| c.attackers)
            .collect();
    }
    let windows: Vec<WindowFigures> = recorded
        .windows
        .into_iter()
        .map(|window| WindowFigures {
            normal: windows::traffic(&recorded.normal, &window),
            new_connections: windows::traffic(&recorded.new_connections, &window),
            usage: windows::box_use(&recorded.readings, &window, &services),
            connections_at_end: windows::connections_at(&recorded.readings, window.end),
            window,
        })
        .collect();
    let checks = checks::checks(&plan, &windows, &attacks, &peak_rss_mib, MEMORY_GOAL_MIB);
    let passed = problems.is_empty() && checks.iter().all(|c| c.met);
    Ok(AbuseResults {
        plan,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        debug_builds: cfg!(debug_assertions),
        memory_goal_mib: MEMORY_GOAL_MIB,
        windows,
        attacks,
        peak_rss_mib,
        checks,
        problems,
        passed,
    })
}

/// What the run recorded, before it is cut into windows.
struct Recorded {
    services: Vec<String>,
    windows: Vec<Window>,
    attacks: Vec<AttackFigures>,
    normal: Vec<Sample>,
    new_connections: Vec<Sample>,
    readings: Vec<Reading>,
}

/// The run's timeline: a quiet stretch, then each attack and a quiet stretch after it, with
/// the normal client and the watch running throughout.
async fn attack(plan: &AbusePlan, stack: &Stack) -> Result<Recorded, BoxError> {
    let (query, command) = (&stack.query_url, &stack.command_url);
    scenarios::register(
        &stack.client,
        command,
        "BENCH",
        plan.products,
        1_000_000_000,
        "reject",
    )
    .await?;
    ready(stack, plan.products).await?;
    let attacker_token = stack.token("admin", "stockflow-abuse-attacker").await?;
    let targets = [
        Target {
            service: ATTACKED[0],
            addr: address(query)?,
            read_path: "/v1/products/BENCH-0".to_owned(),
            write_path: "/v1/products/BENCH-0".to_owned(),
        },
        Target {
            service: ATTACKED[1],
            addr: address(command)?,
            read_path: "/v1/orders".to_owned(),
            write_path: "/v1/orders".to_owned(),
        },
    ];

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let watches = stack.services().map(|s| s.watch()).to_vec();
    let services = watches.iter().map(|w| w.name.to_owned()).collect();
    let ports = targets.iter().map(|t| t.addr.port()).collect();
    let watching = watch::sample(watches, ports, start, stop.clone());
    let normal = normal::start(
        normal::Targets {
            query_url: query.clone(),
            command_url: command.clone(),
            products: plan.products,
            token: stack.token.clone(),
            rate: plan.normal_rate,
            new_connection_rate: plan.new_connection_rate,
            idle: Duration::from_millis(plan.limits.header_timeout_ms / 2),
        },
        start,
        stop.clone(),
    );

    let at = || start.elapsed().as_secs_f64();
    let seconds = Duration::from_secs_f64;
    let mut windows = Vec::new();
    eprintln!("the normal client alone, {} s", plan.before_seconds);
    tokio::time::sleep(seconds(plan.before_seconds)).await;
    windows.push(window("before", Phase::Before, 0.0, at()));
    let mut figures = Vec::new();
    for kind in KINDS {
        let begun = at();
        eprintln!("{}, {} s", kind.name(), plan.during_seconds);
        let until = Instant::now() + seconds(plan.during_seconds);
        let attack = kind.run(plan, &targets, &attacker_token, until).await;
        let ended = at();
        windows.push(window(
            &format!("{} (during)", kind.name()),
            Phase::During,
            begun,
            ended,
        ));
        tokio::time::sleep(seconds(plan.after_seconds)).await;
        windows.push(window(
            &format!("{} (after)", kind.name()),
            Phase::After,
            ended,
            at(),
        ));
        figures.push(AttackFigures {
            attack,
            during: windows.len() - 2,
            after: windows.len() - 1,
            most_attackers: Vec::new(),
            attackers_at_end: Vec::new(),
        });
    }
    stop.store(true, Ordering::Relaxed);
    let normal = normal.await?;
    Ok(Recorded {
        services,
        windows,
        attacks: figures,
        normal: normal.kept_alive,
        new_connections: normal.new_connections,
        readings: watching.await?,
    })
}

/// Every request of the normal client, for a closer look than the windows give.
fn write_samples(path: &std::path::Path, samples: &[Sample]) -> std::io::Result<()> {
    let mut csv = String::from("due_seconds,what,latency_ms,failure\n");
    for s in samples {
        let (latency, failure) = match &s.outcome {
            Ok(latency) => (format!("{:.3}", latency.as_secs_f64() * 1e3), ""),
            Err(failure) => (String::new(), failure.as_str()),
        };
        let failure = failure.replace(['"', ','], " ");
        csv.push_str(&format!("{:.3},{},{latency},{failure}\n", s.due, s.what));
    }
    std::fs::write(path, csv)
}

fn window(name: &str, phase: Phase, start: f64, end: f64) -> Window {
    Window {
        name: name.to_owned(),
        phase,
        start,
        end,
    }
}

/// `127.0.0.1:8082` of `http://127.0.0.1:8082`.
fn address(url: &str) -> Result<SocketAddr, BoxError> {
    Ok(url.trim_start_matches("http://").parse()?)
}

/// Waits until the query service shows every product, then warms both services up, so that
/// the first window measures neither the projector's catching up nor first connections.
async fn ready(stack: &Stack, products: usize) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for sku in 0..products {
        let url = format!("{}/v1/products/BENCH-{sku}", stack.query_url);
        while crate::load::send(stack.client.get(&url)).await.is_err() {
            if Instant::now() > deadline {
                return Err(format!("{url} did not appear within 60 s").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let order = scenarios::place_order(stack.client.clone(), &stack.command_url, products);
    for n in 0..20 {
        crate::load::send(order(n)).await?;
    }
    Ok(())
}
