//! The peer as a process: configuration from flags and environment, then serve.

use clap::Parser;
use stockflow_peer::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    let app = match stockflow_peer::build(&config).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "stockflow-peer cannot start");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "stockflow-peer listening");
    match app.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "stockflow-peer stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
