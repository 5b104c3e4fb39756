//! Connecting to PostgreSQL: the database is created if missing, and migrations are applied
//! unless the deployment runs them as a separate step. `DATABASE_URL` may list several
//! servers (a primary and its replicas): a pool that writes goes to the one that takes writes,
//! and follows it when another is promoted ([`connect`]); a pool that only reads goes to the
//! first that answers, a replica included, and moves on when it stops answering
//! ([`connect_for_reads`]).

mod primary;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use primary::{Candidate, Found, Moves, Role};

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
    /// Of several addresses, none takes writes now: each is named, without its password,
    /// with why it was passed over. A failover may be under way: worth trying again.
    #[error("no server of DATABASE_URL takes writes: {0}")]
    NoPrimary(String),
    /// Of several addresses, none answers now: each is named, without its password, with
    /// why it was passed over.
    #[error("no server of DATABASE_URL answers: {0}")]
    NoServer(String),
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

/// The addresses of a `DATABASE_URL`: one URL, or several separated by commas (blanks around
/// them and empty items are ignored; a comma inside an address is written `%2C`).
pub fn addresses(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .collect()
}

/// The connect options of the server that takes writes: those of a single URL as they are,
/// without asking it anything; of a list, those of the first address (in the list's order)
/// that answers and is not in recovery.
pub async fn primary_options(url: &str) -> Result<PgConnectOptions, DbError> {
    let candidates = Candidate::all(url)?;
    if let [only] = candidates.as_slice() {
        return Ok(only.options.clone());
    }
    let found = primary::find(&candidates, None, Role::Primary).await?;
    let _ = found.watch.close().await;
    Ok(candidates[found.index].options.clone())
}

/// Opens the service's pool: creates the database if missing and applies pending migrations
/// when `migrate` is set, on the primary when `url` lists several servers. With a list, a
/// task follows the primary for as long as the pool is open (`primary::follow`): when
/// another server takes over, the pool's new connections go there, and those it holds to
/// the old one are let go. One URL is used as it is, with no such task.
pub async fn connect(url: &str, max_connections: u32, migrate: bool) -> Result<PgPool, DbError> {
    let candidates = Candidate::all(url)?;
    let found = match candidates.as_slice() {
        [_] => None,
        _ => Some(primary::find(&candidates, None, Role::Primary).await?),
    };
    open(candidates, found, max_connections, migrate, Role::Primary).await
}

/// Opens a pool that only reads, on a replica as well as on a primary: with a list, on the
/// first server (in the list's order) that answers, and a task moves it to the next that
/// answers when it stops (`primary::follow`). One URL is used as it is. The database is
/// created and migrated (with `migrate`) only where the server takes writes; on a standby
/// that is left to the primary, and said once in the log.
pub async fn connect_for_reads(
    url: &str,
    max_connections: u32,
    migrate: bool,
) -> Result<PgPool, DbError> {
    let candidates = Candidate::all(url)?;
    let found = match candidates.as_slice() {
        [_] => None,
        _ => Some(primary::find(&candidates, None, Role::Any).await?),
    };
    open(candidates, found, max_connections, migrate, Role::Any).await
}

/// Opens the pool on `found`'s server, or on the only candidate when there is no choice to
/// follow, and starts following the server when there is.
async fn open(
    candidates: Vec<Candidate>,
    found: Option<Found>,
    max_connections: u32,
    migrate: bool,
    role: Role,
) -> Result<PgPool, DbError> {
    let current = found.as_ref().map_or(0, |found| found.index);
    let options = candidates[current].options.clone();
    // Whether the server is a standby matters only to a pool that may be on one, and then
    // only for migrating: a single address is asked only when there is something to do.
    let in_recovery = match (role, &found) {
        (Role::Primary, _) => false,
        (Role::Any, Some(found)) => found.in_recovery,
        (Role::Any, None) if migrate => {
            let (connection, in_recovery) = primary::ask(&candidates[current])
                .await
                .map_err(DbError::Connect)?;
            let _ = connection.close().await;
            in_recovery
        }
        (Role::Any, None) => false,
    };
    if migrate && in_recovery {
        tracing::info!(
            server = %candidates[current].shown,
            "the database server is a standby (in recovery): creating and migrating the \
             database is left to the primary"
        );
    }
    let migrate = migrate && !in_recovery;
    if migrate {
        create_database_if_missing(&options).await?;
    }
    let moves = Arc::new(Moves::default());
    let pool = pool_options(max_connections, moves.clone())
        .connect_with(options)
        .await
        .map_err(DbError::Connect)?;
    if migrate {
        MIGRATOR.run(&pool).await?;
    }
    if let Some(found) = found {
        tokio::spawn(primary::follow(
            pool.clone(),
            candidates,
            found,
            moves,
            role,
        ));
    }
    Ok(pool)
}

fn pool_options(max_connections: u32, moves: Arc<Moves>) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // A connection in steady use is known to be alive: pinging it before every query
        // (sqlx's default) would double the round trips of a simple read. One that sat idle
        // for a while is pinged, so that a database restart in a quiet spell is noticed
        // before a query fails on it.
        .test_before_acquire(false)
        .before_acquire(move |connection, meta| {
            let moves = moves.clone();
            Box::pin(async move {
                // Opened to the server the pool has since left (which may still answer, as a
                // standby): closed, and another taken or opened in its place.
                if moves.predates(meta.age) {
                    return Ok(false);
                }
                if meta.idle_for > IDLE_BEFORE_PING {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_list_of_servers_is_split_on_commas() {
        assert_eq!(
            super::addresses("postgres://p@a:5442/db , postgres://p@b:5443/db,"),
            ["postgres://p@a:5442/db", "postgres://p@b:5443/db"]
        );
        assert_eq!(
            super::addresses("postgres://postgres@127.0.0.1:5432/stockflow"),
            ["postgres://postgres@127.0.0.1:5432/stockflow"]
        );
    }
}
