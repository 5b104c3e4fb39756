use std::process::ExitCode;

use clap::Parser;
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
    stockflow_edge::run("query-service", App::build(config)).await
}
