//! Every bad parameter, on every endpoint, is a 400 invalid_parameter problem naming it:
//! never a 5xx, never silently ignored.

use crate::helpers::{TestApp, product};

#[tokio::test]
async fn every_bad_parameter_is_400_invalid_parameter_naming_it() {
    let app = TestApp::spawn().await;
    let order_id = uuid::Uuid::now_v7();
    let long_customer = "c".repeat(65);
    let cases: Vec<(String, &str)> = [
        // limit, on every listing
        ("/v1/products?limit=0", "limit"),
        ("/v1/products?limit=501", "limit"),
        ("/v1/products?limit=abc", "limit"),
        ("/v1/products?limit=-5", "limit"),
        ("/v1/products?limit=2.5", "limit"),
        ("/v1/products?limit=", "limit"),
        ("/v1/products?limit=99999999999999999999999", "limit"),
        ("/v1/orders?limit=0", "limit"),
        ("/v1/orders?limit=501", "limit"),
        ("/v1/replenishments?limit=0", "limit"),
        ("/v1/replenishments?limit=x", "limit"),
        // cursors that were never handed out
        ("/v1/products?cursor=garbage", "cursor"),
        ("/v1/products?cursor=%00%FF", "cursor"),
        ("/v1/orders?cursor=eyJmb28iOjF9", "cursor"),
        ("/v1/replenishments?cursor=AAAA", "cursor"),
        // products
        ("/v1/products?status=gone", "status"),
        ("/v1/products?status=ACTIVE", "status"),
        ("/v1/products?max_available=lots", "max_available"),
        ("/v1/products?max_available=-1", "max_available"),
        ("/v1/products?sku=A", "sku"),
        ("/v1/products?limit=5&limit=6", "limit"),
        ("/v1/products/A?verbose=1", "verbose"),
        // orders
        ("/v1/orders?status=open", "status"),
        ("/v1/orders?status=", "status"),
        (
            &format!("/v1/orders?customer_id={long_customer}"),
            "customer_id",
        ),
        ("/v1/orders?customer_id=%07bell", "customer_id"),
        ("/v1/orders?placed_from=yesterday", "placed_from"),
        ("/v1/orders?placed_from=2026-02-30", "placed_from"),
        ("/v1/orders?placed_to=2026-13-01", "placed_to"),
        ("/v1/orders?placed_to=2026-11-21T25:00:00Z", "placed_to"),
        (
            "/v1/orders?placed_from=2026-11-05&placed_to=2026-11-04",
            "placed_from",
        ),
        (
            "/v1/orders?placed_from=2026-11-05T10:00:00Z&placed_to=2026-11-05T09:59:59Z",
            "placed_from",
        ),
        ("/v1/orders?sort=asc", "sort"),
        (&format!("/v1/orders/{order_id}?expand=lines"), "expand"),
        // customers
        ("/v1/customers/someone?x=1", "x"),
        // analytics
        ("/v1/analytics/sales?from=2026-1-1", "from"),
        ("/v1/analytics/sales?from=2026-11-01T00:00:00Z", "from"),
        ("/v1/analytics/sales?to=nope", "to"),
        ("/v1/analytics/sales?from=2026-11-05&to=2026-11-04", "from"),
        ("/v1/analytics/sales?group_by=week", "group_by"),
        ("/v1/analytics/sales?group_by=", "group_by"),
        ("/v1/analytics/sales?currency=eur", "currency"),
        ("/v1/analytics/sales?currency=EURO", "currency"),
        ("/v1/analytics/sales?sku=A", "sku"),
        // replenishments
        ("/v1/replenishments?status=closed", "status"),
        ("/v1/replenishments?sku=bad%20sku", "sku"),
        ("/v1/replenishments?sku=a", "sku"),
        // projections
        ("/v1/projections?verbose=true", "verbose"),
        // min_position, on any endpoint
        ("/v1/products?min_position=-1", "min_position"),
        ("/v1/products?min_position=abc", "min_position"),
        ("/v1/orders?min_position=", "min_position"),
        (
            "/v1/projections?min_position=1&min_position=2",
            "min_position",
        ),
        ("/v1/analytics/sales?min_position=1e3", "min_position"),
    ]
    .into_iter()
    .map(|(path, parameter)| (path.to_owned(), parameter))
    .collect();
    for (path, parameter) in &cases {
        let response = app.get(path).await;
        assert_eq!(response.status, 400, "{path}: {}", response.text);
        response.assert_invalid(parameter);
        assert!(
            response.header("x-projection-position").is_some(),
            "{path} has no X-Projection-Position"
        );
    }

    for bad in ["-1", "abc", "1 2", ""] {
        let response = app.get_with("/v1/orders", &[("X-Min-Position", bad)]).await;
        response.assert_invalid("X-Min-Position");
    }
}

#[tokio::test]
async fn an_edited_truncated_or_foreign_cursor_is_400_invalid_parameter() {
    let app = TestApp::spawn().await;
    for sku in ["A", "B", "C", "D"] {
        app.seed_product(&product(sku)).await;
    }
    let first = app.get("/v1/products?limit=2").await;
    let cursor = first.next_cursor().expect("a second page");
    app.get(&format!("/v1/products?limit=2&cursor={cursor}"))
        .await
        .assert_ok();

    let mut edited = Vec::new();
    for at in [0, cursor.len() / 2, cursor.len() - 1] {
        let mut bytes = cursor.clone().into_bytes();
        bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
        edited.push(String::from_utf8(bytes).expect("ascii"));
    }
    edited.push(cursor[..cursor.len() - 2].to_owned());
    edited.push(format!("{cursor}AA"));
    for bad in &edited {
        app.get(&format!("/v1/products?limit=2&cursor={bad}"))
            .await
            .assert_invalid("cursor");
    }
    // A products cursor means nothing to the orders or replenishments listings.
    app.get(&format!("/v1/orders?cursor={cursor}"))
        .await
        .assert_invalid("cursor");
    app.get(&format!("/v1/replenishments?cursor={cursor}"))
        .await
        .assert_invalid("cursor");
}
