//! The one-shot migration step (docs/api.md): creates the database if missing and applies the
//! pending migrations, as the database's owner, so that the services can run with
//! `MIGRATE=false` under roles that may not change the schema.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use stockflow_event_store::database::{self as db, DbError};
use stockflow_telemetry::redact_url;
use stockflow_telemetry::{self as telemetry, LogFormat};

#[derive(Debug, clap::Parser)]
#[command(
    name = "stockflow-migrate",
    about = "Creates stockflow's database if missing and applies its migrations, then exits"
)]
struct Config {
    /// PostgreSQL, as the role that owns the database; of a comma-separated list of servers,
    /// the one that takes writes.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/stockflow"
    )]
    database_url: String,
    /// How long to keep trying while PostgreSQL cannot be reached (it may still be starting).
    #[arg(long, env = "MIGRATE_CONNECT_TIMEOUT_SECS", default_value_t = 30)]
    connect_timeout_secs: u64,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    log_format: LogFormat,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(config.log_format);
    let database = redact_url(&config.database_url);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.connect_timeout_secs);
    loop {
        match db::connect(&config.database_url, 1, true).await {
            Ok(pool) => {
                let latest = db::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
                tracing::info!(%database, version = latest, "database migrated");
                pool.close().await;
                return ExitCode::SUCCESS;
            }
            Err(DbError::Connect(error))
                if starting_up(&error) && tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(%database, %error, "PostgreSQL unreachable; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            // Of a list of servers, none takes writes yet: one may be starting or promoted.
            Err(error @ DbError::NoPrimary(_)) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(%database, %error, "no primary yet; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => {
                tracing::error!(%database, %error, "migration failed");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// Whether PostgreSQL may just not be up yet: a refused connection or a server still starting
/// is worth waiting for; a wrong password or a missing role will not mend.
fn starting_up(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e.code().as_deref() == Some("57P03"),
        _ => true,
    }
}
