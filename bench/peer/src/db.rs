//! The peer's database: created when missing, with the two tables postgres-es reads and
//! writes, in the layout of its `db/init.sql`: `events`, and `snapshots`, which only its
//! snapshot store touches (unused here, see the crate docs; made so the layout is whole).

use std::str::FromStr;

use sqlx_peer::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx_peer::{Connection, Executor, PgConnection, Pool, Postgres};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL CHECK (sequence >= 0),
    event_type     text   NOT NULL,
    event_version  text   NOT NULL,
    payload        json   NOT NULL,
    metadata       json   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          json   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);
";

/// SQLSTATEs of CREATE DATABASE losing a race, and of CREATE TABLE IF NOT EXISTS losing one
/// (the catalog's unique index, or the table seen at last).
const DUPLICATE_DATABASE: &str = "42P04";
const UNIQUE_VIOLATION: &str = "23505";
const DUPLICATE_TABLE: &str = "42P07";

pub async fn connect(url: &str, max_connections: u32) -> Result<Pool<Postgres>, sqlx_peer::Error> {
    let options = PgConnectOptions::from_str(url)?;
    ensure_database(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await?;
    match pool.execute(SCHEMA).await {
        Ok(_) => {}
        Err(e) if has_sqlstate(&e, UNIQUE_VIOLATION) || has_sqlstate(&e, DUPLICATE_TABLE) => {}
        Err(e) => return Err(e),
    }
    Ok(pool)
}

async fn ensure_database(options: &PgConnectOptions) -> Result<(), sqlx_peer::Error> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres")).await?;
    let exists: bool =
        sqlx_peer::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match admin.execute(create.as_str()).await {
            Ok(_) => {}
            Err(e) if has_sqlstate(&e, DUPLICATE_DATABASE) => {}
            Err(e) => return Err(e),
        }
    }
    admin.close().await
}

/// Drops a database the peer made (see [`build`](crate::build)): for tests that each make
/// their own.
pub async fn drop_database(url: &str) -> Result<(), sqlx_peer::Error> {
    let options = PgConnectOptions::from_str(url)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = PgConnection::connect_with(&options.database("postgres")).await?;
    let drop = format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        name.replace('"', "\"\"")
    );
    admin.execute(drop.as_str()).await?;
    admin.close().await
}

fn has_sqlstate(error: &sqlx_peer::Error, code: &str) -> bool {
    matches!(error, sqlx_peer::Error::Database(e) if e.code().as_deref() == Some(code))
}
