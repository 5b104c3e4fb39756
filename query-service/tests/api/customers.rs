//! GET /v1/customers/{customer_id}: counts, times and lifetime value per currency.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_customer_is_shown_with_lifetime_value_per_currency() {
    let app = TestApp::spawn().await;
    app.seed_customer(
        "cust-42",
        5,
        2,
        "2026-11-01T08:00:00Z",
        "2026-11-20T17:30:00.5Z",
        &[("EUR", 12_500), ("USD", 300), ("GBP", 0)],
    )
    .await;
    app.seed_customer(
        "other",
        1,
        1,
        "2026-11-01T08:00:00Z",
        "2026-11-01T08:00:00Z",
        &[("EUR", 1)],
    )
    .await;

    let body = app.get("/v1/customers/cust-42").await.assert_ok().clone();
    assert_eq!(
        body,
        json!({
            "customer_id": "cust-42",
            "order_count": 5,
            "open_order_count": 2,
            "lifetime_value": {"EUR": 12500, "GBP": 0, "USD": 300},
            "first_order_at": "2026-11-01T08:00:00Z",
            "last_order_at": "2026-11-20T17:30:00.500Z",
        })
    );
}

#[tokio::test]
async fn a_customer_whose_orders_were_all_cancelled_has_an_empty_lifetime_value() {
    let app = TestApp::spawn().await;
    app.seed_customer(
        "gone",
        1,
        0,
        "2026-11-01T08:00:00Z",
        "2026-11-01T08:00:00Z",
        &[],
    )
    .await;
    let body = app.get("/v1/customers/gone").await.assert_ok().clone();
    assert_eq!(body["lifetime_value"], json!({}));
    assert_eq!(body["order_count"], 1);
    assert_eq!(body["open_order_count"], 0);
}

#[tokio::test]
async fn ids_with_reserved_characters_are_found_when_percent_encoded() {
    let app = TestApp::spawn().await;
    app.seed_customer(
        "shop/éa b",
        1,
        1,
        "2026-11-01T08:00:00Z",
        "2026-11-01T08:00:00Z",
        &[],
    )
    .await;
    let body = app
        .get("/v1/customers/shop%2F%C3%A9a%20b")
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["customer_id"], "shop/éa b");
}

#[tokio::test]
async fn an_unknown_customer_is_404_customer_not_found() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/customers/nobody".to_owned(),
        "/v1/customers/%00".to_owned(),
        "/v1/customers/%FF".to_owned(),
        format!("/v1/customers/{}", "x".repeat(65)),
    ] {
        app.get(&path)
            .await
            .assert_problem(404, "customer_not_found");
    }
}
