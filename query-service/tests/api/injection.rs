//! Hostile strings in query parameters and paths: SQL and LIKE metacharacters match
//! themselves and nothing else, controls are refused naming the parameter, and oversized or
//! odd requests are refused as a client error, never a 5xx.

use crate::helpers::{TestApp, order, product, replenishment};

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Customers whose ids are metacharacters, each with one order, and look-alikes that a
/// pattern would also match.
const CUSTOMERS: &[&str] = &[
    "%",
    "_",
    "\\",
    "\\%",
    "a%c",
    "abc",
    "a_c",
    "'; DROP TABLE read.orders;--",
    "' OR '1'='1",
    "O'Brien",
    "🦀 e\u{301} \u{202e}",
];

#[tokio::test]
async fn a_metacharacter_in_a_filter_or_path_matches_only_itself() {
    let app = TestApp::spawn().await;
    for (i, customer) in CUSTOMERS.iter().enumerate() {
        app.seed_order(&order(customer, &format!("2026-11-{:02}T10:00:00Z", i + 1)))
            .await;
        app.seed_customer(
            customer,
            1,
            1,
            "2026-11-01T10:00:00Z",
            "2026-11-01T10:00:00Z",
            &[("EUR", 2000)],
        )
        .await;
    }
    for customer in CUSTOMERS {
        let listing = app
            .get(&format!("/v1/orders?customer_id={}", encode(customer)))
            .await;
        let items = listing.items();
        assert_eq!(items.len(), 1, "{customer:?} matched {}", listing.text);
        assert_eq!(items[0]["customer_id"], *customer);

        let one = app
            .get(&format!(
                "/v1/customers/{}",
                encode(customer).replace('+', "%20")
            ))
            .await;
        assert_eq!(one.assert_ok()["customer_id"], *customer);
    }
    // Nobody is called "%%" or "'": no pattern, no quote breaks out.
    for nobody in ["%%", "'", "a", "' OR '1'='1' --", "\\\\"] {
        let listing = app
            .get(&format!("/v1/orders?customer_id={}", encode(nobody)))
            .await;
        assert!(listing.items().is_empty(), "{nobody:?}: {}", listing.text);
        app.get(&format!(
            "/v1/customers/{}",
            encode(nobody).replace('+', "%20")
        ))
        .await
        .assert_problem(404, "customer_not_found");
    }
    // Controls are refused, naming the parameter; NUL included (PostgreSQL cannot take it).
    for control in ["\u{0}", "a\u{0}b", "\n", "\u{7f}", "\u{1b}[0m"] {
        app.get(&format!("/v1/orders?customer_id={}", encode(control)))
            .await
            .assert_invalid("customer_id");
        app.get(&format!("/v1/customers/{}", encode(control)))
            .await
            .assert_problem(404, "customer_not_found");
    }
    let all = app.get("/v1/orders?limit=500").await;
    assert_eq!(
        all.items().len(),
        CUSTOMERS.len(),
        "the orders are all still there"
    );
}

#[tokio::test]
async fn metacharacters_in_skus_codes_and_ids_are_refused_or_not_found() {
    let app = TestApp::spawn().await;
    app.seed_product(&product("A_B")).await;
    app.seed_product(&product("AXB")).await;
    app.seed_replenishment(&replenishment("AXB", 1, 5, 5)).await;
    for hostile in [
        "A%",
        "%",
        "A'--",
        "A\\",
        "'; DROP TABLE read.products;--",
        "\u{0}",
    ] {
        let encoded = encode(hostile);
        app.get(&format!("/v1/replenishments?sku={encoded}"))
            .await
            .assert_invalid("sku");
        app.get(&format!("/v1/analytics/sales?currency={encoded}"))
            .await
            .assert_invalid("currency");
        app.get(&format!("/v1/products?status={encoded}"))
            .await
            .assert_invalid("status");
        app.get(&format!("/v1/analytics/sales?from={encoded}"))
            .await
            .assert_invalid("from");
        let segment = encoded.replace('+', "%20");
        app.get(&format!("/v1/products/{segment}"))
            .await
            .assert_problem(404, "product_not_found");
        app.get(&format!("/v1/orders/{segment}"))
            .await
            .assert_problem(404, "order_not_found");
    }
    // `_` is a wildcard in LIKE; here A_B is A_B, not AXB, and _ is nothing.
    for sku in ["A_B", "_", "A__"] {
        let replenishments = app.get(&format!("/v1/replenishments?sku={sku}")).await;
        assert!(
            replenishments.items().is_empty(),
            "{sku}: {}",
            replenishments.text
        );
    }
    let axb = app.get("/v1/replenishments?sku=AXB").await;
    assert_eq!(axb.items().len(), 1, "{}", axb.text);
    app.get("/v1/products/A_X")
        .await
        .assert_problem(404, "product_not_found");
    assert_eq!(app.get("/v1/products/A_B").await.assert_ok()["sku"], "A_B");
}

#[tokio::test]
async fn oversized_and_odd_requests_are_client_errors() {
    let app = TestApp::spawn().await;
    app.seed_product(&product("A")).await;
    // A long query: the parameter it breaks is named.
    let long = "c".repeat(16 * 1024);
    app.get(&format!("/v1/orders?customer_id={long}"))
        .await
        .assert_invalid("customer_id");
    // Thousands of parameters (within the 32 KiB a request line and headers may take): the
    // first unknown or repeated one is named.
    let many: Vec<String> = (0..3000).map(|i| format!("p{i}=1")).collect();
    app.get(&format!("/v1/products?{}", many.join("&")))
        .await
        .assert_invalid("p0");
    let repeated = vec!["limit=1"; 3000].join("&");
    app.get(&format!("/v1/products?{repeated}"))
        .await
        .assert_invalid("limit");
    // Past that limit, the request is refused before it is read: 431.
    let huge = vec!["limit=1"; 6000].join("&");
    assert_eq!(app.get(&format!("/v1/products?{huge}")).await.status, 431);
    // Bracketed, "nested" names are just unknown names.
    let nested = format!("{}=1", "a[b]".repeat(500));
    let response = app.get(&format!("/v1/products?{}", encode(&nested))).await;
    assert_eq!(response.status, 400, "{}", response.text);
    // A request head bigger than the server takes is refused by HTTP, not a 5xx.
    let huge = "x".repeat(1024 * 1024);
    let response = app
        .client
        .get(app.url(&format!("/v1/products?bogus={huge}")))
        .send()
        .await;
    if let Ok(response) = response {
        assert!(
            response.status().is_client_error(),
            "a 1 MiB query got {}",
            response.status()
        );
    }
    // A body on a GET is not read, whatever it holds.
    let response = app
        .send(
            app.client
                .get(app.url("/v1/products/A"))
                .header("content-type", "application/json")
                .body(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
        )
        .await;
    assert_eq!(response.assert_ok()["sku"], "A");
    // Still serving.
    app.get("/v1/products").await.assert_ok();
}
