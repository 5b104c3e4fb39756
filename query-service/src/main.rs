use std::process::ExitCode;

use clap::Parser;
use stockflow_edge::shutdown_signal;
use stockflow_query_service::{App, Config};
use stockflow_telemetry::{self as telemetry, redact_url};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(config.log_format);
    tracing::info!(
        database = %redact_url(&config.database.url),
        "starting query-service"
    );
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "query-service cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "query-service listening");
    match app.run_until(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("query-service stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "query-service failed");
            ExitCode::FAILURE
        }
    }
}
