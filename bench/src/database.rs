//! The benchmark's own databases on the PostgreSQL server: made afresh for each run and
//! dropped after.

use sqlx::{Connection as _, PgConnection};

use crate::system::BoxError;

pub async fn server_version(url: &str) -> Result<String, BoxError> {
    let mut db = PgConnection::connect(url).await?;
    Ok(sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut db)
        .await?)
}

pub async fn recreate_database(server: &str, name: &str) -> Result<(), BoxError> {
    drop_database(server, name).await?;
    let mut db = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut db)
        .await?;
    Ok(())
}

pub async fn drop_database(server: &str, name: &str) -> Result<(), BoxError> {
    let mut db = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut db)
    .await?;
    Ok(())
}
