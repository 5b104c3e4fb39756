//! Product commands over HTTP (docs/domain.md, docs/api.md): the success shapes, every refusal with its
//! code, the FIFO filling of backorders by receipts, and If-Match on product streams.

use serde_json::{Value, json};
use stockflow_events::BackorderPolicy;

use crate::helpers::{TestApp, assert_invariants, assert_keys};

const RECEIPT_KEYS: [&str; 9] = [
    "sku",
    "on_hand",
    "reserved",
    "available",
    "backordered",
    "filled",
    "orders_ready",
    "version",
    "position",
];

#[tokio::test]
async fn register_answers_201_with_sku_version_and_position_and_applies_the_defaults() {
    let app = TestApp::spawn().await;
    let response = app
        .post(
            "/v1/products",
            json!({"sku": "REG-1", "name": "Widget", "unit_price_cents": 250, "currency": "EUR"}),
        )
        .await;
    let body = response.assert_status(201);
    assert_eq!(response.content_type(), "application/json");
    assert_keys(body, &["sku", "version", "position"]);
    assert_eq!(body["sku"], "REG-1");
    assert_eq!(body["version"], 1);
    assert_eq!(response.position(), app.head().await);

    let (products, _) = app.replay().await;
    let product = &products["REG-1"];
    assert_eq!(product.name, "Widget");
    assert_eq!(product.unit_price_cents, 250);
    assert_eq!(product.currency, "EUR");
    assert_eq!(product.on_hand, 0, "initial_stock defaults to 0");
    assert_eq!(product.backorder_policy, BackorderPolicy::Reject);

    // The default policy shows: an order it cannot serve is refused, not backordered.
    let refused = app.place("c1", &[("REG-1", 1)]).await;
    let problem = refused.assert_problem(422, "insufficient_stock");
    assert_eq!(
        problem["lines"],
        json!([{"sku": "REG-1", "requested": 1, "available": 0}])
    );
}

#[tokio::test]
async fn register_keeps_the_given_stock_and_policy() {
    let app = TestApp::spawn().await;
    app.register("REG-2", 7, "backorder").await;
    let (products, _) = app.replay().await;
    assert_eq!(products["REG-2"].on_hand, 7);
    assert_eq!(
        products["REG-2"].backorder_policy,
        BackorderPolicy::Backorder
    );
}

#[tokio::test]
async fn registering_a_taken_sku_is_409_product_exists_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.register("TAKEN", 5, "reject").await;
    let before = app.events().await.len();
    let again = app
        .post(
            "/v1/products",
            json!({"sku": "TAKEN", "name": "Another", "unit_price_cents": 1, "currency": "USD"}),
        )
        .await;
    again.assert_problem(409, "product_exists");
    assert_eq!(app.events().await.len(), before);
    let (products, _) = app.replay().await;
    assert_eq!(
        products["TAKEN"].name, "Product TAKEN",
        "the first one stands"
    );
}

#[tokio::test]
async fn a_receipt_answers_with_the_resulting_levels() {
    let app = TestApp::spawn().await;
    app.register("RCV-1", 10, "reject").await;
    app.place("c1", &[("RCV-1", 4)]).await.assert_status(201);

    let response = app
        .post(
            "/v1/products/RCV-1/receipts",
            json!({"quantity": 5, "reference": "PO-77"}),
        )
        .await;
    let body = response.assert_status(200);
    assert_keys(body, &RECEIPT_KEYS);
    assert_eq!(body["sku"], "RCV-1");
    assert_eq!(body["on_hand"], 15);
    assert_eq!(body["reserved"], 4);
    assert_eq!(body["available"], 11);
    assert_eq!(body["backordered"], 0);
    assert_eq!(body["filled"], json!([]));
    assert_eq!(body["orders_ready"], json!([]));
    // Registered (1), reserved (2), received (3).
    assert_eq!(body["version"], 3);
    assert_eq!(response.position(), app.head().await);

    // Without a reference too.
    let plain = app.receive("RCV-1", 1).await;
    assert_eq!(plain.assert_status(200)["on_hand"], 16);
    assert_eq!(plain.body["version"], 4);
}

#[tokio::test]
async fn receipts_fill_backorders_oldest_first_and_list_the_orders_made_ready() {
    let app = TestApp::spawn().await;
    app.register("FIFO", 0, "backorder").await;
    let first = app.place("first", &[("FIFO", 5)]).await.created_order_id();
    let second = app.place("second", &[("FIFO", 3)]).await.created_order_id();

    // 6 units: all 5 of the older order, 1 of the younger.
    let response = app.receive("FIFO", 6).await;
    let body = response.assert_status(200);
    assert_eq!(
        body["filled"],
        json!([{"order_id": first, "quantity": 5}, {"order_id": second, "quantity": 1}])
    );
    assert_eq!(body["orders_ready"], json!([first]));
    assert_eq!(body["on_hand"], 6);
    assert_eq!(body["reserved"], 6);
    assert_eq!(body["available"], 0);
    assert_eq!(body["backordered"], 2);
    assert_eq!(response.position(), app.head().await);

    let response = app.receive("FIFO", 10).await;
    let body = response.assert_status(200);
    assert_eq!(body["filled"], json!([{"order_id": second, "quantity": 2}]));
    assert_eq!(body["orders_ready"], json!([second]));
    assert_eq!(body["on_hand"], 16);
    assert_eq!(body["reserved"], 8);
    assert_eq!(body["available"], 8);
    assert_eq!(body["backordered"], 0);

    // Both ready now: both ship.
    app.ship(&first).await.assert_status(200);
    app.ship(&second).await.assert_status(200);
    let (products, orders) = app.replay().await;
    assert_invariants(&products, &orders);
    assert_eq!(products["FIFO"].on_hand, 8);
    assert_eq!(products["FIFO"].reserved, 0);
}

#[tokio::test]
async fn an_order_is_made_ready_only_when_every_one_of_its_lines_is_filled() {
    let app = TestApp::spawn().await;
    app.register("TWO-A", 0, "backorder").await;
    app.register("TWO-B", 0, "backorder").await;
    let order = app
        .place("c1", &[("TWO-A", 2), ("TWO-B", 3)])
        .await
        .created_order_id();

    let a = app.receive("TWO-A", 2).await;
    assert_eq!(
        a.assert_status(200)["filled"],
        json!([{"order_id": order, "quantity": 2}])
    );
    assert_eq!(a.body["orders_ready"], json!([]), "TWO-B is still short");
    app.ship(&order)
        .await
        .assert_problem(409, "order_not_ready");

    let b = app.receive("TWO-B", 3).await;
    assert_eq!(b.assert_status(200)["orders_ready"], json!([order]));
    app.ship(&order).await.assert_status(200);
    let (products, orders) = app.replay().await;
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn adjustments_answer_with_the_levels_and_may_go_down_exactly_to_reserved() {
    let app = TestApp::spawn().await;
    app.register("ADJ-1", 10, "reject").await;
    app.place("c1", &[("ADJ-1", 4)]).await.assert_status(201);

    let up = app
        .post(
            "/v1/products/ADJ-1/adjustments",
            json!({"delta": 3, "reason": "found a box"}),
        )
        .await;
    let body = up.assert_status(200);
    assert_keys(
        body,
        &[
            "sku",
            "on_hand",
            "reserved",
            "available",
            "version",
            "position",
        ],
    );
    assert_eq!(body["sku"], "ADJ-1");
    assert_eq!(body["on_hand"], 13);
    assert_eq!(body["reserved"], 4);
    assert_eq!(body["available"], 9);
    assert_eq!(body["version"], 3);
    assert_eq!(up.position(), app.head().await);

    // 13 - 9 = 4 = reserved: allowed, nothing left available.
    let down = app
        .post(
            "/v1/products/ADJ-1/adjustments",
            json!({"delta": -9, "reason": "damaged"}),
        )
        .await;
    let body = down.assert_status(200);
    assert_eq!(body["on_hand"], 4);
    assert_eq!(body["reserved"], 4);
    assert_eq!(body["available"], 0);

    let before = app.events().await.len();
    let below = app
        .post(
            "/v1/products/ADJ-1/adjustments",
            json!({"delta": -1, "reason": "lost"}),
        )
        .await;
    below.assert_problem(409, "adjustment_below_reserved");
    assert_eq!(app.events().await.len(), before, "a refusal writes nothing");
    let (products, orders) = app.replay().await;
    assert_eq!(products["ADJ-1"].on_hand, 4);
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn an_adjustment_below_zero_without_reservations_is_also_refused() {
    let app = TestApp::spawn().await;
    app.register("ADJ-2", 2, "reject").await;
    let below = app
        .post(
            "/v1/products/ADJ-2/adjustments",
            json!({"delta": -3, "reason": "miscount"}),
        )
        .await;
    below.assert_problem(409, "adjustment_below_reserved");
    let to_zero = app
        .post(
            "/v1/products/ADJ-2/adjustments",
            json!({"delta": -2, "reason": "miscount"}),
        )
        .await;
    assert_eq!(to_zero.assert_status(200)["on_hand"], 0);
}

#[tokio::test]
async fn a_new_price_applies_to_later_orders_only() {
    let app = TestApp::spawn().await;
    app.register("PRICE-1", 100, "reject").await;
    let before = app.place("c1", &[("PRICE-1", 2)]).await.created_order_id();

    let response = app
        .post(
            "/v1/products/PRICE-1/price",
            json!({"unit_price_cents": 1500}),
        )
        .await;
    let body = response.assert_status(200);
    assert_keys(body, &["sku", "unit_price_cents", "version", "position"]);
    assert_eq!(body["sku"], "PRICE-1");
    assert_eq!(body["unit_price_cents"], 1500);
    assert_eq!(body["version"], 3);
    assert_eq!(response.position(), app.head().await);

    let after = app.place("c2", &[("PRICE-1", 2)]).await;
    let placed = after.assert_status(201);
    assert_eq!(placed["lines"][0]["unit_price_cents"], 1500);
    assert_eq!(placed["total_cents"], 3000);

    let (_, orders) = app.replay().await;
    let earlier = &orders[&before.parse().expect("a uuid")];
    assert_eq!(earlier.lines[0].unit_price_cents, 1000, "kept its price");
    assert_eq!(earlier.total_cents, 2000);
}

#[tokio::test]
async fn discontinuing_refuses_later_orders_but_open_ones_still_ship() {
    let app = TestApp::spawn().await;
    app.register("DISC-1", 10, "reject").await;
    app.register("DISC-2", 10, "reject").await;
    let open = app.place("c1", &[("DISC-1", 3)]).await.created_order_id();

    let response = app.post("/v1/products/DISC-1/discontinue", json!({})).await;
    let body = response.assert_status(200);
    assert_keys(body, &["sku", "status", "version", "position"]);
    assert_eq!(body["sku"], "DISC-1");
    assert_eq!(body["status"], "discontinued");
    assert_eq!(body["version"], 3);
    assert_eq!(response.position(), app.head().await);

    let before = app.events().await.len();
    let later = app.place("c2", &[("DISC-2", 1), ("DISC-1", 1)]).await;
    let problem = later.assert_problem(422, "product_discontinued");
    assert_eq!(problem["skus"], json!(["DISC-1"]));
    assert_eq!(
        app.events().await.len(),
        before,
        "the whole order is refused"
    );

    app.ship(&open).await.assert_status(200);
    let twice = app.post("/v1/products/DISC-1/discontinue", json!({})).await;
    twice.assert_problem(409, "already_discontinued");

    let (products, orders) = app.replay().await;
    assert!(products["DISC-1"].discontinued);
    assert_eq!(products["DISC-1"].on_hand, 7);
    assert_invariants(&products, &orders);
}

#[tokio::test]
async fn discontinue_takes_an_empty_body_too() {
    let app = TestApp::spawn().await;
    app.register("DISC-3", 0, "reject").await;
    let response = app
        .post_raw("/v1/products/DISC-3/discontinue", Vec::new(), None)
        .await;
    assert_eq!(response.assert_status(200)["status"], "discontinued");
}

/// Each product endpoint with a body it would accept.
fn product_commands() -> Vec<(&'static str, Value)> {
    vec![
        ("receipts", json!({"quantity": 1})),
        ("adjustments", json!({"delta": 1, "reason": "count"})),
        ("price", json!({"unit_price_cents": 10})),
        ("discontinue", json!({})),
    ]
}

#[tokio::test]
async fn an_unknown_or_impossible_sku_in_the_path_is_404_product_not_found() {
    let app = TestApp::spawn().await;
    app.register("KNOWN", 1, "reject").await;
    let long = "A".repeat(33);
    let unknown_skus = ["NOPE", "known", long.as_str(), "A%20B", "%FF", "A.B"];
    for (endpoint, body) in product_commands() {
        for sku in unknown_skus {
            let response = app
                .post(&format!("/v1/products/{sku}/{endpoint}"), body.clone())
                .await;
            response.assert_problem(404, "product_not_found");
        }
    }
    assert_eq!(app.events().await.len(), 1, "nothing but the registration");
}

#[tokio::test]
async fn if_match_with_the_current_version_succeeds_on_every_product_command() {
    let app = TestApp::spawn().await;
    app.register("IFM-1", 5, "reject").await;
    for (i, (endpoint, body)) in product_commands().into_iter().enumerate() {
        let version = i + 1;
        let response = app
            .post_with(
                &format!("/v1/products/IFM-1/{endpoint}"),
                body,
                &[("If-Match", &format!("\"{version}\""))],
            )
            .await;
        assert_eq!(
            response.assert_status(200)["version"],
            version + 1,
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn if_match_with_another_version_is_412_version_mismatch_on_every_product_command() {
    let app = TestApp::spawn().await;
    app.register("IFM-2", 5, "reject").await;
    app.receive("IFM-2", 1).await.assert_status(200);
    for (endpoint, body) in product_commands() {
        for stale in ["\"1\"", "\"3\"", "\"0\""] {
            let response = app
                .post_with(
                    &format!("/v1/products/IFM-2/{endpoint}"),
                    body.clone(),
                    &[("If-Match", stale)],
                )
                .await;
            let problem = response.assert_problem(412, "version_mismatch");
            assert_eq!(problem["current_version"], 2, "{endpoint} {stale}");
        }
    }
    assert_eq!(
        app.events().await.len(),
        2,
        "a failed precondition writes nothing"
    );
}

#[tokio::test]
async fn a_malformed_if_match_is_400_validation_failed() {
    let app = TestApp::spawn().await;
    app.register("IFM-3", 5, "reject").await;
    for (endpoint, body) in product_commands() {
        for malformed in [
            "1", "\"one\"", "\"-1\"", "\"1", "\"\"", "W/\"x\"", "\"1.5\"",
        ] {
            let response = app
                .post_with(
                    &format!("/v1/products/IFM-3/{endpoint}"),
                    body.clone(),
                    &[("If-Match", malformed)],
                )
                .await;
            let problem = response.assert_problem(400, "validation_failed");
            assert_eq!(
                problem["errors"],
                json!([{"field": "If-Match", "message": problem["errors"][0]["message"]}]),
                "{endpoint} {malformed}"
            );
        }
    }
    assert_eq!(app.events().await.len(), 1);
}

#[tokio::test]
async fn if_match_star_accepts_any_version() {
    let app = TestApp::spawn().await;
    app.register("IFM-4", 5, "reject").await;
    for (endpoint, body) in product_commands() {
        let response = app
            .post_with(
                &format!("/v1/products/IFM-4/{endpoint}"),
                body,
                &[("If-Match", "*")],
            )
            .await;
        response.assert_status(200);
    }
}

#[tokio::test]
async fn if_match_on_registering_a_new_sku_holds_it_to_version_0() {
    let app = TestApp::spawn().await;
    let body =
        |sku: &str| json!({"sku": sku, "name": "n", "unit_price_cents": 1, "currency": "EUR"});
    let stale = app
        .post_with("/v1/products", body("IFM-5"), &[("If-Match", "\"3\"")])
        .await;
    stale.assert_problem(412, "version_mismatch");
    let fresh = app
        .post_with("/v1/products", body("IFM-5"), &[("If-Match", "\"0\"")])
        .await;
    fresh.assert_status(201);
}

#[tokio::test]
async fn if_match_star_on_registering_refuses_since_nothing_exists_yet() {
    let app = TestApp::spawn().await;
    let body = json!({"sku": "IFM-6", "name": "n", "unit_price_cents": 1, "currency": "EUR"});
    let response = app
        .post_with("/v1/products", body, &[("If-Match", "*")])
        .await;
    response.assert_problem(412, "version_mismatch");
    assert_eq!(app.events().await.len(), 0);
}
