//! GET /v1/products/{sku} and GET /v1/products: the product shape, filters and pagination by
//! sku.

use serde_json::json;

use crate::helpers::{TestApp, assert_keys, field_of, product};

const PRODUCT_KEYS: [&str; 12] = [
    "sku",
    "name",
    "unit_price_cents",
    "currency",
    "backorder_policy",
    "status",
    "on_hand",
    "reserved",
    "available",
    "backordered",
    "version",
    "updated_at",
];

#[tokio::test]
async fn a_product_is_shown_with_every_documented_member() {
    let app = TestApp::spawn().await;
    let mut seed = product("WIDGET-1");
    seed.name = "Blue widget".into();
    seed.unit_price_cents = 1250;
    seed.backorder_policy = "backorder".into();
    seed.on_hand = 10;
    seed.reserved = 4;
    seed.backordered = 3;
    seed.version = 7;
    seed.updated_at = "2026-11-20T10:11:12.345678+01:00".into();
    app.seed_product(&seed).await;

    let response = app.get("/v1/products/WIDGET-1").await;
    let body = response.assert_ok();
    assert_keys(body, &PRODUCT_KEYS);
    assert_eq!(
        *body,
        json!({
            "sku": "WIDGET-1", "name": "Blue widget", "unit_price_cents": 1250,
            "currency": "EUR", "backorder_policy": "backorder", "status": "active",
            "on_hand": 10, "reserved": 4, "available": 6, "backordered": 3, "version": 7,
            "updated_at": "2026-11-20T09:11:12.345678Z",
        })
    );
}

#[tokio::test]
async fn an_unknown_or_impossible_sku_is_404_product_not_found() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/products/NOPE",
        "/v1/products/lower-case",
        "/v1/products/%00",
        "/v1/products/%FF%FE",
        &format!("/v1/products/{}", "A".repeat(40)),
    ] {
        let response = app.get(path).await;
        response.assert_problem(404, "product_not_found");
        assert!(response.header("x-projection-position").is_some());
    }
}

#[tokio::test]
async fn products_are_listed_by_sku_and_filtered_by_status_and_availability() {
    let app = TestApp::spawn().await;
    for (sku, on_hand, reserved, status) in [
        ("C", 5, 5, "active"),
        ("A", 10, 0, "active"),
        ("B", 3, 1, "discontinued"),
        ("D", 0, 0, "discontinued"),
    ] {
        let mut seed = product(sku);
        seed.on_hand = on_hand;
        seed.reserved = reserved;
        seed.status = status.into();
        app.seed_product(&seed).await;
    }

    let all = app.get("/v1/products").await;
    assert_keys(&all.body, &["items", "next_cursor"]);
    assert_eq!(field_of(all.items(), "sku"), ["A", "B", "C", "D"]);
    assert_eq!(all.body["next_cursor"], json!(null));
    assert_keys(&all.items()[0], &PRODUCT_KEYS);

    let active = app.get("/v1/products?status=active").await;
    assert_eq!(field_of(active.items(), "sku"), ["A", "C"]);
    let discontinued = app.get("/v1/products?status=discontinued").await;
    assert_eq!(field_of(discontinued.items(), "sku"), ["B", "D"]);

    // available: A 10, B 2, C 0, D 0.
    let low = app.get("/v1/products?max_available=2").await;
    assert_eq!(field_of(low.items(), "sku"), ["B", "C", "D"]);
    let none_left = app.get("/v1/products?max_available=0&status=active").await;
    assert_eq!(field_of(none_left.items(), "sku"), ["C"]);
}

#[tokio::test]
async fn paging_through_products_sees_each_exactly_once_in_sku_order() {
    let app = TestApp::spawn().await;
    let mut skus: Vec<String> = (0..23).map(|i| format!("SKU-{i:03}")).collect();
    // Seeded out of order: the listing, not the insertion, decides.
    for sku in skus.iter().rev() {
        app.seed_product(&product(sku)).await;
    }
    skus.sort();

    let pages = app.all_pages("/v1/products?limit=5").await;
    assert_eq!(pages.len(), 5, "23 products in pages of 5");
    let sizes: Vec<usize> = pages.iter().map(|p| p.items().len()).collect();
    assert_eq!(sizes, [5, 5, 5, 5, 3]);
    let seen: Vec<String> = pages
        .iter()
        .flat_map(|p| field_of(p.items(), "sku"))
        .collect();
    assert_eq!(seen, skus);

    // A page that ends exactly at the last product says so: no empty page follows.
    let pages = app.all_pages("/v1/products?limit=23").await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].items().len(), 23);

    // The default page is 50 long.
    for i in 0..30 {
        app.seed_product(&product(&format!("Z-{i:02}"))).await;
    }
    let first = app.get("/v1/products").await;
    assert_eq!(first.items().len(), 50);
    assert!(first.next_cursor().is_some());
}

#[tokio::test]
async fn the_cursor_keeps_its_place_when_products_are_added_before_it() {
    let app = TestApp::spawn().await;
    for sku in ["B", "D", "F"] {
        app.seed_product(&product(sku)).await;
    }
    let first = app.get("/v1/products?limit=2").await;
    assert_eq!(field_of(first.items(), "sku"), ["B", "D"]);
    let cursor = first.next_cursor().expect("more follow");
    app.seed_product(&product("A")).await;
    app.seed_product(&product("E")).await;
    let second = app
        .get(&format!("/v1/products?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(field_of(second.items(), "sku"), ["E", "F"]);
}
