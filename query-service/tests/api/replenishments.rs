//! GET /v1/replenishments: requests to suppliers oldest first, filters and pagination.

use serde_json::json;

use crate::helpers::{TestApp, assert_keys, field_of, replenishment};

#[tokio::test]
async fn replenishments_are_listed_oldest_first_with_the_documented_members() {
    let app = TestApp::spawn().await;
    let mut late = replenishment("A", 30, 6, 6);
    late.requested_at = "2026-11-20T12:00:00Z".into();
    let early = replenishment("B", 10, 12, 0);
    let middle = replenishment("A", 20, 4, 1);
    for seed in [&late, &early, &middle] {
        app.seed_replenishment(seed).await;
    }

    let response = app.get("/v1/replenishments").await;
    assert_keys(&response.body, &["items", "next_cursor"]);
    let items = response.items();
    assert_eq!(
        field_of(items, "order_id"),
        [&early, &middle, &late].map(|r| r.order_id.to_string())
    );
    assert_eq!(
        items[2],
        json!({
            "sku": "A", "order_id": late.order_id.to_string(), "quantity": 6,
            "outstanding": 6, "status": "open", "requested_at": "2026-11-20T12:00:00Z",
        })
    );
    assert_eq!(items[0]["status"], "fulfilled");
    assert_eq!(items[0]["outstanding"], 0);
    assert_eq!(response.body["next_cursor"], json!(null));
}

#[tokio::test]
async fn replenishments_are_filtered_by_sku_and_status_and_paged() {
    let app = TestApp::spawn().await;
    let mut open_a = Vec::new();
    for position in 1..=12 {
        let sku = if position % 3 == 0 { "B" } else { "A" };
        let outstanding = if position % 4 == 0 { 0 } else { 2 };
        let seed = replenishment(sku, position, 2, outstanding);
        app.seed_replenishment(&seed).await;
        if sku == "A" && outstanding > 0 {
            open_a.push(seed.order_id.to_string());
        }
    }
    let by_sku = app.get("/v1/replenishments?sku=B").await;
    assert_eq!(field_of(by_sku.items(), "sku"), ["B"; 4]);
    let fulfilled = app.get("/v1/replenishments?status=fulfilled").await;
    assert_eq!(field_of(fulfilled.items(), "outstanding"), ["0"; 3]);

    let pages = app
        .all_pages("/v1/replenishments?sku=A&status=open&limit=2")
        .await;
    let seen: Vec<String> = pages
        .iter()
        .flat_map(|p| field_of(p.items(), "order_id"))
        .collect();
    assert_eq!(seen, open_a);
    assert_eq!(pages.len(), open_a.len().div_ceil(2));

    let everything = app.all_pages("/v1/replenishments?limit=5").await;
    let count: usize = everything.iter().map(|p| p.items().len()).sum();
    assert_eq!(count, 12);
}
