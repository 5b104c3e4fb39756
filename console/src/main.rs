use std::process::ExitCode;

use clap::Parser;
use stockflow_console::{App, Config};
use stockflow_telemetry::redact_url;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    stockflow_telemetry::init(config.log_format);
    tracing::info!(
        commands = %redact_url(&config.commands_url),
        queries = %redact_url(&config.queries_url),
        projector = %redact_url(&config.projector_url),
        "starting console"
    );
    stockflow_edge::run("console", App::build(config)).await
}
