//! The projector's command line, shared by its binary and the end-to-end tests' copy of it.

use std::process::ExitCode;

use stockflow_event_store::database as db;
use stockflow_telemetry::{self as telemetry, redact_url};

use crate::{App, Cli, Command};

/// The projector's command line: run, or rebuild and exit.
pub async fn main(cli: Cli) -> ExitCode {
    let Cli { config, command } = cli;
    telemetry::init(config.log_format);
    match command.unwrap_or(Command::Run) {
        Command::Run => {
            tracing::info!(
                database = %redact_url(&config.database.url),
                broker = %redact_url(&config.broker.url),
                queue = %config.projector_queue,
                "starting projector"
            );
            stockflow_edge::run("projector", App::build(config)).await
        }
        Command::Rebuild { batch } => {
            let pool = match db::connect(&config.database.url, 2, config.database.migrate).await {
                Ok(pool) => pool,
                Err(error) => {
                    tracing::error!(%error, "cannot reach the database");
                    return ExitCode::FAILURE;
                }
            };
            // Recorded like a rebuild from the API, and refused while one runs: they would
            // build in the same schema.
            let id = match crate::rebuild::runs::start(&pool, "cli").await {
                Ok(id) => id,
                Err(error) => {
                    tracing::error!(%error, "cannot start the rebuild");
                    return ExitCode::FAILURE;
                }
            };
            match crate::rebuild::runs::run(&pool, id, batch).await {
                Ok(report) => {
                    println!("{}", serde_json::to_string(&report).unwrap_or_default());
                    tracing::info!(
                        events = report.events,
                        seconds = report.seconds,
                        "read models rebuilt and swapped in"
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    tracing::error!(%error, "rebuild failed; the live read models are untouched");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
