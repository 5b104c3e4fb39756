//! History: a product's movements and every product's stock at an instant, from history rows
//! seeded as the projector writes them (and, in `properties`, from random workloads run
//! through the store and the projector).

mod properties;
mod workload;

use serde_json::{Value, json};
use stockflow_testkit::openapi::{assert_documented, served_document};

use crate::helpers::{TestApp, field_of, product};

const ORDER: &str = "0193a0c4-0000-7000-8000-000000000001";

/// Three products' stories, positions 1 to 9:
/// - A (EUR): registered with 10 at 1000 (1); 4 reserved (3); 5 received the last second of
///   October (5); repriced 1200 at midnight (6); the 4 shipped (7).
/// - B (USD): registered with none at 500 (4); adjusted by +3 (8).
/// - C (EUR): registered with 2 at 100 in November (9).
async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    for (sku, currency, on_hand) in [("A", "EUR", 11), ("B", "USD", 3), ("C", "EUR", 2)] {
        let mut seed = product(sku);
        seed.currency = currency.into();
        seed.on_hand = on_hand;
        app.seed_product(&seed).await;
    }
    app.exec(&format!(
        "INSERT INTO read.stock_movements (sku, position, at, event, on_hand_change,
                reserved_change, on_hand, reserved, available, order_id, reference, reason)
         VALUES ('A', 1, '2026-10-01T10:00:00Z', 'product.registered', 10, 0, 10, 0, 10, NULL, NULL, NULL),
                ('A', 3, '2026-10-15T12:00:00Z', 'product.stock_reserved', 0, 4, 10, 4, 6, '{ORDER}', NULL, NULL),
                ('B', 4, '2026-10-20T08:00:00Z', 'product.registered', 0, 0, 0, 0, 0, NULL, NULL, NULL),
                ('A', 5, '2026-10-31T23:59:59Z', 'product.stock_received', 5, 0, 15, 4, 11, NULL, 'PO-1, dock \"2\"', NULL),
                ('A', 7, '2026-11-02T09:00:00Z', 'product.stock_shipped', -4, -4, 11, 0, 11, '{ORDER}', NULL, NULL),
                ('B', 8, '2026-11-03T10:00:00Z', 'product.stock_adjusted', 3, 0, 3, 0, 3, NULL, NULL, 'found'),
                ('C', 9, '2026-11-04T10:00:00Z', 'product.registered', 2, 0, 2, 0, 2, NULL, NULL, NULL);
         INSERT INTO read.product_prices (sku, position, at, unit_price_cents)
         VALUES ('A', 1, '2026-10-01T10:00:00Z', 1000), ('B', 4, '2026-10-20T08:00:00Z', 500),
                ('A', 6, '2026-11-01T00:00:00Z', 1200), ('C', 9, '2026-11-04T10:00:00Z', 100);"
    ))
    .await;
    app.advance(9).await;
    app
}

/// (sku, on_hand, reserved, available, unit_price_cents, stock_value_cents) of each item.
fn stock(items: &[Value]) -> Vec<(String, i64, i64, i64, i64, i64)> {
    items
        .iter()
        .map(|i| {
            let n = |field: &str| i[field].as_i64().expect("an integer");
            (
                i["sku"].as_str().expect("a sku").to_owned(),
                n("on_hand"),
                n("reserved"),
                n("available"),
                n("unit_price_cents"),
                n("stock_value_cents"),
            )
        })
        .collect()
}

fn positions(items: &[Value]) -> Vec<String> {
    field_of(items, "position")
}

#[tokio::test]
async fn a_products_movements_come_oldest_first_with_the_levels_after_each() {
    let app = seeded().await;
    let response = app.get("/v1/products/A/movements?min_position=9").await;
    let items = response.items();
    assert_eq!(positions(items), ["1", "3", "5", "7"]);
    assert_eq!(
        items[1],
        json!({"position": 3, "at": "2026-10-15T12:00:00Z", "event": "product.stock_reserved",
               "on_hand_change": 0, "reserved_change": 4, "on_hand": 10, "reserved": 4,
               "available": 6, "order_id": ORDER, "reference": null, "reason": null})
    );
    assert_eq!(items[2]["reference"], "PO-1, dock \"2\"");
    assert_eq!(response.body["next_cursor"], Value::Null);
    assert_eq!(response.projection_position(), 9);
    let b = app.get("/v1/products/B/movements").await;
    assert_eq!(b.items()[1]["reason"], "found");
    let (_, document) = served_document(&app.url("")).await;
    assert_documented(&document, "MovementPage", response.assert_ok());
}

#[tokio::test]
async fn movements_page_by_cursor_and_filter_by_period() {
    let app = seeded().await;
    let pages = app.all_pages("/v1/products/A/movements?limit=1").await;
    let paged: Vec<String> = pages.iter().flat_map(|p| positions(p.items())).collect();
    assert_eq!(paged, ["1", "3", "5", "7"]);
    assert_eq!(pages.len(), 4);
    for (query, expected) in [
        // Dates: `from` from its start, `to` to its end, UTC.
        ("from=2026-10-15&to=2026-10-31", &["3", "5"][..]),
        ("from=2026-11-01", &["7"]),
        ("to=2026-10-14", &["1"]),
        // Instants are inclusive at both ends; offsets are honoured.
        ("from=2026-10-15T12:00:00Z&to=2026-10-15T12:00:00Z", &["3"]),
        ("from=2026-10-15T12:00:00.000001Z", &["5", "7"]),
        ("to=2026-11-01T00:59:59%2B01:00", &["1", "3", "5"]),
        ("from=2026-12-01", &[]),
    ] {
        let response = app.get(&format!("/v1/products/A/movements?{query}")).await;
        assert_eq!(positions(response.items()), expected, "{query}");
    }
    let filtered = app
        .all_pages("/v1/products/A/movements?from=2026-10-02&limit=2")
        .await;
    let paged: Vec<String> = filtered.iter().flat_map(|p| positions(p.items())).collect();
    assert_eq!(paged, ["3", "5", "7"]);
    // A product without movements yet is there, with none.
    app.seed_product(&product("D")).await;
    let empty = app.get("/v1/products/D/movements").await;
    assert_eq!(empty.items(), &Vec::<Value>::new());
}

#[tokio::test]
async fn movements_as_csv_quote_free_text_and_hand_the_cursor_in_a_header() {
    let app = seeded().await;
    let csv = [("accept", "text/csv")];
    let first = app.get_with("/v1/products/A/movements?limit=3", &csv).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.content_type(), "text/csv; charset=utf-8");
    assert_eq!(
        first.text,
        "position,at,event,on_hand_change,reserved_change,on_hand,reserved,available,order_id,reference,reason\n\
         1,2026-10-01T10:00:00Z,product.registered,10,0,10,0,10,,,\n\
         3,2026-10-15T12:00:00Z,product.stock_reserved,0,4,10,4,6,0193a0c4-0000-7000-8000-000000000001,,\n\
         5,2026-10-31T23:59:59Z,product.stock_received,5,0,15,4,11,,\"PO-1, dock \"\"2\"\"\",\n"
    );
    let cursor = first.header("x-next-cursor").expect("more follow");
    let rest = app
        .get_with(
            &format!("/v1/products/A/movements?limit=3&cursor={cursor}"),
            &csv,
        )
        .await;
    assert_eq!(
        rest.text.lines().skip(1).collect::<Vec<_>>(),
        [
            "7,2026-11-02T09:00:00Z,product.stock_shipped,-4,-4,11,0,11,0193a0c4-0000-7000-8000-000000000001,,"
        ]
    );
    assert_eq!(rest.header("x-next-cursor"), None);
    assert!(rest.header("x-projection-position").is_some());
}

#[tokio::test]
async fn movements_of_an_unknown_product_are_not_found_and_bad_parameters_are_named() {
    let app = seeded().await;
    for path in [
        "/v1/products/NOPE/movements",
        "/v1/products/bad%20sku/movements",
    ] {
        app.get(path).await.assert_problem(404, "product_not_found");
    }
    let of_b = app.get("/v1/products/B/movements?limit=1").await;
    let foreign = format!("cursor={}", of_b.next_cursor().expect("B has two"));
    let catalogue = app.get("/v1/products?limit=1").await;
    let listing = format!("cursor={}", catalogue.next_cursor().expect("three"));
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("to=2026-11-01T25:00:00Z", "to"),
        ("from=2026-11-02&to=2026-11-01", "from"),
        ("from=2026-11-01T10:00:00Z&to=2026-11-01T09:59:59Z", "from"),
        ("cursor=garbage", "cursor"),
        (foreign.as_str(), "cursor"),
        (listing.as_str(), "cursor"),
        ("sku=A", "sku"),
        ("from=2026-11-01&from=2026-11-02", "from"),
    ] {
        let response = app.get(&format!("/v1/products/A/movements?{query}")).await;
        response.assert_invalid(parameter);
    }
}

#[tokio::test]
async fn stock_as_of_an_instant_is_each_product_as_it_stood_at_the_price_then() {
    let app = seeded().await;
    let a_in_october = ("A".to_owned(), 15, 4, 11, 1000, 15000);
    let b_registered = ("B".to_owned(), 0, 0, 0, 500, 0);
    for (as_of, shown, position, expected) in [
        ("2026-09-30", "2026-09-30T23:59:59.999999Z", 0, vec![]),
        (
            "2026-10-01T10:00:00Z",
            "2026-10-01T10:00:00Z",
            1,
            vec![("A".to_owned(), 10, 0, 10, 1000, 10000)],
        ),
        // A date is its end: the receipt of its last second is in.
        (
            "2026-10-31",
            "2026-10-31T23:59:59.999999Z",
            5,
            vec![a_in_october.clone(), b_registered.clone()],
        ),
        // The new price from its instant on.
        (
            "2026-11-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
            6,
            vec![
                ("A".to_owned(), 15, 4, 11, 1200, 18000),
                b_registered.clone(),
            ],
        ),
        (
            "2026-11-01T00:00:00%2B01:00",
            "2026-10-31T23:00:00Z",
            4,
            vec![
                ("A".to_owned(), 10, 4, 6, 1000, 10000),
                b_registered.clone(),
            ],
        ),
    ] {
        let response = app.get(&format!("/v1/analytics/stock?as_of={as_of}")).await;
        let body = response.assert_ok();
        assert_eq!(body["as_of"], shown, "{as_of}");
        assert_eq!(body["position"], position, "{as_of}");
        assert_eq!(stock(response.items()), expected, "{as_of}");
    }
    let now = app.get("/v1/analytics/stock").await;
    assert_eq!(now.body["position"], 9);
    assert_eq!(
        stock(now.items()),
        [
            ("A".to_owned(), 11, 0, 11, 1200, 13200),
            ("B".to_owned(), 3, 0, 3, 500, 1500),
            ("C".to_owned(), 2, 0, 2, 100, 200),
        ]
    );
    let usd = app.get("/v1/analytics/stock?currency=USD").await;
    assert_eq!(field_of(usd.items(), "sku"), ["B"]);
    assert_eq!(usd.items()[0]["currency"], "USD");
    let (_, document) = served_document(&app.url("")).await;
    assert_documented(&document, "StockPage", now.assert_ok());
}

#[tokio::test]
async fn every_page_of_a_stock_listing_shows_the_moment_of_its_first() {
    let app = seeded().await;
    let first = app.get("/v1/analytics/stock?limit=2").await;
    assert_eq!(field_of(first.items(), "sku"), ["A", "B"]);
    let cursor = first.next_cursor().expect("C follows");
    // C moves after the first page was read.
    app.exec(
        "INSERT INTO read.stock_movements (sku, position, at, event, on_hand_change,
                reserved_change, on_hand, reserved, available)
         VALUES ('C', 10, '2026-11-05T10:00:00Z', 'product.stock_received', 5, 0, 7, 0, 7)",
    )
    .await;
    app.advance(10).await;
    let second = app
        .get(&format!("/v1/analytics/stock?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(stock(second.items()), [("C".to_owned(), 2, 0, 2, 100, 200)]);
    assert_eq!(second.body["position"], 9);
    assert_eq!(second.body["as_of"], first.body["as_of"]);
    assert_eq!(second.body["next_cursor"], Value::Null);
    // The same cursor with another instant is refused; with its own, it is accepted.
    let as_of = first.body["as_of"].as_str().expect("as_of");
    let same = app
        .get(&format!(
            "/v1/analytics/stock?limit=2&cursor={cursor}&as_of={as_of}"
        ))
        .await;
    assert_eq!(stock(same.items()), stock(second.items()));
    app.get(&format!(
        "/v1/analytics/stock?cursor={cursor}&as_of=2026-10-31"
    ))
    .await
    .assert_invalid("cursor");
    // A new listing sees the movement.
    let fresh = app.get("/v1/analytics/stock?currency=EUR").await;
    assert_eq!(fresh.body["position"], 10);
    assert_eq!(stock(fresh.items())[1].1, 7);
}

#[tokio::test]
async fn stock_as_csv_says_its_instant_and_position_in_headers() {
    let app = seeded().await;
    let csv = [("accept", "text/csv")];
    let response = app
        .get_with("/v1/analytics/stock?as_of=2026-10-31&limit=1", &csv)
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.content_type(), "text/csv; charset=utf-8");
    assert_eq!(
        response.text,
        "sku,currency,on_hand,reserved,available,unit_price_cents,stock_value_cents\n\
         A,EUR,15,4,11,1000,15000\n"
    );
    assert_eq!(
        response.header("x-as-of"),
        Some("2026-10-31T23:59:59.999999Z")
    );
    assert_eq!(response.header("x-as-of-position"), Some("5"));
    let cursor = response.header("x-next-cursor").expect("B follows");
    let rest = app
        .get_with(
            &format!("/v1/analytics/stock?limit=1&cursor={cursor}"),
            &csv,
        )
        .await;
    assert_eq!(rest.text.lines().nth(1), Some("B,USD,0,0,0,500,0"));
    assert_eq!(rest.header("x-next-cursor"), None);
}

#[tokio::test]
async fn bad_stock_parameters_are_named() {
    let app = seeded().await;
    let first = app.get("/v1/analytics/stock?limit=1").await;
    let elsewhen = format!(
        "cursor={}&as_of=2026-10-31",
        first.next_cursor().expect("more follow")
    );
    for (query, parameter) in [
        ("as_of=2026-02-30", "as_of"),
        ("as_of=now", "as_of"),
        ("as_of=2026-11-01T10:00:00", "as_of"),
        ("currency=eur", "currency"),
        ("currency=EURO", "currency"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=garbage", "cursor"),
        (elsewhen.as_str(), "cursor"),
        ("from=2026-10-01", "from"),
        ("as_of=2026-10-31&as_of=2026-11-01", "as_of"),
    ] {
        let response = app.get(&format!("/v1/analytics/stock?{query}")).await;
        response.assert_invalid(parameter);
    }
}

#[tokio::test]
async fn history_answers_say_their_projection_position_and_take_min_position() {
    let app = seeded().await;
    for path in [
        "/v1/analytics/stock?as_of=2026-10-31&min_position=9",
        "/v1/products/A/movements?min_position=9",
    ] {
        let response = app.get(path).await;
        response.assert_ok();
        assert_eq!(response.projection_position(), 9, "{path}");
    }
}
