use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn an_order_within_stock_is_ready_and_reserves_it() {
    let app = TestApp::spawn().await;
    app.register("SKU-1", 10, "reject").await;
    let answer = app.order("SKU-1", 3).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let body = &answer.body;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["total_cents"], 3 * 1_250);
    assert_eq!(
        body["lines"],
        json!([{ "sku": "SKU-1", "quantity": 3, "reserved": 3, "backordered": 0, "unit_price_cents": 1_250 }])
    );
    assert_eq!(body["replenishments"], json!([]));
    assert!(uuid::Uuid::parse_str(body["order_id"].as_str().unwrap()).is_ok());
    assert_eq!(app.reserved_in_store("SKU-1").await, 3);
}

#[tokio::test]
async fn an_order_over_stock_of_a_backorder_product_is_backordered_with_a_replenishment() {
    let app = TestApp::spawn().await;
    app.register("SKU-B", 3, "backorder").await;
    let answer = app.order("SKU-B", 10).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let body = &answer.body;
    assert_eq!(body["status"], "backordered");
    assert_eq!(body["lines"][0]["reserved"], 3);
    assert_eq!(body["lines"][0]["backordered"], 7);
    // ceil(7 × 1.2) = 9
    assert_eq!(
        body["replenishments"],
        json!([{ "sku": "SKU-B", "quantity": 9 }])
    );
    assert_eq!(body["total_cents"], 10 * 1_250);
    assert_eq!(app.reserved_in_store("SKU-B").await, 3);
}

#[tokio::test]
async fn an_order_over_stock_of_a_reject_product_is_refused_and_reserves_nothing() {
    let app = TestApp::spawn().await;
    app.register("SKU-R", 4, "reject").await;
    let events_before = app.events_in_store().await;
    let answer = app.order("SKU-R", 5).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(answer.body["code"], "insufficient_stock");
    assert_eq!(
        answer.body["lines"],
        json!([{ "sku": "SKU-R", "requested": 5, "available": 4 }])
    );
    assert_eq!(app.events_in_store().await, events_before);
    let answer = app.order("SKU-R", 4).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["status"], "ready");
}

#[tokio::test]
async fn a_multi_line_order_short_on_one_line_writes_nothing() {
    let app = TestApp::spawn().await;
    app.register("SKU-A", 10, "reject").await;
    app.register("SKU-Z", 1, "reject").await;
    let events_before = app.events_in_store().await;
    let answer = app
        .post(
            "/v1/orders",
            &json!({ "customer_id": "c", "lines": [{ "sku": "SKU-A", "quantity": 2 }, { "sku": "SKU-Z", "quantity": 2 }] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer.body["lines"],
        json!([{ "sku": "SKU-Z", "requested": 2, "available": 1 }])
    );
    assert_eq!(app.events_in_store().await, events_before);
}

#[tokio::test]
async fn an_unknown_sku_is_422_unknown_product() {
    let app = TestApp::spawn().await;
    let answer = app.order("NOPE", 1).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["code"], "unknown_product");
    assert_eq!(answer.body["skus"], json!(["NOPE"]));
}

#[tokio::test]
async fn an_order_id_is_placed_once() {
    let app = TestApp::spawn().await;
    app.register("SKU-1", 10, "reject").await;
    let order = json!({ "order_id": uuid::Uuid::now_v7(), "customer_id": "c", "lines": [{ "sku": "SKU-1", "quantity": 1 }] });
    assert_eq!(
        app.post("/v1/orders", &order).await.status,
        StatusCode::CREATED
    );
    let again = app.post("/v1/orders", &order).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "order_exists");
    assert_eq!(app.reserved_in_store("SKU-1").await, 1);
}

#[tokio::test]
async fn lines_in_two_currencies_are_422_currency_mismatch() {
    let app = TestApp::spawn().await;
    app.register("SKU-E", 10, "reject").await;
    app.post(
        "/v1/products",
        &json!({ "sku": "SKU-U", "name": "U", "unit_price_cents": 100, "currency": "USD", "initial_stock": 10 }),
    )
    .await;
    let answer = app
        .post(
            "/v1/orders",
            &json!({ "customer_id": "c", "lines": [{ "sku": "SKU-E", "quantity": 1 }, { "sku": "SKU-U", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["code"], "currency_mismatch");
    assert_eq!(answer.body["currencies"], json!(["EUR", "USD"]));
}

#[tokio::test]
async fn an_invalid_order_is_400_validation_failed() {
    let app = TestApp::spawn().await;
    let answer = app
        .post(
            "/v1/orders",
            &json!({ "customer_id": "", "lines": [{ "sku": "A", "quantity": 0 }, { "sku": "A", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["code"], "validation_failed");
    let fields: Vec<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["customer_id", "lines[0].quantity", "lines[1].sku"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_never_oversell_a_reject_product() {
    let app = TestApp::spawn().await;
    app.register("HOT", 10, "reject").await;
    let answers = futures_util::future::join_all((0..20).map(|_| app.order("HOT", 1))).await;
    let placed = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    let refused = answers
        .iter()
        .filter(|a| {
            a.status == StatusCode::UNPROCESSABLE_ENTITY && a.body["code"] == "insufficient_stock"
        })
        .count();
    assert_eq!((placed, refused), (10, 10), "{answers:#?}");
    assert_eq!(app.reserved_in_store("HOT").await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_on_one_product_with_stock_enough_all_succeed() {
    let app = TestApp::spawn().await;
    app.register("HOT", 1_000, "reject").await;
    let answers = futures_util::future::join_all((0..40).map(|_| app.order("HOT", 1))).await;
    let failed: Vec<_> = answers
        .iter()
        .filter(|a| a.status != StatusCode::CREATED)
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(app.reserved_in_store("HOT").await, 40);
}

#[tokio::test]
async fn a_line_written_as_an_array_is_malformed() {
    let app = TestApp::spawn().await;
    app.register("SKU-1", 10, "reject").await;
    let answer = app
        .post(
            "/v1/orders",
            &json!({ "customer_id": "c", "lines": [["SKU-1", 1]] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["code"], "malformed_body");
    assert_eq!(app.reserved_in_store("SKU-1").await, 0);
}
