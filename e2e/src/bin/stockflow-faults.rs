//! The fault run: `scripts/faults` builds the services and runs this. It restarts the
//! machine's RabbitMQ and PostgreSQL, so it must run alone.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use stockflow_e2e::faults::{self, Options, Topology};

#[derive(Debug, Parser)]
#[command(
    about = "Injects faults under a concurrent workload and checks nothing was lost, \
                   duplicated or let in"
)]
struct Cli {
    /// Where the service binaries are.
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// Where the report and the services' logs go.
    #[arg(long, default_value = "target/faults")]
    out: PathBuf,
    /// Each kind of fault once, with shorter pauses: the version CI runs.
    #[arg(long)]
    quick: bool,
    /// How many times each kind of fault is injected (default 3; 1 with --quick).
    #[arg(long)]
    rounds: Option<usize>,
    /// Seconds RabbitMQ stays stopped each time.
    #[arg(long, default_value_t = 30)]
    broker_down_seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 6)]
    workers: usize,
    #[arg(long, default_value_t = 20261121)]
    seed: u64,
    #[arg(long, env = "FAULTS_POSTGRES_ADDR", default_value = "127.0.0.1:5432")]
    postgres_addr: std::net::SocketAddr,
    #[arg(long, env = "FAULTS_AMQP_ADDR", default_value = "127.0.0.1:5672")]
    amqp_addr: std::net::SocketAddr,
    /// Keep the run's database and queues, to look into a failure.
    #[arg(long)]
    keep: bool,
    /// Run on the clusters that `scripts/cluster up --sync` started (their addresses are read
    /// from `<cluster-script> env`): two command services and two projectors, and the
    /// cluster's faults instead of the single servers' (scripts/faults --cluster).
    #[arg(long)]
    cluster: bool,
    #[arg(long, default_value = "scripts/cluster")]
    cluster_script: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let cluster = if cli.cluster {
        match topology(&cli.cluster_script).await {
            Ok(topology) => Some(topology),
            Err(e) => {
                eprintln!("the fault run needs a cluster: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let options = Options {
        bin_dir: cli.bin_dir,
        out: cli.out.clone(),
        rounds: cli.rounds.unwrap_or(if cli.quick { 1 } else { 3 }),
        broker_down: Duration::from_secs(cli.broker_down_seconds),
        gap: Duration::from_secs(if cli.quick { 3 } else { 6 }),
        workers: cli.workers,
        seed: cli.seed,
        postgres_addr: cli.postgres_addr,
        amqp_addr: cli.amqp_addr,
        keep: cli.keep,
        cluster,
    };
    let report = match faults::run(options).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("the fault run could not finish: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("\n{}", report.markdown());
    if let Err(e) = report.write(&cli.out) {
        eprintln!("cannot write the report to {}: {e}", cli.out.display());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "the fault run found {} violations",
            report.counts.violations() + report.crashes.len()
        );
        ExitCode::FAILURE
    }
}

/// The addresses that `script env` prints.
async fn topology(script: &std::path::Path) -> Result<Topology, String> {
    let output = tokio::process::Command::new(script)
        .arg("env")
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} env failed ({}); is it up? {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Topology::from_env_lines(
        script.to_path_buf(),
        &String::from_utf8_lossy(&output.stdout),
    )
}
