//! The analysts' role reads the read models and nothing else.

use serde_json::json;
use sqlx::Connection;
use stockflow_e2e::Stack;

#[tokio::test]
async fn the_analyst_role_reads_the_read_models_and_nothing_else() {
    let stack = Stack::spawn().await;
    let order = stack
        .command(
            "/v1/products",
            json!({"sku": "AN-1", "name": "n", "unit_price_cents": 100, "currency": "EUR", "initial_stock": 5}),
        )
        .await;
    stack
        .wait_for_projection(order.position(), std::time::Duration::from_secs(10))
        .await;

    let mut db = stack.db().await;
    let mut tx = db.begin().await.expect("a transaction");
    sqlx::query("SET LOCAL ROLE stockflow_analyst")
        .execute(&mut *tx)
        .await
        .expect("the role exists");
    let products: i64 = sqlx::query_scalar("SELECT count(*) FROM read.products")
        .fetch_one(&mut *tx)
        .await
        .expect("analysts read the read models");
    assert_eq!(products, 1);

    for forbidden in [
        "SELECT count(*) FROM event_store.events",
        "SELECT count(*) FROM event_store.idempotency_keys",
        "UPDATE read.products SET on_hand = 0",
        "DELETE FROM read.orders",
        "INSERT INTO read.projections (name) VALUES ('mine')",
        "CREATE TABLE read.scratch (x int)",
    ] {
        sqlx::query("SAVEPOINT probe")
            .execute(&mut *tx)
            .await
            .expect("a savepoint");
        let refused = sqlx::query(forbidden).execute(&mut *tx).await;
        let code = match &refused {
            Err(sqlx::Error::Database(e)) => e.code().map(|c| c.into_owned()),
            _ => None,
        };
        assert_eq!(
            code.as_deref(),
            Some("42501"),
            "the analyst could run `{forbidden}`: {refused:?}"
        );
        sqlx::query("ROLLBACK TO SAVEPOINT probe")
            .execute(&mut *tx)
            .await
            .expect("rolled back");
    }
}
