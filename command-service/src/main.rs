use std::process::ExitCode;

use clap::Parser;
use stockflow_command_service::{App, Cli, Command};
use stockflow_telemetry::{self as telemetry, redact_url};

#[tokio::main]
async fn main() -> ExitCode {
    let Cli { config, command } = Cli::parse();
    if let Some(Command::Token {
        subject,
        scopes,
        ttl_seconds,
    }) = command
    {
        let Some(secret) = config.web.auth_jwt_secret.as_deref() else {
            eprintln!("AUTH_JWT_SECRET is not set: tokens are signed with it");
            return ExitCode::FAILURE;
        };
        let ttl = std::time::Duration::from_secs(ttl_seconds);
        println!(
            "{}",
            stockflow_edge::mint_token(secret, &subject, &scopes, ttl)
        );
        return ExitCode::SUCCESS;
    }
    telemetry::init(config.log_format);
    tracing::info!(
        database = %redact_url(&config.database.url),
        broker = %redact_url(&config.broker.url),
        exchange = %config.broker.events_exchange,
        "starting command-service"
    );
    stockflow_edge::run("command-service", App::build(config)).await
}
