use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn registering_a_product_answers_201_with_its_version() {
    let app = TestApp::spawn().await;
    let answer = app.register("SKU-1", 5, "reject").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body, json!({ "sku": "SKU-1", "version": 1 }));
}

#[tokio::test]
async fn a_sku_registered_twice_is_409_product_exists() {
    let app = TestApp::spawn().await;
    app.register("SKU-1", 5, "reject").await;
    let answer = app.register("SKU-1", 9, "backorder").await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(answer.body["code"], "product_exists");
}

#[tokio::test]
async fn a_body_breaking_the_rules_gets_every_broken_field() {
    let app = TestApp::spawn().await;
    let answer = app
        .post(
            "/v1/products",
            &json!({ "sku": "bad sku", "name": "", "unit_price_cents": 0, "currency": "eur",
                     "initial_stock": -1, "backorder_policy": "maybe" }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["code"], "validation_failed");
    let mut fields: Vec<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "backorder_policy",
            "currency",
            "initial_stock",
            "name",
            "sku",
            "unit_price_cents"
        ]
    );
}

#[tokio::test]
async fn unknown_fields_and_wrong_types_are_malformed() {
    let app = TestApp::spawn().await;
    let unknown = app
        .post(
            "/v1/products",
            &json!({ "sku": "A", "name": "A", "unit_price_cents": 1, "currency": "EUR", "color": "red" }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["code"], "malformed_body");
    let wrong_type = app
        .post(
            "/v1/products",
            &json!({ "sku": "A", "name": "A", "unit_price_cents": "1", "currency": "EUR" }),
        )
        .await;
    assert_eq!(wrong_type.body["code"], "malformed_body");
}
