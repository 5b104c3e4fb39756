//! GET /v1/projections: each projection's progress and the lag behind the store's head.

use crate::helpers::{TestApp, assert_keys};

#[tokio::test]
async fn projections_report_head_position_and_lag() {
    let app = TestApp::spawn().await;
    app.set_head(120).await;
    app.advance(100).await;
    // One projection further along: the position an answer can promise is the slowest's.
    app.exec("UPDATE read.projections SET position = 110 WHERE name = 'orders'")
        .await;

    let response = app.get("/v1/projections").await;
    let body = response.assert_ok();
    assert_keys(body, &["head", "position", "lag_events", "items"]);
    assert_eq!(body["head"], 120);
    assert_eq!(body["position"], 100);
    assert_eq!(body["lag_events"], 20);
    let items = body["items"].as_array().expect("items");
    let names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "customers",
            "daily_sales",
            "orders",
            "products",
            "replenishments"
        ]
    );
    for item in items {
        assert_keys(item, &["name", "position", "status", "updated_at"]);
        assert_eq!(item["status"], "running");
        assert!(
            item["updated_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
    }
    assert_eq!(items[2]["position"], 110);
    assert_eq!(items[0]["position"], 100);
}

#[tokio::test]
async fn a_fresh_store_has_no_lag() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/projections").await;
    let body = response.assert_ok();
    assert_eq!(body["head"], 0);
    assert_eq!(body["position"], 0);
    assert_eq!(body["lag_events"], 0);
    assert_eq!(response.projection_position(), 0);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(5));
}
