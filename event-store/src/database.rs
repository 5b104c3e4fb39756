//! Connecting to PostgreSQL: the database is created if missing, and migrations are applied
//! unless the deployment runs them as a separate step.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// The schema migrations of the whole system, embedded in every service.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    InvalidUrl(#[source] sqlx::Error),
    #[error("cannot reach PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot create database `{name}`: {source}")]
    Create {
        name: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub fn connect_options(url: &str) -> Result<PgConnectOptions, DbError> {
    let options = PgConnectOptions::from_str(url).map_err(DbError::InvalidUrl)?;
    // Statements are logged at debug only: at info they would drown the service's own logs.
    Ok(options
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500)))
}

/// Creates the database named in `options` when it does not exist yet, connecting to the
/// server's `postgres` maintenance database to do so.
pub async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), DbError> {
    let name = options.get_database().unwrap_or("postgres").to_owned();
    // Try the database itself first: with least-privilege roles the service may not be
    // allowed to look into `postgres`, and the database usually exists already.
    if let Ok(conn) = sqlx::PgConnection::connect_with(options).await {
        let _ = conn.close().await;
        return Ok(());
    }
    let mut admin = sqlx::PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(DbError::Connect)?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
        name,
    )
    .fetch_one(&mut admin)
    .await
    .map_err(DbError::Connect)?;
    if !exists {
        // The name is spliced in (quoted), which no checked query can do: this stays dynamic.
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance created it between our check and our CREATE.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
            Err(source) => return Err(DbError::Create { name, source }),
        }
    }
    let _ = admin.close().await;
    Ok(())
}

/// How long a pooled connection may sit idle before it is pinged on its way out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Opens the service's pool: creates the database if missing and applies pending migrations
/// when `migrate` is set.
pub async fn connect(url: &str, max_connections: u32, migrate: bool) -> Result<PgPool, DbError> {
    let options = connect_options(url)?;
    if migrate {
        create_database_if_missing(&options).await?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // A connection in steady use is known to be alive: pinging it before every query
        // (sqlx's default) would double the round trips of a simple read. One that sat idle
        // for a while is pinged, so that a database restart in a quiet spell is noticed
        // before a query fails on it.
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for > IDLE_BEFORE_PING {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(DbError::Connect)?;
    if migrate {
        MIGRATOR.run(&pool).await?;
    }
    Ok(pool)
}
