//! A rebuild (docs/guarantees.md §6) swaps a fresh `read` schema in under running queries: the service's
//! prepared statements and position tracking must follow the new tables at once.

use sqlx::Connection;
use stockflow_projector::rebuild::TABLES;

use crate::helpers::{TestApp, product};

#[tokio::test]
async fn queries_follow_a_rebuild_that_swaps_the_read_schema() {
    let app = TestApp::spawn().await;
    app.seed_product(&product("A")).await;
    app.advance(3).await;
    // Warm every connection's statement cache on the old tables.
    for _ in 0..20 {
        let response = app.get("/v1/products/A?min_position=3").await;
        assert_eq!(response.assert_ok()["name"], "Product A");
    }

    // The swap as the projector's rebuild does it: fresh tables beside the live ones, then
    // rename, drop the old ones and notify, in one transaction.
    let mut db = app.db().await;
    let mut tx = db.begin().await.expect("begin");
    let mut statements = vec!["CREATE SCHEMA read_next".to_owned()];
    for table in TABLES {
        statements.push(format!(
            "CREATE TABLE read_next.{table} (LIKE read.{table} INCLUDING ALL)"
        ));
    }
    statements.extend(
        [
            "INSERT INTO read_next.products SELECT * FROM read.products",
            "UPDATE read_next.products SET name = 'Rebuilt A', version = 2",
            "INSERT INTO read_next.projections (name, position) \
             SELECT name, 8 FROM read.projections",
            "ALTER SCHEMA read RENAME TO read_old",
            "ALTER SCHEMA read_next RENAME TO read",
            "DROP SCHEMA read_old CASCADE",
            "SELECT pg_notify('stockflow_projections', '8')",
        ]
        .map(str::to_owned),
    );
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await
            .expect("swap statement");
    }
    tx.commit().await.expect("the swap commits");

    for _ in 0..20 {
        let response = app.get("/v1/products/A?min_position=8").await;
        let body = response.assert_ok();
        assert_eq!(body["name"], "Rebuilt A");
        assert_eq!(response.projection_position(), 8);
    }
    let projections = app.get("/v1/projections").await;
    assert_eq!(projections.assert_ok()["position"], 8);
    let listing = app.get("/v1/products").await;
    assert_eq!(listing.items()[0]["version"], 2);
}
