//! Order commands over HTTP (docs/domain.md, docs/api.md): placing against reject and backorder
//! policies, every refusal with its code, and what cancelling and shipping do to stock.

use serde_json::json;
use stockflow_events::OrderStatus;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_invariants, assert_keys};

const PLACED_KEYS: [&str; 8] = [
    "order_id",
    "status",
    "currency",
    "total_cents",
    "lines",
    "replenishments",
    "version",
    "position",
];

fn uuid(id: &str) -> Uuid {
    id.parse().expect("a uuid")
}

/// A product in another currency or at another price than `TestApp::register` makes.
async fn register_priced(app: &TestApp, sku: &str, stock: i64, price: i64, currency: &str) {
    app.post(
        "/v1/products",
        json!({"sku": sku, "name": sku, "unit_price_cents": price, "currency": currency,
               "initial_stock": stock}),
    )
    .await
    .assert_status(201);
}

async fn assert_consistent(app: &TestApp) {
    let (products, orders) = app.replay().await;
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn place_answers_201_with_lines_total_and_a_server_made_uuid_v7() {
    let app = TestApp::spawn().await;
    app.register("PL-A", 10, "reject").await;
    register_priced(&app, "PL-B", 10, 250, "EUR").await;

    let response = app.place("cust-1", &[("PL-A", 2), ("PL-B", 3)]).await;
    let body = response.assert_status(201);
    assert_eq!(response.content_type(), "application/json");
    assert_keys(body, &PLACED_KEYS);
    let id = uuid(body["order_id"].as_str().expect("an order id"));
    assert_eq!(id.get_version_num(), 7, "the server makes UUID v7 ids");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["total_cents"], 2 * 1000 + 3 * 250);
    assert_eq!(
        body["lines"],
        json!([
            {"sku": "PL-A", "quantity": 2, "reserved": 2, "backordered": 0, "unit_price_cents": 1000},
            {"sku": "PL-B", "quantity": 3, "reserved": 3, "backordered": 0, "unit_price_cents": 250},
        ])
    );
    for line in body["lines"].as_array().expect("lines") {
        assert_keys(
            line,
            &[
                "sku",
                "quantity",
                "reserved",
                "backordered",
                "unit_price_cents",
            ],
        );
    }
    assert_eq!(body["replenishments"], json!([]));
    assert_eq!(body["version"], 1);
    assert_eq!(response.position(), app.head().await);

    let (products, orders) = app.replay().await;
    let order = &orders[&id];
    assert_eq!(order.customer_id, "cust-1");
    assert_eq!(order.total_cents, 2750);
    assert_eq!(products["PL-A"].reserved, 2);
    assert_eq!(products["PL-B"].reserved, 3);
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn a_client_order_id_is_honoured() {
    let app = TestApp::spawn().await;
    app.register("CID", 10, "reject").await;
    let given = "4f1c7e2a-9b3d-4c5e-8f6a-1b2c3d4e5f60";
    let response = app
        .post(
            "/v1/orders",
            json!({"order_id": given, "customer_id": "c", "lines": [{"sku": "CID", "quantity": 1}]}),
        )
        .await;
    assert_eq!(response.assert_status(201)["order_id"], given);
    let (_, orders) = app.replay().await;
    assert!(orders.contains_key(&uuid(given)));
    // And it names the order on later commands.
    app.cancel(given).await.assert_status(200);
}

#[tokio::test]
async fn a_shortage_under_reject_refuses_the_whole_order_listing_every_short_line() {
    let app = TestApp::spawn().await;
    app.register("SH-A", 5, "reject").await;
    app.register("SH-B", 0, "reject").await;
    app.register("SH-C", 10, "reject").await;
    app.register("SH-D", 1, "backorder").await;
    // 3 of SH-A's 5 are taken: 2 are available.
    app.place("early", &[("SH-A", 3)]).await.assert_status(201);

    let before = app.events().await.len();
    let response = app
        .place("c1", &[("SH-A", 3), ("SH-B", 1), ("SH-C", 10), ("SH-D", 4)])
        .await;
    let problem = response.assert_problem(422, "insufficient_stock");
    assert_eq!(
        problem["lines"],
        json!([
            {"sku": "SH-A", "requested": 3, "available": 2},
            {"sku": "SH-B", "requested": 1, "available": 0},
        ])
    );
    assert_eq!(app.events().await.len(), before, "nothing is written");

    // Exactly the available quantity is fine.
    let exact = app.place("c2", &[("SH-A", 2), ("SH-C", 10)]).await;
    assert_eq!(exact.assert_status(201)["status"], "ready");
    assert_consistent(&app).await;
}

#[tokio::test]
async fn a_shortage_under_backorder_reserves_what_is_there_and_requests_the_shortfall_plus_20_percent()
 {
    let app = TestApp::spawn().await;
    app.register("BO-1", 3, "backorder").await;
    app.register("BO-2", 10, "reject").await;

    let response = app.place("c1", &[("BO-2", 4), ("BO-1", 10)]).await;
    let body = response.assert_status(201);
    assert_keys(body, &PLACED_KEYS);
    assert_eq!(body["status"], "backordered");
    assert_eq!(
        body["lines"],
        json!([
            {"sku": "BO-2", "quantity": 4, "reserved": 4, "backordered": 0, "unit_price_cents": 1000},
            {"sku": "BO-1", "quantity": 10, "reserved": 3, "backordered": 7, "unit_price_cents": 1000},
        ])
    );
    // ceil(7 × 1.2) = ceil(8.4) = 9.
    assert_eq!(
        body["replenishments"],
        json!([{"sku": "BO-1", "quantity": 9}])
    );
    assert_eq!(
        body["total_cents"], 14_000,
        "backordered units are billed too"
    );
    assert_eq!(response.position(), app.head().await);

    // Nothing left: all backordered. ceil(5 × 1.2) = 6 exactly.
    let second = app.place("c2", &[("BO-1", 5)]).await;
    let body = second.assert_status(201);
    assert_eq!(body["lines"][0]["reserved"], 0);
    assert_eq!(body["lines"][0]["backordered"], 5);
    assert_eq!(
        body["replenishments"],
        json!([{"sku": "BO-1", "quantity": 6}])
    );
    // ceil(1 × 1.2) = 2.
    let third = app.place("c3", &[("BO-1", 1)]).await;
    assert_eq!(
        third.assert_status(201)["replenishments"],
        json!([{"sku": "BO-1", "quantity": 2}])
    );

    let (products, orders) = app.replay().await;
    assert_eq!(products["BO-1"].on_hand, 3);
    assert_eq!(products["BO-1"].reserved, 3);
    assert_eq!(products["BO-1"].backordered(), 13);
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn a_backorder_product_with_enough_stock_just_reserves() {
    let app = TestApp::spawn().await;
    app.register("BO-3", 4, "backorder").await;
    let body = app.place("c1", &[("BO-3", 4)]).await;
    let body = body.assert_status(201);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["lines"][0]["backordered"], 0);
    assert_eq!(body["replenishments"], json!([]));
}

#[tokio::test]
async fn unknown_skus_are_422_unknown_product_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    app.register("KNOWN-1", 10, "reject").await;
    let before = app.events().await.len();
    let response = app
        .place("c1", &[("KNOWN-1", 1), ("GHOST-1", 1), ("GHOST-2", 1)])
        .await;
    let problem = response.assert_problem(422, "unknown_product");
    assert_eq!(problem["skus"], json!(["GHOST-1", "GHOST-2"]));
    assert_eq!(app.events().await.len(), before);
}

#[tokio::test]
async fn a_discontinued_sku_is_422_product_discontinued() {
    let app = TestApp::spawn().await;
    app.register("GONE", 10, "reject").await;
    app.post("/v1/products/GONE/discontinue", json!({}))
        .await
        .assert_status(200);
    let before = app.events().await.len();
    let problem = app.place("c1", &[("GONE", 1)]).await;
    assert_eq!(
        problem.assert_problem(422, "product_discontinued")["skus"],
        json!(["GONE"])
    );
    assert_eq!(app.events().await.len(), before);
}

#[tokio::test]
async fn lines_in_two_currencies_are_422_currency_mismatch() {
    let app = TestApp::spawn().await;
    app.register("IN-EUR", 10, "reject").await;
    register_priced(&app, "IN-USD", 10, 1000, "USD").await;
    let before = app.events().await.len();
    let problem = app.place("c1", &[("IN-EUR", 1), ("IN-USD", 1)]).await;
    assert_eq!(
        problem.assert_problem(422, "currency_mismatch")["currencies"],
        json!(["EUR", "USD"])
    );
    assert_eq!(app.events().await.len(), before);
    // Each on its own is fine, in its own currency.
    let usd = app.place("c1", &[("IN-USD", 1)]).await;
    assert_eq!(usd.assert_status(201)["currency"], "USD");
}

#[tokio::test]
async fn an_order_id_taken_is_409_order_exists() {
    let app = TestApp::spawn().await;
    app.register("DUP", 10, "reject").await;
    let id = Uuid::now_v7().to_string();
    let place = |quantity: i64| json!({"order_id": id, "customer_id": "c", "lines": [{"sku": "DUP", "quantity": quantity}]});
    app.post("/v1/orders", place(1)).await.assert_status(201);
    let before = app.events().await.len();
    app.post("/v1/orders", place(1))
        .await
        .assert_problem(409, "order_exists");
    app.post("/v1/orders", place(2))
        .await
        .assert_problem(409, "order_exists");
    assert_eq!(app.events().await.len(), before);
    let (products, _) = app.replay().await;
    assert_eq!(products["DUP"].reserved, 1);
}

#[tokio::test]
async fn cancelling_a_ready_order_releases_its_reservation() {
    let app = TestApp::spawn().await;
    app.register("CXL-1", 5, "reject").await;
    let order = app.place("c1", &[("CXL-1", 5)]).await.created_order_id();
    app.place("c2", &[("CXL-1", 1)])
        .await
        .assert_problem(422, "insufficient_stock");

    let response = app
        .post(
            &format!("/v1/orders/{order}/cancel"),
            json!({"reason": "changed my mind"}),
        )
        .await;
    let body = response.assert_status(200);
    assert_keys(body, &["order_id", "status", "version", "position"]);
    assert_eq!(body["order_id"], order);
    assert_eq!(body["status"], "cancelled");
    assert_eq!(body["version"], 2);
    assert_eq!(response.position(), app.head().await);

    let (products, orders) = app.replay().await;
    assert_eq!(products["CXL-1"].on_hand, 5);
    assert_eq!(products["CXL-1"].reserved, 0);
    assert_eq!(orders[&uuid(&order)].status, OrderStatus::Cancelled);
    assert_invariants(&products, &orders);

    // The released units are there for the next order.
    let next = app.place("c2", &[("CXL-1", 5)]).await;
    assert_eq!(next.assert_status(201)["status"], "ready");
    assert_consistent(&app).await;
}

#[tokio::test]
async fn cancelling_a_backordered_order_releases_and_withdraws_its_backorders() {
    let app = TestApp::spawn().await;
    app.register("CXL-2", 2, "backorder").await;
    let order = app.place("c1", &[("CXL-2", 5)]).await.created_order_id();
    app.cancel(&order).await.assert_status(200);

    let (products, orders) = app.replay().await;
    assert_eq!(products["CXL-2"].reserved, 0);
    assert_eq!(products["CXL-2"].backordered(), 0);
    assert_invariants(&products, &orders);

    // A receipt no longer fills the cancelled order.
    let receipt = app.receive("CXL-2", 3).await;
    let body = receipt.assert_status(200);
    assert_eq!(body["filled"], json!([]));
    assert_eq!(body["orders_ready"], json!([]));
    assert_eq!(body["available"], 5);

    let next = app.place("c2", &[("CXL-2", 5)]).await;
    let body = next.assert_status(201);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["lines"][0]["reserved"], 5);
    assert_consistent(&app).await;
}

#[tokio::test]
async fn only_open_orders_can_be_cancelled() {
    let app = TestApp::spawn().await;
    app.register("CXL-3", 10, "reject").await;
    let cancelled = app.place("c1", &[("CXL-3", 1)]).await.created_order_id();
    app.cancel(&cancelled).await.assert_status(200);
    let shipped = app.place("c1", &[("CXL-3", 1)]).await.created_order_id();
    app.ship(&shipped).await.assert_status(200);

    let before = app.events().await.len();
    app.cancel(&cancelled)
        .await
        .assert_problem(409, "order_not_cancellable");
    app.cancel(&shipped)
        .await
        .assert_problem(409, "order_not_cancellable");
    assert_eq!(app.events().await.len(), before);
    let (products, orders) = app.replay().await;
    assert_eq!(products["CXL-3"].on_hand, 9);
    assert_eq!(products["CXL-3"].reserved, 0);
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn shipping_a_ready_order_takes_its_units_out_of_stock() {
    let app = TestApp::spawn().await;
    app.register("SHP-A", 10, "reject").await;
    app.register("SHP-B", 5, "reject").await;
    let order = app
        .place("c1", &[("SHP-A", 3), ("SHP-B", 5)])
        .await
        .created_order_id();
    app.place("c2", &[("SHP-A", 2)]).await.assert_status(201);

    let response = app
        .post(
            &format!("/v1/orders/{order}/ship"),
            json!({"carrier": "UPS", "tracking_number": "1Z999"}),
        )
        .await;
    let body = response.assert_status(200);
    assert_keys(body, &["order_id", "status", "version", "position"]);
    assert_eq!(body["order_id"], order);
    assert_eq!(body["status"], "shipped");
    assert_eq!(body["version"], 2);
    assert_eq!(response.position(), app.head().await);

    let (products, orders) = app.replay().await;
    assert_eq!(products["SHP-A"].on_hand, 7);
    assert_eq!(
        products["SHP-A"].reserved, 2,
        "the other order keeps its units"
    );
    assert_eq!(products["SHP-B"].on_hand, 0);
    assert_eq!(products["SHP-B"].reserved, 0);
    assert_eq!(orders[&uuid(&order)].status, OrderStatus::Shipped);
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn only_ready_orders_ship() {
    let app = TestApp::spawn().await;
    app.register("SHP-C", 1, "backorder").await;
    let backordered = app.place("c1", &[("SHP-C", 3)]).await.created_order_id();
    app.register("SHP-D", 10, "reject").await;
    let cancelled = app.place("c1", &[("SHP-D", 1)]).await.created_order_id();
    app.cancel(&cancelled).await.assert_status(200);
    let shipped = app.place("c1", &[("SHP-D", 1)]).await.created_order_id();
    app.ship(&shipped).await.assert_status(200);

    let before = app.events().await.len();
    app.ship(&backordered)
        .await
        .assert_problem(409, "order_not_ready");
    app.ship(&cancelled)
        .await
        .assert_problem(409, "order_cancelled");
    app.ship(&shipped)
        .await
        .assert_problem(409, "order_already_shipped");
    assert_eq!(app.events().await.len(), before);

    // Once filled, the backordered order ships.
    let receipt = app.receive("SHP-C", 2).await;
    assert_eq!(
        receipt.assert_status(200)["orders_ready"],
        json!([backordered])
    );
    app.ship(&backordered).await.assert_status(200);
    let (products, orders) = app.replay().await;
    assert_eq!(products["SHP-C"].on_hand, 0);
    assert_eq!(products["SHP-D"].on_hand, 9);
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn an_unknown_or_impossible_order_id_in_the_path_is_404_order_not_found() {
    let app = TestApp::spawn().await;
    let unknown = Uuid::now_v7().to_string();
    let ship_body = json!({"carrier": "DHL", "tracking_number": "T1"});
    for id in [unknown.as_str(), "not-a-uuid", "123", "%FF", "%20"] {
        app.post(&format!("/v1/orders/{id}/cancel"), json!({}))
            .await
            .assert_problem(404, "order_not_found");
        app.post(&format!("/v1/orders/{id}/ship"), ship_body.clone())
            .await
            .assert_problem(404, "order_not_found");
    }
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn if_match_holds_order_commands_to_the_order_version() {
    let app = TestApp::spawn().await;
    app.register("IFM-O", 10, "reject").await;
    let first = app.place("c1", &[("IFM-O", 1)]).await.created_order_id();
    let second = app.place("c1", &[("IFM-O", 1)]).await.created_order_id();
    let ship_body = json!({"carrier": "DHL", "tracking_number": "T1"});

    let stale = app
        .post_with(
            &format!("/v1/orders/{first}/ship"),
            ship_body.clone(),
            &[("If-Match", "\"2\"")],
        )
        .await;
    let problem = stale.assert_problem(412, "version_mismatch");
    assert_eq!(problem["current_version"], 1);
    let malformed = app
        .post_with(
            &format!("/v1/orders/{first}/cancel"),
            json!({}),
            &[("If-Match", "v1")],
        )
        .await;
    assert_eq!(
        malformed.assert_problem(400, "validation_failed")["errors"][0]["field"],
        "If-Match"
    );

    let ok = app
        .post_with(
            &format!("/v1/orders/{first}/ship"),
            ship_body,
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(ok.assert_status(200)["version"], 2);
    let star = app
        .post_with(
            &format!("/v1/orders/{second}/cancel"),
            json!({}),
            &[("If-Match", "*")],
        )
        .await;
    star.assert_status(200);

    let place = app
        .post_with(
            "/v1/orders",
            json!({"customer_id": "c", "lines": [{"sku": "IFM-O", "quantity": 1}]}),
            &[("If-Match", "\"0\"")],
        )
        .await;
    place.assert_status(201);
    assert_consistent(&app).await;
}

/// Order commands that change several streams keep the version of the order as theirs.
#[tokio::test]
async fn an_order_filled_by_receipts_counts_those_events_in_its_version() {
    let app = TestApp::spawn().await;
    app.register("VER", 0, "backorder").await;
    let order = app.place("c1", &[("VER", 2)]).await.created_order_id();
    app.receive("VER", 2).await.assert_status(200);
    // Placed (1), line filled (2), ready (3): cancelling makes 4.
    let cancelled = app
        .post_with(
            &format!("/v1/orders/{order}/cancel"),
            json!({"reason": "late"}),
            &[("If-Match", "\"3\"")],
        )
        .await;
    assert_eq!(cancelled.assert_status(200)["version"], 4);
}

#[tokio::test]
async fn if_match_on_placing_a_new_order_holds_it_to_version_0() {
    let app = TestApp::spawn().await;
    app.register("IFM-P", 10, "reject").await;
    let response = app
        .post_with(
            "/v1/orders",
            json!({"customer_id": "c", "lines": [{"sku": "IFM-P", "quantity": 1}]}),
            &[("If-Match", "\"1\"")],
        )
        .await;
    response.assert_problem(412, "version_mismatch");
    assert_eq!(app.events().await.len(), 1, "only the registration");
}
