//! `supplier-notifier`: prints a line per replenishment stockflow requests, and keeps each in
//! its outbox. Configuration by environment (or the matching flags): `AMQP_URL`,
//! `EVENTS_EXCHANGE`, `QUEUE`, `OUTBOX`, and, to catch up from the event feed, `QUERY_URL`
//! with `EVENTS_TOKEN`.

use clap::Parser;
use supplier_notifier::{Config, Feed};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(about = "Tells the supplier about every replenishment stockflow requests")]
struct Args {
    /// RabbitMQ: one URL, or a cluster's nodes separated by commas (tried in turn).
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// The topic exchange stockflow publishes its events to.
    #[arg(long, env = "EVENTS_EXCHANGE", default_value = "stockflow.events")]
    exchange: String,
    /// This notifier's own durable queue.
    #[arg(long, env = "QUEUE", default_value = "supplier-notifier")]
    queue: String,
    /// Delete the queue when the notifier stops (for a trial run).
    #[arg(long, env = "QUEUE_AUTO_DELETE")]
    auto_delete: bool,
    /// The outbox: every request passed on, one JSON line each; its last line is the
    /// checkpoint.
    #[arg(long, env = "OUTBOX", default_value = "supplier-notifier.outbox.jsonl")]
    outbox: std::path::PathBuf,
    /// The query service, whose event feed the notifier catches up from (e.g.
    /// http://127.0.0.1:8082). Without it, it hears only of what reaches its queue.
    #[arg(long, env = "QUERY_URL", requires = "events_token")]
    query_url: Option<String>,
    /// A token with the `events:read` scope, for the feed.
    #[arg(long, env = "EVENTS_TOKEN", hide_env_values = true)]
    events_token: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), supplier_notifier::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = Config {
        amqp_url: args.amqp_url,
        exchange: args.exchange,
        queue: args.queue,
        auto_delete: args.auto_delete,
        outbox: args.outbox,
        feed: args
            .query_url
            .zip(args.events_token)
            .map(|(url, token)| Feed { url, token }),
    };
    let running = supplier_notifier::start(config, |request| {
        // Here a real notifier would call the supplier's API or send the purchase order.
        println!(
            "replenish {} x {} for order {} (event {}, position {})",
            request.quantity, request.sku, request.order_id, request.event_id, request.position
        );
    })
    .await?;
    shutdown_signal().await;
    let summary = running.stop().await;
    tracing::info!(?summary, "stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
