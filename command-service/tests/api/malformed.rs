//! Malformed and out-of-range input on every POST endpoint (docs/api.md): each gets its 4xx
//! problem with the right code and the broken fields named, never a 5xx, and writes nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

/// A service with one product ("M-1", 100 in stock) and one ready order, so that every
/// endpoint has a target and only the body decides the outcome.
struct Fixture {
    app: TestApp,
    order: String,
    events: usize,
}

impl Fixture {
    async fn new() -> Fixture {
        let app = TestApp::spawn().await;
        app.register("M-1", 100, "reject").await;
        let order = app.place("c1", &[("M-1", 1)]).await;
        let order = order.created_order_id();
        let events = app.events().await.len();
        Fixture { app, order, events }
    }

    /// Every POST endpoint with a body it would accept.
    fn endpoints(&self) -> Vec<(String, Value)> {
        let order = &self.order;
        vec![
            (
                "/v1/products".into(),
                json!({"sku": "M-NEW", "name": "New", "unit_price_cents": 100, "currency": "EUR",
                       "initial_stock": 1, "backorder_policy": "backorder"}),
            ),
            (
                "/v1/products/M-1/receipts".into(),
                json!({"quantity": 1, "reference": "r"}),
            ),
            (
                "/v1/products/M-1/adjustments".into(),
                json!({"delta": 1, "reason": "r"}),
            ),
            (
                "/v1/products/M-1/price".into(),
                json!({"unit_price_cents": 5}),
            ),
            ("/v1/products/M-1/discontinue".into(), json!({})),
            (
                "/v1/orders".into(),
                json!({"customer_id": "c", "lines": [{"sku": "M-1", "quantity": 1}]}),
            ),
            (format!("/v1/orders/{order}/cancel"), json!({"reason": "r"})),
            (
                format!("/v1/orders/{order}/ship"),
                json!({"carrier": "DHL", "tracking_number": "T"}),
            ),
        ]
    }

    fn path(&self, endpoint: &str) -> String {
        match endpoint {
            "register" => "/v1/products".into(),
            "place" => "/v1/orders".into(),
            "cancel" | "ship" => format!("/v1/orders/{}/{endpoint}", self.order),
            product => format!("/v1/products/M-1/{product}"),
        }
    }

    async fn assert_nothing_written(&self) {
        assert_eq!(
            self.app.events().await.len(),
            self.events,
            "a refused request wrote events"
        );
    }
}

/// `assert_problem`, saying which request failed.
#[track_caller]
fn expect_problem<'a>(
    response: &'a TestResponse,
    status: u16,
    code: &str,
    what: &str,
) -> &'a Value {
    assert!(
        response.status < 500,
        "{what}: a 5xx for client input: {}",
        response.text
    );
    assert_eq!(
        (
            response.status,
            response.content_type(),
            response.body["code"].as_str()
        ),
        (status, "application/problem+json", Some(code)),
        "{what}: {}",
        response.text
    );
    response.assert_problem(status, code)
}

/// Asserts that a `validation_failed` problem names exactly these fields, one entry each, in
/// any order.
#[track_caller]
fn assert_fields(problem: &Value, expected: &[&str], what: &str) {
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: validation_failed without errors: {problem}"))
        .iter()
        .map(|e| {
            assert!(
                e["message"].is_string(),
                "{what}: an error without message: {e}"
            );
            e["field"].as_str().expect("a field name")
        })
        .collect();
    let mut expected = expected.to_vec();
    fields.sort_unstable();
    expected.sort_unstable();
    assert_eq!(fields, expected, "{what}: {problem}");
}

/// Sets `body[field] = value`, where `field` may be `lines[0].quantity`.
fn with(mut body: Value, field: &str, value: Value) -> Value {
    let target = match field.split_once('.') {
        Some(("lines[0]", inner)) => &mut body["lines"][0][inner],
        Some(("lines[1]", inner)) => &mut body["lines"][1][inner],
        _ => &mut body[field],
    };
    *target = value;
    body
}

fn place_body(lines: Value) -> Value {
    json!({"customer_id": "c", "lines": lines})
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400_malformed_body_everywhere() {
    let f = Fixture::new().await;
    let not_json: [&[u8]; 8] = [
        b"{",
        b"not json",
        b"{\"quantity\": 1,}",
        b"{'quantity': 1}",
        b"{\"quantity\": 1} trailing",
        b"{\"name\": \"\xff\xfe\"}",
        b"\xef\xbb\xbf{}",
        b"{\"quantity\": NaN}",
    ];
    for (path, _) in f.endpoints() {
        for body in not_json {
            for content_type in ["application/json", "application/json; charset=utf-8"] {
                let response = f
                    .app
                    .post_raw(&path, body.to_vec(), Some(content_type))
                    .await;
                expect_problem(
                    &response,
                    400,
                    "malformed_body",
                    &format!("{path} {}", String::from_utf8_lossy(body)),
                );
            }
        }
    }
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn an_unknown_or_repeated_field_is_400_malformed_body_everywhere() {
    let f = Fixture::new().await;
    for (path, valid) in f.endpoints() {
        for unknown in ["bogus", "Quantity", "SKU", "version"] {
            let body = with(valid.clone(), unknown, json!(1));
            let response = f.app.post(&path, body).await;
            expect_problem(
                &response,
                400,
                "malformed_body",
                &format!("{path} {unknown}"),
            );
        }
        // A member given twice is not an object of the expected shape either.
        if let Some((first, value)) = valid.as_object().and_then(|o| o.iter().next()) {
            let mut raw = valid.to_string();
            raw.insert_str(1, &format!("{}:{},", json!(first), value));
            let response = f
                .app
                .post_raw(&path, raw.into_bytes(), Some("application/json"))
                .await;
            expect_problem(&response, 400, "malformed_body", &format!("{path} twice"));
        }
    }
    let extra_in_line = place_body(json!([{"sku": "M-1", "quantity": 1, "unit_price_cents": 1}]));
    let response = f.app.post("/v1/orders", extra_in_line).await;
    expect_problem(&response, 400, "malformed_body", "a line with a price");
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn a_member_of_the_wrong_type_is_400_malformed_body() {
    let f = Fixture::new().await;
    let lines = json!([{"sku": "M-1", "quantity": 1}]);
    let cases: Vec<(&str, &str, Value)> = vec![
        ("register", "sku", json!(5)),
        ("register", "sku", json!(["M-2"])),
        ("register", "name", json!(5)),
        ("register", "name", json!({"en": "x"})),
        ("register", "unit_price_cents", json!("100")),
        ("register", "unit_price_cents", json!(true)),
        ("register", "currency", json!(978)),
        ("register", "initial_stock", json!("0")),
        ("register", "backorder_policy", json!(true)),
        ("receipts", "quantity", json!("1")),
        ("receipts", "quantity", json!([1])),
        ("receipts", "reference", json!(5)),
        ("adjustments", "delta", json!("-1")),
        ("adjustments", "reason", json!(5)),
        ("price", "unit_price_cents", json!("5")),
        ("place", "order_id", json!(5)),
        ("place", "customer_id", json!(5)),
        ("place", "lines", json!({"sku": "M-1", "quantity": 1})),
        ("place", "lines", json!("M-1")),
        ("place", "lines", json!(["M-1"])),
        ("place", "lines", json!([null])),
        ("place", "lines[0].sku", json!(1)),
        ("place", "lines[0].quantity", json!("1")),
        ("cancel", "reason", json!(5)),
        ("ship", "carrier", json!(5)),
        ("ship", "tracking_number", json!(["T"])),
    ];
    let valid: std::collections::HashMap<String, Value> = f.endpoints().into_iter().collect();
    for (endpoint, field, value) in cases {
        let path = f.path(endpoint);
        let base = if endpoint == "place" {
            place_body(lines.clone())
        } else {
            valid[&path].clone()
        };
        let response = f.app.post(&path, with(base, field, value.clone())).await;
        expect_problem(
            &response,
            400,
            "malformed_body",
            &format!("{endpoint} {field} = {value}"),
        );
    }
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn integers_beyond_i64_and_fractions_are_400_malformed_body() {
    let f = Fixture::new().await;
    let numbers = [
        "1.5",
        "2.25e1",
        "-0.5",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "123456789012345678901234567890",
        "1e400",
    ];
    let templates = [
        ("/v1/products/M-1/receipts", r#"{"quantity": N}"#),
        (
            "/v1/products/M-1/adjustments",
            r#"{"delta": N, "reason": "r"}"#,
        ),
        ("/v1/products/M-1/price", r#"{"unit_price_cents": N}"#),
        (
            "/v1/products",
            r#"{"sku": "M-2", "name": "n", "unit_price_cents": N, "currency": "EUR"}"#,
        ),
        (
            "/v1/products",
            r#"{"sku": "M-2", "name": "n", "unit_price_cents": 1, "currency": "EUR", "initial_stock": N}"#,
        ),
        (
            "/v1/orders",
            r#"{"customer_id": "c", "lines": [{"sku": "M-1", "quantity": N}]}"#,
        ),
    ];
    for (path, template) in templates {
        for number in numbers {
            let body = template.replace('N', number);
            let response = f
                .app
                .post_raw(path, body.clone().into_bytes(), Some("application/json"))
                .await;
            expect_problem(&response, 400, "malformed_body", &body);
        }
    }
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn json_that_is_not_an_object_is_400_malformed_body_everywhere() {
    let f = Fixture::new().await;
    for (path, _) in f.endpoints() {
        for body in ["[]", "\"text\"", "null", "42", "true", "[{}]"] {
            let response = f
                .app
                .post_raw(&path, body.as_bytes().to_vec(), Some("application/json"))
                .await;
            expect_problem(&response, 400, "malformed_body", &format!("{path} {body}"));
        }
    }
    f.assert_nothing_written().await;
}

/// serde reads a struct from a JSON array of its fields in declaration order; the API takes
/// objects only, so such arrays must be refused like any other non-object.
#[tokio::test]
async fn a_json_array_of_the_fields_in_order_is_not_a_body() {
    let f = Fixture::new().await;
    let order = &f.order;
    // Discontinue last: it would change what the others see.
    let positional = [
        (
            "/v1/products".to_owned(),
            json!(["M-ARR", "n", 100, "EUR", 0, "reject"]),
        ),
        ("/v1/products/M-1/receipts".to_owned(), json!([1, null])),
        ("/v1/products/M-1/adjustments".to_owned(), json!([1, "r"])),
        ("/v1/products/M-1/price".to_owned(), json!([5])),
        (
            "/v1/orders".to_owned(),
            json!([null, "c", [{"sku": "M-1", "quantity": 1}]]),
        ),
        ("/v1/orders".to_owned(), place_body(json!([["M-1", 1]]))),
        (format!("/v1/orders/{order}/ship"), json!(["DHL", "T"])),
        (format!("/v1/orders/{order}/cancel"), json!(["r"])),
        ("/v1/products/M-1/discontinue".to_owned(), json!([])),
    ];
    let mut wrong = Vec::new();
    for (path, body) in positional {
        let response = f.app.post(&path, body.clone()).await;
        if response.status != 400 || response.body["code"] != "malformed_body" {
            wrong.push(format!(
                "POST {path} {body} -> {} {}",
                response.status, response.text
            ));
        }
    }
    assert!(wrong.is_empty(), "arrays taken as bodies: {wrong:#?}");
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn missing_required_fields_are_400_validation_failed_naming_each_field() {
    let f = Fixture::new().await;
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "register",
            json!({}),
            vec!["sku", "name", "unit_price_cents", "currency"],
        ),
        (
            "register",
            json!({"sku": "M-2", "currency": "EUR"}),
            vec!["name", "unit_price_cents"],
        ),
        ("receipts", json!({}), vec!["quantity"]),
        ("receipts", json!({"reference": "r"}), vec!["quantity"]),
        ("adjustments", json!({}), vec!["delta", "reason"]),
        ("adjustments", json!({"delta": 1}), vec!["reason"]),
        ("price", json!({}), vec!["unit_price_cents"]),
        ("place", json!({}), vec!["customer_id", "lines"]),
        (
            "place",
            json!({"lines": [{"sku": "M-1", "quantity": 1}]}),
            vec!["customer_id"],
        ),
        (
            "place",
            place_body(json!([{}])),
            vec!["lines[0].sku", "lines[0].quantity"],
        ),
        (
            "place",
            place_body(json!([{"sku": "M-1", "quantity": 1}, {"quantity": 1}])),
            vec!["lines[1].sku"],
        ),
        ("ship", json!({}), vec!["carrier", "tracking_number"]),
        ("ship", json!({"carrier": "DHL"}), vec!["tracking_number"]),
    ];
    for (endpoint, body, fields) in cases {
        let response = f.app.post(&f.path(endpoint), body.clone()).await;
        let what = format!("{endpoint} {body}");
        let problem = expect_problem(&response, 400, "validation_failed", &what);
        assert_fields(problem, &fields, &what);
    }
    // An empty body is an empty object: the same fields are missing.
    for (endpoint, fields) in [
        ("receipts", vec!["quantity"]),
        ("ship", vec!["carrier", "tracking_number"]),
    ] {
        let response = f
            .app
            .post_raw(&f.path(endpoint), Vec::new(), Some("application/json"))
            .await;
        let problem = expect_problem(&response, 400, "validation_failed", endpoint);
        assert_fields(problem, &fields, endpoint);
    }
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn out_of_range_values_are_400_validation_failed_naming_the_field() {
    let f = Fixture::new().await;
    let valid: std::collections::HashMap<String, Value> = f.endpoints().into_iter().collect();
    let two_lines =
        place_body(json!([{"sku": "M-1", "quantity": 1}, {"sku": "M-2", "quantity": 1}]));
    let cases: Vec<(&str, &str, Value)> = vec![
        ("register", "sku", json!("")),
        ("register", "sku", json!("A".repeat(33))),
        ("register", "sku", json!("lower")),
        ("register", "sku", json!("HAS SPACE")),
        ("register", "sku", json!("ÄBC")),
        ("register", "sku", json!("A.B")),
        ("register", "name", json!("")),
        ("register", "name", json!("n".repeat(201))),
        ("register", "name", json!("é".repeat(201))),
        ("register", "unit_price_cents", json!(0)),
        ("register", "unit_price_cents", json!(-1)),
        ("register", "unit_price_cents", json!(100_000_001)),
        ("register", "currency", json!("eur")),
        ("register", "currency", json!("EURO")),
        ("register", "currency", json!("EU")),
        ("register", "currency", json!("E1R")),
        ("register", "currency", json!("")),
        ("register", "initial_stock", json!(-1)),
        ("register", "initial_stock", json!(1_000_000_001)),
        ("register", "backorder_policy", json!("maybe")),
        ("register", "backorder_policy", json!("REJECT")),
        ("register", "backorder_policy", json!("")),
        ("receipts", "quantity", json!(0)),
        ("receipts", "quantity", json!(-1)),
        ("receipts", "quantity", json!(1_000_000_001)),
        ("receipts", "quantity", json!(i64::MAX)),
        ("adjustments", "delta", json!(0)),
        ("adjustments", "reason", json!("")),
        ("adjustments", "reason", json!("r".repeat(201))),
        ("price", "unit_price_cents", json!(0)),
        ("price", "unit_price_cents", json!(-5)),
        ("price", "unit_price_cents", json!(100_000_001)),
        ("place", "lines", json!([])),
        ("place", "lines[0].quantity", json!(0)),
        ("place", "lines[0].quantity", json!(-1)),
        ("place", "lines[0].quantity", json!(10_001)),
        ("place", "lines[0].sku", json!("m-1")),
        ("place", "lines[0].sku", json!("")),
        ("place", "lines[1].sku", json!("M-1")),
        ("place", "customer_id", json!("")),
        ("place", "customer_id", json!("c".repeat(65))),
        ("place", "order_id", json!("not-a-uuid")),
        ("place", "order_id", json!("")),
        ("ship", "carrier", json!("")),
        ("ship", "carrier", json!("c".repeat(65))),
        ("ship", "tracking_number", json!("")),
        ("ship", "tracking_number", json!("t".repeat(65))),
    ];
    for (endpoint, field, value) in cases {
        let path = f.path(endpoint);
        let base = if endpoint == "place" {
            two_lines.clone()
        } else {
            valid[&path].clone()
        };
        let body = with(base, field, value.clone());
        let response = f.app.post(&path, body.clone()).await;
        let what = format!("{endpoint} {field} = {value}");
        let problem = expect_problem(&response, 400, "validation_failed", &what);
        assert_fields(problem, &[field], &what);
    }

    let lines = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"sku": format!("L-{i}"), "quantity": 1}))
            .collect()
    };
    let response = f.app.post("/v1/orders", place_body(lines(101))).await;
    let problem = expect_problem(&response, 400, "validation_failed", "101 lines");
    assert_fields(problem, &["lines"], "101 lines");
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn every_broken_field_is_reported_at_once() {
    let f = Fixture::new().await;
    let response = f
        .app
        .post(
            "/v1/products",
            json!({"sku": "bad sku", "name": "", "unit_price_cents": 0, "currency": "eur",
                   "initial_stock": -1, "backorder_policy": "maybe"}),
        )
        .await;
    let problem = expect_problem(&response, 400, "validation_failed", "register");
    assert_fields(
        problem,
        &[
            "sku",
            "name",
            "unit_price_cents",
            "currency",
            "initial_stock",
            "backorder_policy",
        ],
        "all at once",
    );

    let response = f
        .app
        .post(
            "/v1/orders",
            json!({"order_id": "nope", "customer_id": "",
                   "lines": [{"sku": "M-1", "quantity": 0}, {"sku": "x", "quantity": 1},
                             {"sku": "M-1", "quantity": 1}, {"sku": "M-1", "quantity": 1}]}),
        )
        .await;
    let problem = expect_problem(&response, 400, "validation_failed", "place");
    assert_fields(
        problem,
        &[
            "order_id",
            "customer_id",
            "lines[0].quantity",
            "lines[1].sku",
            "lines[2].sku",
            "lines[3].sku",
        ],
        "place",
    );

    let response = f
        .app
        .post(
            "/v1/products/M-1/adjustments",
            json!({"delta": 0, "reason": ""}),
        )
        .await;
    let problem = expect_problem(&response, 400, "validation_failed", "adjust");
    assert_fields(problem, &["delta", "reason"], "adjust");

    let response = f
        .app
        .post(
            &f.path("ship"),
            json!({"carrier": "", "tracking_number": "t".repeat(65)}),
        )
        .await;
    let problem = expect_problem(&response, 400, "validation_failed", "ship");
    assert_fields(problem, &["carrier", "tracking_number"], "ship");
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn the_limits_themselves_are_accepted() {
    let f = Fixture::new().await;
    let app = &f.app;
    let longest_sku = "Z".repeat(32);
    let response = app
        .post(
            "/v1/products",
            json!({"sku": longest_sku, "name": "🦀".repeat(200), "unit_price_cents": 100_000_000,
                   "currency": "JPY", "initial_stock": 1_000_000_000, "backorder_policy": "reject"}),
        )
        .await;
    response.assert_status(201);
    let response = app
        .post(
            "/v1/products",
            json!({"sku": "0-_9", "name": "ä", "unit_price_cents": 1, "currency": "EUR",
                   "initial_stock": 0, "backorder_policy": "backorder"}),
        )
        .await;
    response.assert_status(201);
    let (products, _) = app.replay().await;
    assert_eq!(products[&longest_sku].name.chars().count(), 200);

    app.post(
        "/v1/products/M-1/receipts",
        json!({"quantity": 1_000_000_000, "reference": "r".repeat(200)}),
    )
    .await
    .assert_status(200);
    app.post(
        "/v1/products/M-1/adjustments",
        json!({"delta": -1, "reason": "é".repeat(200)}),
    )
    .await
    .assert_status(200);
    app.post("/v1/products/M-1/price", json!({"unit_price_cents": 1}))
        .await
        .assert_status(200);
    let response = app
        .post(
            "/v1/orders",
            json!({"customer_id": "c".repeat(64), "lines": [{"sku": "M-1", "quantity": 10_000}]}),
        )
        .await;
    let order = response.created_order_id();
    app.post(
        &format!("/v1/orders/{order}/ship"),
        json!({"carrier": "c".repeat(64), "tracking_number": "ü".repeat(64)}),
    )
    .await
    .assert_status(200);

    // 100 lines pass validation; these skus are unknown, which is a business refusal.
    let lines: Vec<Value> = (0..100)
        .map(|i| json!({"sku": format!("L-{i}"), "quantity": 1}))
        .collect();
    let response = app.post("/v1/orders", place_body(json!(lines))).await;
    let problem = expect_problem(&response, 422, "unknown_product", "100 lines");
    assert_eq!(problem["skus"].as_array().map(Vec::len), Some(100));
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_payload_too_large_everywhere() {
    let f = Fixture::new().await;
    for (path, valid) in f.endpoints() {
        let mut body = valid.to_string().into_bytes();
        body.resize(64 * 1024 + 1, b' ');
        let response = f.app.post_raw(&path, body, Some("application/json")).await;
        expect_problem(&response, 413, "payload_too_large", &path);

        let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(1024 * 1024));
        let response = f
            .app
            .post_raw(&path, huge.into_bytes(), Some("application/json"))
            .await;
        expect_problem(
            &response,
            413,
            "payload_too_large",
            &format!("{path} 1 MiB"),
        );
    }
    f.assert_nothing_written().await;

    // 64 KiB exactly is allowed.
    let mut body = json!({"quantity": 1}).to_string().into_bytes();
    body.resize(64 * 1024, b' ');
    let response = f
        .app
        .post_raw("/v1/products/M-1/receipts", body, Some("application/json"))
        .await;
    response.assert_status(200);
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415_unsupported_media_type_everywhere() {
    let f = Fixture::new().await;
    for (path, valid) in f.endpoints() {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("text/json"),
            Some("application/jsonx"),
            Some("application/xml"),
            None,
        ] {
            let response = f
                .app
                .post_raw(&path, valid.to_string().into_bytes(), content_type)
                .await;
            expect_problem(
                &response,
                415,
                "unsupported_media_type",
                &format!("{path} {content_type:?}"),
            );
        }
    }
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/v1",
        "/v2/products",
        "/v1/product",
        "/v1/products/",
        "/v1/products/A/unknown",
        "/v1/products/A/receipts/extra",
        "/v1/orders/x/refund",
        "/v1/orders/x/ship/now",
    ] {
        let post = app.post(path, json!({})).await;
        expect_problem(&post, 404, "not_found", &format!("POST {path}"));
        let get = app.get(path).await;
        expect_problem(&get, 404, "not_found", &format!("GET {path}"));
    }
}

#[tokio::test]
async fn another_method_on_a_command_route_is_a_405_problem() {
    let f = Fixture::new().await;
    let app = &f.app;
    for (path, _) in f.endpoints() {
        let url = app.url(&path);
        for request in [
            app.client.get(&url),
            app.client.put(&url).json(&json!({})),
            app.client.delete(&url),
            app.client.patch(&url).json(&json!({})),
        ] {
            let response = app.send(request).await;
            expect_problem(&response, 405, "method_not_allowed", &path);
        }
    }
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_harm() {
    let f = Fixture::new().await;
    let depth = 10_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let bodies = [
        format!(r#"{{"deep": {nested}}}"#),
        format!(r#"{{"quantity": {nested}}}"#),
        format!(r#"{{"customer_id": "c", "lines": {nested}}}"#),
        format!(
            r#"{{"customer_id": "c", "lines": [{{"sku": "M-1", "quantity": 1, "deep": {nested}}}]}}"#
        ),
        nested.clone(),
        format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth)),
    ];
    for (path, _) in f.endpoints() {
        for body in &bodies {
            let response = f
                .app
                .post_raw(&path, body.clone().into_bytes(), Some("application/json"))
                .await;
            assert!(
                (400..500).contains(&response.status),
                "{path}: deep nesting got {}: {}",
                response.status,
                response.text
            );
            expect_problem(&response, 400, "malformed_body", &path);
        }
    }
    // The service is still there.
    f.app.receive("M-1", 1).await.assert_status(200);
}

#[tokio::test]
async fn unicode_names_are_counted_in_characters() {
    let app = TestApp::spawn().await;
    for (sku, name) in [
        ("U-1", "é".repeat(200)),
        ("U-2", "🦀".repeat(200)),
        ("U-3", "日本".repeat(100)),
        ("U-4", "e\u{301}".repeat(100)),
    ] {
        let response = app
            .post(
                "/v1/products",
                json!({"sku": sku, "name": name, "unit_price_cents": 1, "currency": "EUR"}),
            )
            .await;
        response.assert_status(201);
    }
    let response = app
        .post(
            "/v1/products",
            json!({"sku": "U-5", "name": "🦀".repeat(201), "unit_price_cents": 1, "currency": "EUR"}),
        )
        .await;
    let problem = expect_problem(&response, 400, "validation_failed", "201 crabs");
    assert_fields(problem, &["name"], "201 crabs");
    let (products, _) = app.replay().await;
    assert_eq!(products["U-2"].name, "🦀".repeat(200));
}

/// A chunked body announces no length, so the limit must hold while it is read.
#[tokio::test]
async fn a_chunked_body_over_64_kib_is_413_payload_too_large() {
    let f = Fixture::new().await;
    let token = f.app.token();
    let head = format!(
        "POST /v1/products/M-1/receipts HTTP/1.1\r\nHost: test\r\n\
         Authorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    );
    let mut request = head.as_bytes().to_vec();
    let mut body = b"{\"quantity\": 1}".to_vec();
    body.resize(80 * 1024, b' ');
    for chunk in body.chunks(4096) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = f.app.exchange_raw(&request).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "a chunked 80 KiB body got: {answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("application/problem+json")
            && answer.contains("\"payload_too_large\""),
        "{answer}"
    );
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn junk_in_the_headers_never_gets_a_5xx() {
    use reqwest::header::HeaderValue;

    let f = Fixture::new().await;
    let app = &f.app;
    let url = app.url("/v1/products/M-1/receipts");
    let body = json!({"quantity": 1}).to_string();
    let raw = |bytes: &'static [u8]| HeaderValue::from_bytes(bytes).expect("a header value");

    // Tracing headers that cannot be read are ignored, not refused.
    let long = "x".repeat(8 * 1024);
    let response = app
        .send(
            app.client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-request-id", "not-a-uuid")
                .header("x-correlation-id", long.as_str())
                .header("traceparent", "garbage")
                .body(body.clone()),
        )
        .await;
    response.assert_status(200);

    let response = app
        .send(
            app.client
                .post(&url)
                .header("content-type", "application/json")
                .header("if-match", raw(b"\"\xff\""))
                .body(body.clone()),
        )
        .await;
    let problem = expect_problem(&response, 400, "validation_failed", "if-match bytes");
    assert_fields(problem, &["If-Match"], "if-match bytes");

    let response = app
        .send(
            app.client
                .post(&url)
                .header("content-type", raw(b"application/json\xff"))
                .body(body.clone()),
        )
        .await;
    expect_problem(
        &response,
        415,
        "unsupported_media_type",
        "content-type bytes",
    );

    let response = app
        .send(
            app.client
                .post(&url)
                .header("content-type", "application/json")
                .header("idempotency-key", raw(b"k\xff"))
                .body(body),
        )
        .await;
    let problem = expect_problem(&response, 400, "validation_failed", "key bytes");
    assert_fields(problem, &["Idempotency-Key"], "key bytes");
}

/// JSON has one kind of number; to JSON Schema, which the OpenAPI document speaks, `2.0` and
/// `2e0` are the integer 2. The service takes them as such.
#[tokio::test]
async fn whole_numbers_written_with_a_fraction_or_an_exponent_are_those_integers() {
    let f = Fixture::new().await;
    let receipt = f
        .app
        .post_raw(
            "/v1/products/M-1/receipts",
            br#"{"quantity": 2.0, "reference": "delivery 7.0"}"#.to_vec(),
            Some("application/json"),
        )
        .await;
    let body = receipt.assert_status(200);
    assert_eq!(body["on_hand"], 102, "{body}");
    let adjustment = f
        .app
        .post_raw(
            "/v1/products/M-1/adjustments",
            br#"{"delta": -1e1, "reason": "count"}"#.to_vec(),
            Some("application/json"),
        )
        .await;
    assert_eq!(adjustment.assert_status(200)["on_hand"], 92);
    let events = f.app.events().await;
    let received = events
        .iter()
        .find(|e| e.event_type == "product.stock_received")
        .expect("the receipt's event");
    assert_eq!(received.data["quantity"], 2);
    assert_eq!(
        received.data["reference"], "delivery 7.0",
        "text is not a number"
    );
}
