//! Text with SQL and LIKE metacharacters, quotes, backslashes and unicode goes through the
//! whole pipeline (command, event store, relay, projector, read models, query) unchanged,
//! and a filter on it matches it alone.

use serde_json::json;
use stockflow_e2e::Stack;
use stockflow_testkit::http::percent_encode;

const HOSTILE: &[&str] = &[
    "'; DROP TABLE read.products;--",
    "%",
    "_",
    "\\",
    "%_\\'\"",
    "$1 $$x$$",
    "🦀 日本語 e\u{301} \u{202e}\u{200d}\u{feff}",
];

#[tokio::test]
async fn hostile_text_reaches_the_read_models_exactly_as_sent() {
    let stack = Stack::spawn().await;
    for (i, text) in HOSTILE.iter().enumerate() {
        let sku = format!("HOST-{i}");
        stack
            .command(
                "/v1/products",
                json!({"sku": sku, "name": text, "unit_price_cents": 100, "currency": "EUR",
                       "initial_stock": 10}),
            )
            .await
            .ok();
        let placed = stack
            .command(
                "/v1/orders",
                json!({"customer_id": text, "lines": [{"sku": sku, "quantity": 1}]}),
            )
            .await;
        let order_id = placed.ok()["order_id"].as_str().expect("an id").to_owned();
        let shipped = stack
            .command(
                &format!("/v1/orders/{order_id}/ship"),
                json!({"carrier": text, "tracking_number": text}),
            )
            .await;
        let position = shipped.position();

        let product = stack
            .query_at(&format!("/v1/products/{sku}"), position)
            .await;
        assert_eq!(product.ok()["name"], *text);
        let order = stack
            .query_at(&format!("/v1/orders/{order_id}"), position)
            .await;
        let order = order.ok();
        assert_eq!(order["customer_id"], *text);
        assert_eq!(order["carrier"], *text);
        assert_eq!(order["tracking_number"], *text);
        let customer = stack
            .query_at(&format!("/v1/customers/{}", percent_encode(text)), position)
            .await;
        assert_eq!(customer.ok()["customer_id"], *text);
        assert_eq!(customer.ok()["order_count"], 1, "{text:?}");
    }
    // Each customer's filter finds that customer's one order, however it is spelled.
    for text in HOSTILE {
        let listing = stack
            .query(&format!("/v1/orders?customer_id={}", percent_encode(text)))
            .await;
        let items = listing.ok()["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), 1, "{text:?}: {}", listing.text);
        assert_eq!(items[0]["customer_id"], *text);
    }
    let all = stack.query("/v1/products?limit=500").await;
    assert_eq!(
        all.ok()["items"].as_array().map(Vec::len),
        Some(HOSTILE.len())
    );
}
