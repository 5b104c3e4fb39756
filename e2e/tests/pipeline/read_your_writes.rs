//! Read your writes: a query carrying a command's position sees that command's effect.

use serde_json::json;
use stockflow_e2e::Stack;

#[tokio::test]
async fn a_query_with_the_position_of_a_command_always_sees_it() {
    let stack = Stack::spawn().await;
    stack
        .command("/v1/products", json!({"sku": "RYW", "name": "n", "unit_price_cents": 100, "currency": "EUR", "initial_stock": 0}))
        .await
        .ok();
    for round in 1..=60 {
        let receipt = stack
            .command("/v1/products/RYW/receipts", json!({"quantity": 1}))
            .await;
        let position = receipt.ok()["position"].as_i64().expect("a position");
        let product = stack.query_at("/v1/products/RYW", position).await;
        assert_eq!(
            product.ok()["on_hand"],
            round,
            "round {round}: the query did not see its write"
        );
        let seen: i64 = product
            .header("x-projection-position")
            .and_then(|p| p.parse().ok())
            .expect("a position header");
        assert!(
            seen >= position,
            "answered at {seen}, before the write at {position}"
        );

        let order = stack
            .command(
                "/v1/orders",
                json!({"customer_id": "ryw", "lines": [{"sku": "RYW", "quantity": 1}]}),
            )
            .await;
        let id = order.ok()["order_id"].as_str().expect("an id").to_owned();
        let served = stack
            .query_at(&format!("/v1/orders/{id}"), order.position())
            .await;
        assert_eq!(
            served.ok()["status"],
            "ready",
            "round {round}: the order is not visible"
        );
    }
}

#[tokio::test]
async fn the_header_form_of_min_position_waits_too() {
    let stack = Stack::spawn().await;
    let registered = stack
        .command(
            "/v1/products",
            json!({"sku": "RYW-H", "name": "n", "unit_price_cents": 100, "currency": "EUR"}),
        )
        .await;
    let position = registered.position().to_string();
    let response = stack
        .client
        .get(stack.query_url("/v1/products/RYW-H"))
        .header("X-Min-Position", position.as_str())
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
}
