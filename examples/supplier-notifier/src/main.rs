//! `supplier-notifier`: prints a line per replenishment stockflow requests. Configuration by
//! environment (or the matching flags): `AMQP_URL`, `EVENTS_EXCHANGE`, `QUEUE`.

use clap::Parser;
use supplier_notifier::Config;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(about = "Tells the supplier about every replenishment stockflow requests")]
struct Args {
    /// RabbitMQ.
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
    };
    let running = supplier_notifier::start(config, |request| {
        // Here a real notifier would call the supplier's API or send the purchase order.
        println!(
            "replenish {} x {} for order {} (event {})",
            request.quantity, request.sku, request.order_id, request.event_id
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
