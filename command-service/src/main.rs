use std::process::ExitCode;

use clap::Parser;
use stockflow_command_service::{App, Config};
use stockflow_store::{amqp::redact_url, shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(config.log_format);
    tracing::info!(
        database = %redact_url(&config.database_url),
        broker = %redact_url(&config.amqp_url),
        exchange = %config.events_exchange,
        "starting command-service"
    );
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "command-service cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "command-service listening");
    match app.run_until(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("command-service stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "command-service failed");
            ExitCode::FAILURE
        }
    }
}
