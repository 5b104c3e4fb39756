//! GET /v1/orders/{order_id} and GET /v1/orders: the order shape with its lines, listings
//! newest first with ties broken by order id, filters and pagination.

use std::collections::HashSet;

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{LineSeed, TestApp, assert_keys, field_of, line, order};

const SUMMARY_KEYS: [&str; 13] = [
    "order_id",
    "customer_id",
    "status",
    "currency",
    "total_cents",
    "line_count",
    "placed_at",
    "updated_at",
    "shipped_at",
    "cancelled_at",
    "carrier",
    "tracking_number",
    "version",
];

#[tokio::test]
async fn an_order_is_shown_with_its_lines_in_order() {
    let app = TestApp::spawn().await;
    let mut seed = order("cust-1", "2026-11-20T10:00:00Z");
    seed.status = "backordered".into();
    seed.lines = vec![
        line("B-2", 3, 500),
        LineSeed {
            sku: "A-1".into(),
            quantity: 5,
            reserved: 2,
            backordered: 3,
            unit_price_cents: 200,
        },
    ];
    seed.updated_at = Some("2026-11-20T10:05:00Z".into());
    app.seed_order(&seed).await;

    let response = app.get(&format!("/v1/orders/{}", seed.order_id)).await;
    let body = response.assert_ok();
    assert_eq!(
        *body,
        json!({
            "order_id": seed.order_id.to_string(),
            "customer_id": "cust-1",
            "status": "backordered",
            "currency": "EUR",
            "total_cents": 2500,
            "lines": [
                {"sku": "B-2", "quantity": 3, "reserved": 3, "backordered": 0, "unit_price_cents": 500},
                {"sku": "A-1", "quantity": 5, "reserved": 2, "backordered": 3, "unit_price_cents": 200},
            ],
            "placed_at": "2026-11-20T10:00:00Z",
            "updated_at": "2026-11-20T10:05:00Z",
            "shipped_at": null,
            "cancelled_at": null,
            "carrier": null,
            "tracking_number": null,
            "version": 2,
        })
    );
    // The documented order of members, too.
    let members: Vec<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        members,
        [
            "order_id",
            "customer_id",
            "status",
            "currency",
            "total_cents",
            "lines",
            "placed_at",
            "updated_at",
            "shipped_at",
            "cancelled_at",
            "carrier",
            "tracking_number",
            "version"
        ]
    );
}

#[tokio::test]
async fn a_shipped_order_shows_its_carrier_and_times() {
    let app = TestApp::spawn().await;
    let mut seed = order("cust-1", "2026-11-20T10:00:00Z");
    seed.status = "shipped".into();
    seed.shipped_at = Some("2026-11-21T08:30:00Z".into());
    seed.updated_at = seed.shipped_at.clone();
    seed.carrier = Some("DHL".into());
    seed.tracking_number = Some("JD0123".into());
    seed.version = 3;
    app.seed_order(&seed).await;

    let body = app
        .get(&format!("/v1/orders/{}", seed.order_id))
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["status"], "shipped");
    assert_eq!(body["shipped_at"], "2026-11-21T08:30:00Z");
    assert_eq!(body["carrier"], "DHL");
    assert_eq!(body["tracking_number"], "JD0123");
    assert_eq!(body["version"], 3);
}

#[tokio::test]
async fn an_unknown_order_or_a_non_uuid_is_404_order_not_found() {
    let app = TestApp::spawn().await;
    app.get(&format!("/v1/orders/{}", Uuid::now_v7()))
        .await
        .assert_problem(404, "order_not_found");
    for bad in ["not-a-uuid", "123", "%00", "%FF"] {
        app.get(&format!("/v1/orders/{bad}"))
            .await
            .assert_problem(404, "order_not_found");
    }
}

#[tokio::test]
async fn orders_are_listed_newest_first_without_lines_but_with_their_count() {
    let app = TestApp::spawn().await;
    let old = order("c1", "2026-11-01T09:00:00Z");
    let mut new = order("c2", "2026-11-03T09:00:00Z");
    new.lines = vec![line("A", 1, 100), line("B", 2, 100), line("C", 3, 100)];
    let middle = order("c1", "2026-11-02T09:00:00Z");
    for seed in [&old, &new, &middle] {
        app.seed_order(seed).await;
    }

    let response = app.get("/v1/orders").await;
    assert_keys(&response.body, &["items", "next_cursor"]);
    let items = response.items();
    assert_eq!(
        field_of(items, "order_id"),
        [new.order_id, middle.order_id, old.order_id].map(|id| id.to_string())
    );
    for item in items {
        assert_keys(item, &SUMMARY_KEYS);
    }
    assert_eq!(items[0]["line_count"], 3);
    assert_eq!(items[0]["total_cents"], 600);
    assert_eq!(items[1]["line_count"], 1);
    assert_eq!(response.body["next_cursor"], json!(null));
}

#[tokio::test]
async fn paging_through_orders_breaks_ties_on_placed_at_by_order_id_and_misses_none() {
    let app = TestApp::spawn().await;
    let mut expected = Vec::new();
    // Groups of orders placed at the very same instant, so pages end inside a tie.
    for (i, at) in [
        "2026-11-01T09:00:00Z",
        "2026-11-01T09:00:00.000001Z",
        "2026-11-02T12:00:00Z",
        "2026-11-03T00:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        for j in 0..(i + 4) {
            let mut seed = order("c1", at);
            // Ids in no particular order relative to their insertion.
            let n = (i * 10 + j + 1) as u128;
            seed.order_id =
                Uuid::from_u128(n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835));
            app.seed_order(&seed).await;
            expected.push((i, seed.order_id));
        }
    }
    // Newest first (the instants are listed oldest first); the same instant: the greater
    // order id first.
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let expected: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(expected.len(), 22);

    for limit in [1, 3, 4, 7, 22, 500] {
        let pages = app.all_pages(&format!("/v1/orders?limit={limit}")).await;
        let seen: Vec<String> = pages
            .iter()
            .flat_map(|p| field_of(p.items(), "order_id"))
            .collect();
        assert_eq!(seen, expected, "pages of {limit}");
        assert_eq!(
            pages.len(),
            expected.len().div_ceil(limit),
            "pages of {limit}"
        );
        assert_eq!(
            seen.iter().collect::<HashSet<_>>().len(),
            expected.len(),
            "no duplicates in pages of {limit}"
        );
    }
}

#[tokio::test]
async fn orders_are_filtered_by_customer_status_and_placement_time() {
    let app = TestApp::spawn().await;
    let a = order("alice", "2026-11-01T23:59:59.999999Z");
    let mut b = order("alice", "2026-11-02T00:00:00Z");
    b.status = "cancelled".into();
    b.cancelled_at = Some("2026-11-02T01:00:00Z".into());
    let c = order("bob", "2026-11-02T18:00:00Z");
    let d = order("alice", "2026-11-03T00:00:00Z");
    for seed in [&a, &b, &c, &d] {
        app.seed_order(seed).await;
    }
    let ids = |path: &str| {
        let path = path.to_owned();
        let app = &app;
        async move { field_of(app.get(&path).await.items(), "order_id") }
    };
    let s = |seeds: &[&crate::helpers::OrderSeed]| -> Vec<String> {
        seeds.iter().map(|o| o.order_id.to_string()).collect()
    };

    assert_eq!(ids("/v1/orders?customer_id=alice").await, s(&[&d, &b, &a]));
    assert_eq!(ids("/v1/orders?customer_id=nobody").await, s(&[]));
    assert_eq!(ids("/v1/orders?status=cancelled").await, s(&[&b]));
    assert_eq!(ids("/v1/orders?status=ready").await, s(&[&d, &c, &a]));
    assert_eq!(
        ids("/v1/orders?customer_id=alice&status=ready").await,
        s(&[&d, &a])
    );
    // Days are whole UTC days, both ends included.
    assert_eq!(
        ids("/v1/orders?placed_from=2026-11-02&placed_to=2026-11-02").await,
        s(&[&c, &b])
    );
    assert_eq!(ids("/v1/orders?placed_to=2026-11-01").await, s(&[&a]));
    assert_eq!(ids("/v1/orders?placed_from=2026-11-03").await, s(&[&d]));
    // Timestamps are instants, both ends included; any offset.
    assert_eq!(
        ids("/v1/orders?placed_from=2026-11-02T00:00:00Z&placed_to=2026-11-02T18:00:00Z").await,
        s(&[&c, &b])
    );
    assert_eq!(
        ids("/v1/orders?placed_from=2026-11-02T19:00:00%2B01:00").await,
        s(&[&d, &c])
    );
    assert_eq!(
        ids("/v1/orders?customer_id=alice&placed_from=2026-11-02&status=cancelled").await,
        s(&[&b])
    );
}

#[tokio::test]
async fn filters_and_pagination_work_together() {
    let app = TestApp::spawn().await;
    let mut alice = Vec::new();
    for day in 1..=9 {
        let at = format!("2026-11-0{day}T10:00:00Z");
        let mine = order("alice", &at);
        app.seed_order(&mine).await;
        alice.push(mine.order_id.to_string());
        app.seed_order(&order("bob", &at)).await;
    }
    alice.reverse();
    let pages = app.all_pages("/v1/orders?customer_id=alice&limit=4").await;
    let seen: Vec<String> = pages
        .iter()
        .flat_map(|p| field_of(p.items(), "order_id"))
        .collect();
    assert_eq!(seen, alice);
    assert_eq!(pages.len(), 3);
}
