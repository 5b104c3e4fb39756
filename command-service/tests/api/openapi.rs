//! The OpenAPI document: served without a token, equal to the committed
//! `command-service/openapi.json`, and true to the bodies the service really sends.

use serde_json::{Value, json};
use stockflow_testkit::openapi::{
    assert_api_operations, assert_committed, assert_documented, assert_problem_documented,
    assert_swagger_ui, served_document,
};

use crate::helpers::TestApp;

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = TestApp::spawn().await;
    let (served, _) = served_document(&app.url("")).await;
    assert_committed(
        &served,
        env!("CARGO_MANIFEST_DIR"),
        "stockflow-command-service",
    );
}

/// The document with only the paths `keep` says to keep.
fn only(document: &Value, keep: impl Fn(&str) -> bool) -> Value {
    let mut part = document.clone();
    part["paths"]
        .as_object_mut()
        .expect("paths")
        .retain(|path, _| keep(path));
    part
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_a_scope_on_every_operation() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app.url("")).await;
    let paths: Vec<&String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/products",
            "/v1/products/{sku}/receipts",
            "/v1/products/{sku}/adjustments",
            "/v1/products/{sku}/price",
            "/v1/products/{sku}/discontinue",
            "/v1/orders",
            "/v1/orders/{order_id}/cancel",
            "/v1/orders/{order_id}/ship",
            "/v1/admin/replays",
            "/v1/admin/replays/{replay_id}",
            "/v1/admin/replays/{replay_id}/cancel",
            "/v1/admin/audit",
            "/healthz",
            "/readyz",
        ]
    );
    let commands = only(&document, |path| !path.starts_with("/v1/admin/"));
    let operations = assert_api_operations(
        &commands,
        "post",
        "commands:write",
        &[
            "/v1/products",
            "/v1/products/{sku}/receipts",
            "/v1/products/{sku}/adjustments",
            "/v1/products/{sku}/price",
            "/v1/products/{sku}/discontinue",
            "/v1/orders",
            "/v1/orders/{order_id}/cancel",
            "/v1/orders/{order_id}/ship",
            "/healthz",
            "/readyz",
        ],
        &[
            "400", "401", "403", "409", "412", "413", "415", "422", "429", "503",
        ],
    );
    for (path, operation) in operations {
        let headers: Vec<&str> = operation["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "header")
            .map(|p| p["name"].as_str().expect("a name"))
            .collect();
        assert_eq!(headers, ["Idempotency-Key", "If-Match"], "{path}");
        assert!(
            operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string(),
            "{path} documents its body"
        );
    }

    // The operators' routes ask for the `admin` scope, and take none of the command headers.
    let start = "/v1/admin/replays";
    let starting = only(&document, |path| path == start);
    let started = assert_api_operations(
        &starting,
        "post",
        "admin",
        &[start],
        &[
            "400", "401", "403", "404", "409", "413", "415", "429", "503",
        ],
    );
    let status = "/v1/admin/replays/{replay_id}";
    let following = only(&document, |path| path == status);
    let followed = assert_api_operations(
        &following,
        "get",
        "admin",
        &[status],
        &["401", "403", "404", "429", "503"],
    );
    let audit = "/v1/admin/audit";
    let auditing = only(&document, |path| path == audit);
    let audited = assert_api_operations(
        &auditing,
        "get",
        "admin",
        &[audit],
        &["400", "401", "403", "429", "503"],
    );
    for (path, operation) in started.into_iter().chain(followed).chain(audited) {
        assert_eq!(operation["tags"], json!(["admin"]), "{path}");
        let forbidden = operation["responses"]["403"]["description"].as_str();
        assert!(forbidden.is_some_and(|d| d.contains("`admin`")), "{path}");
        let headers = operation["parameters"].as_array().into_iter().flatten();
        assert!(
            headers.filter(|p| p["in"] == "header").count() == 0,
            "{path}"
        );
    }
}

#[tokio::test]
async fn swagger_ui_is_served_offline_at_docs() {
    let app = TestApp::spawn().await;
    assert_swagger_ui(&app.url("")).await;
}

#[tokio::test]
async fn real_success_bodies_have_exactly_their_documented_members() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app.url("")).await;

    let registered = app.register("DOC-A", 5, "backorder").await;
    assert_documented(&document, "ProductRegistered", &registered.body);
    app.register("DOC-B", 5, "reject").await;

    let placed = app
        .place("doc-customer", &[("DOC-A", 7), ("DOC-B", 2)])
        .await;
    placed.assert_status(201);
    assert!(
        !placed.body["lines"].as_array().expect("lines").is_empty()
            && !placed.body["replenishments"]
                .as_array()
                .expect("replenishments")
                .is_empty(),
        "the order is backordered, so every nested shape is present: {}",
        placed.text
    );
    assert_documented(&document, "OrderPlaced", &placed.body);
    let order_id = placed.body["order_id"].as_str().expect("an id").to_owned();

    let received = app.receive("DOC-A", 10).await;
    received.assert_status(200);
    assert!(
        !received.body["filled"]
            .as_array()
            .expect("filled")
            .is_empty()
    );
    assert_documented(&document, "StockReceived", &received.body);

    let adjusted = app
        .post(
            "/v1/products/DOC-B/adjustments",
            json!({"delta": -1, "reason": "count"}),
        )
        .await;
    adjusted.assert_status(200);
    assert_documented(&document, "StockAdjusted", &adjusted.body);

    let repriced = app
        .post(
            "/v1/products/DOC-B/price",
            json!({"unit_price_cents": 1200}),
        )
        .await;
    repriced.assert_status(200);
    assert_documented(&document, "PriceChanged", &repriced.body);

    let shipped = app
        .post(
            &format!("/v1/orders/{order_id}/ship"),
            json!({"carrier": "DHL", "tracking_number": "T1"}),
        )
        .await;
    shipped.assert_status(200);
    assert_documented(&document, "OrderShipped", &shipped.body);

    let other = app.place("doc-customer", &[("DOC-B", 1)]).await;
    let other_id = other.body["order_id"].as_str().expect("an id").to_owned();
    let cancelled = app.cancel(&other_id).await;
    cancelled.assert_status(200);
    assert_documented(&document, "OrderCancelled", &cancelled.body);

    let discontinued = app.post("/v1/products/DOC-B/discontinue", json!({})).await;
    discontinued.assert_status(200);
    assert_documented(&document, "ProductDiscontinued", &discontinued.body);

    let health = app.get("/healthz").await;
    assert_documented(&document, "Health", health.assert_status(200));
    let readiness = app.get("/readyz").await;
    assert_documented(&document, "Readiness", &readiness.body);
}

#[tokio::test]
async fn problems_validate_against_the_problem_schema() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app.url("")).await;
    let invalid = app
        .post("/v1/orders", json!({"customer_id": "", "lines": []}))
        .await;
    invalid.assert_problem(400, "validation_failed");
    app.register("DOC-P", 1, "reject").await;
    let short = app.place("c", &[("DOC-P", 2)]).await;
    short.assert_problem(422, "insufficient_stock");
    for problem in [&invalid.body, &short.body] {
        assert_problem_documented(&document, problem);
    }
}
