//! Hostile strings: SQL and LIKE metacharacters, quotes, backslashes, NUL and unicode in
//! every string a command carries, and header injection through Idempotency-Key and the
//! tracing headers. What free text allows is stored exactly as sent; what a rule forbids is
//! a 400 naming the field (or a 404 for an id in the path); nothing breaks.

use serde_json::{Value, json};
use stockflow_events::Event;

use stockflow_testkit::http::percent_encode;

use crate::helpers::TestApp;

/// Strings that are harmless as data and dangerous when pasted into SQL, a LIKE pattern, a
/// shell or a header.
const HOSTILE: &[&str] = &[
    "'; DROP TABLE event_store.events;--",
    "Robert'); DELETE FROM event_store.streams WHERE ('1'='1",
    "%",
    "_",
    "\\",
    "\\'",
    "%_\\%",
    "$1 $$ $tag$",
    "\"double\" `back`",
    "a\u{a0}b", // no-break space
    "🦀 日本語 e\u{301} \u{202e}rtl\u{202c} \u{200d}\u{feff}",
    "\u{10ffff}",
];

/// What PostgreSQL cannot store in text, and no name should hold: refused before it gets there.
const CONTROLS: &[&str] = &[
    "nul\u{0}byte",
    "line\nbreak",
    "cr\rhere",
    "esc\u{1b}[0m",
    "del\u{7f}",
];

/// The stored event of type `event_type`, last of its kind.
async fn last_event(app: &TestApp, event_type: &str) -> Value {
    let events = app.events().await;
    let stored = events
        .iter()
        .rev()
        .find(|e| e.event_type == event_type)
        .unwrap_or_else(|| panic!("no {event_type} event"));
    // It also decodes, as the projector will decode it.
    Event::decode(
        &stored.event_type,
        stored.type_version as u32,
        stored.data.clone(),
    )
    .expect("a stored event decodes");
    stored.data.clone()
}

#[tokio::test]
async fn free_text_with_sql_and_like_metacharacters_is_stored_exactly() {
    let app = TestApp::spawn().await;
    app.register("INJ-1", 1_000, "reject").await;
    for (i, text) in HOSTILE.iter().enumerate() {
        let what = format!("{text:?}");
        let sku = format!("INJ-N{i}");
        app.post(
            "/v1/products",
            json!({"sku": sku, "name": text, "unit_price_cents": 100, "currency": "EUR"}),
        )
        .await
        .assert_status(201);
        assert_eq!(
            last_event(&app, "product.registered").await["name"],
            *text,
            "{what}"
        );

        app.post(
            "/v1/products/INJ-1/receipts",
            json!({"quantity": 1, "reference": text}),
        )
        .await
        .assert_status(200);
        assert_eq!(
            last_event(&app, "product.stock_received").await["reference"],
            *text,
            "{what}"
        );

        app.post(
            "/v1/products/INJ-1/adjustments",
            json!({"delta": 1, "reason": text}),
        )
        .await
        .assert_status(200);
        assert_eq!(
            last_event(&app, "product.stock_adjusted").await["reason"],
            *text,
            "{what}"
        );

        // Two orders per customer id: one to ship, one to cancel.
        let mut orders = Vec::new();
        for _ in 0..2 {
            let placed = app.place(text, &[("INJ-1", 1)]).await;
            orders.push(placed.created_order_id());
            assert_eq!(
                last_event(&app, "order.placed").await["customer_id"],
                *text,
                "{what}"
            );
        }
        app.post(
            &format!("/v1/orders/{}/ship", orders[0]),
            json!({"carrier": text, "tracking_number": text}),
        )
        .await
        .assert_status(200);
        let shipped = last_event(&app, "order.shipped").await;
        assert_eq!(shipped["carrier"], *text, "{what}");
        assert_eq!(shipped["tracking_number"], *text, "{what}");

        app.post(
            &format!("/v1/orders/{}/cancel", orders[1]),
            json!({"reason": text}),
        )
        .await
        .assert_status(200);
        assert_eq!(
            last_event(&app, "order.cancelled").await["reason"],
            *text,
            "{what}"
        );
    }
    // The store is whole: every event is there, in a gap-free sequence.
    let events = app.events().await;
    let positions: Vec<i64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=events.len() as i64).collect::<Vec<_>>());
    let (products, orders) = app.replay().await;
    assert_eq!(products.len(), 1 + HOSTILE.len());
    assert_eq!(orders.len(), 2 * HOSTILE.len());
    crate::helpers::assert_invariants(&products, &orders);
}

#[tokio::test]
async fn control_characters_in_any_free_text_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    app.register("CTL-1", 10, "reject").await;
    let order = app.place("c", &[("CTL-1", 1)]).await.created_order_id();
    let before = app.events().await.len();
    for text in CONTROLS {
        let cases: Vec<(String, Value, &str)> = vec![
            (
                "/v1/products".into(),
                json!({"sku": "CTL-2", "name": text, "unit_price_cents": 1, "currency": "EUR"}),
                "name",
            ),
            (
                "/v1/products/CTL-1/receipts".into(),
                json!({"quantity": 1, "reference": text}),
                "reference",
            ),
            (
                "/v1/products/CTL-1/adjustments".into(),
                json!({"delta": 1, "reason": text}),
                "reason",
            ),
            (
                "/v1/orders".into(),
                json!({"customer_id": text, "lines": [{"sku": "CTL-1", "quantity": 1}]}),
                "customer_id",
            ),
            (
                format!("/v1/orders/{order}/cancel"),
                json!({"reason": text}),
                "reason",
            ),
            (
                format!("/v1/orders/{order}/ship"),
                json!({"carrier": text, "tracking_number": "T"}),
                "carrier",
            ),
            (
                format!("/v1/orders/{order}/ship"),
                json!({"carrier": "DHL", "tracking_number": text}),
                "tracking_number",
            ),
        ];
        for (path, body, field) in cases {
            let response = app.post(&path, body).await;
            let problem = response.assert_problem(400, "validation_failed");
            assert_eq!(problem["errors"][0]["field"], field, "{path} {text:?}");
            assert_eq!(problem["errors"].as_array().map(Vec::len), Some(1));
        }
    }
    assert_eq!(app.events().await.len(), before, "a refused command wrote");
}

#[tokio::test]
async fn metacharacters_in_ids_and_codes_are_refused_by_their_rules() {
    let app = TestApp::spawn().await;
    app.register("ID-1", 10, "reject").await;
    let order = app.place("c", &[("ID-1", 1)]).await.created_order_id();
    let before = app.events().await.len();
    // ("_" is a valid sku, so it is no probe for one.)
    let mut hostile: Vec<&str> = HOSTILE.iter().copied().filter(|t| *t != "_").collect();
    hostile.extend(CONTROLS);
    for text in hostile {
        let what = format!("{text:?}");
        for (body, field) in [
            (
                json!({"sku": text, "name": "n", "unit_price_cents": 1, "currency": "EUR"}),
                "sku",
            ),
            (
                json!({"sku": "ID-2", "name": "n", "unit_price_cents": 1, "currency": text}),
                "currency",
            ),
            (
                json!({"sku": "ID-2", "name": "n", "unit_price_cents": 1, "currency": "EUR",
                       "backorder_policy": text}),
                "backorder_policy",
            ),
        ] {
            let response = app.post("/v1/products", body).await;
            let problem = response.assert_problem(400, "validation_failed");
            assert_eq!(problem["errors"][0]["field"], field, "{what}");
        }
        for (body, field) in [
            (
                json!({"customer_id": "c", "lines": [{"sku": text, "quantity": 1}]}),
                "lines[0].sku",
            ),
            (
                json!({"order_id": text, "customer_id": "c", "lines": [{"sku": "ID-1", "quantity": 1}]}),
                "order_id",
            ),
        ] {
            let response = app.post("/v1/orders", body).await;
            let problem = response.assert_problem(400, "validation_failed");
            assert_eq!(problem["errors"][0]["field"], field, "{what}");
        }
        // In the path, such an id names nothing.
        let segment = percent_encode(text);
        for action in ["receipts", "adjustments", "price", "discontinue"] {
            let body = match action {
                "receipts" => json!({"quantity": 1}),
                "adjustments" => json!({"delta": 1, "reason": "r"}),
                "price" => json!({"unit_price_cents": 1}),
                _ => json!({}),
            };
            let response = app
                .post(&format!("/v1/products/{segment}/{action}"), body)
                .await;
            response.assert_problem(404, "product_not_found");
        }
        for (action, body) in [
            ("cancel", json!({})),
            ("ship", json!({"carrier": "c", "tracking_number": "t"})),
        ] {
            let response = app
                .post(&format!("/v1/orders/{segment}/{action}"), body)
                .await;
            response.assert_problem(404, "order_not_found");
        }
    }
    // Stray quotes around a real id do not reach it either.
    let quoted = format!("{order}%27%20OR%20%271%27%3D%271");
    app.post(&format!("/v1/orders/{quoted}/cancel"), json!({}))
        .await
        .assert_problem(404, "order_not_found");
    assert_eq!(app.events().await.len(), before, "a refused command wrote");
}

/// What the service answers to a request written byte by byte, as a client that does not
/// check its headers would send it: the status, the head and the body.
async fn raw_request(app: &TestApp, head_lines: &[u8], body: &str) -> (u16, String, String) {
    let token = app.token();
    let mut request = format!(
        "POST /v1/products/HDR-1/receipts HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(head_lines);
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body.as_bytes());
    let answer = app.exchange_raw(&request).await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn an_idempotency_key_with_control_bytes_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.register("HDR-1", 0, "reject").await;
    let before = app.events().await.len();
    let body = r#"{"quantity": 1}"#;
    let keys: [&[u8]; 7] = [
        b"bare\rcr",
        b"nul\0byte",
        b"del\x7fbyte",
        b"bell\x07",
        b"esc\x1b[0m",
        b"folded\r\n continued",
        b"\x01",
    ];
    for key in keys {
        let mut line = b"Idempotency-Key: ".to_vec();
        line.extend_from_slice(key);
        line.extend_from_slice(b"\r\n");
        let (status, head, text) = raw_request(&app, &line, body).await;
        let what = String::from_utf8_lossy(key).into_owned();
        // Bytes no HTTP header may hold are refused by the HTTP parser itself, before the
        // service sees the request; what gets through is refused by the service, naming it.
        assert_eq!(status, 400, "{what:?}: {head}\n{text}");
        if !text.is_empty() {
            assert!(
                head.contains("content-type: application/problem+json"),
                "{what:?}: {head}"
            );
            let problem: Value = serde_json::from_str(&text).expect("a problem body");
            assert_eq!(problem["code"], "validation_failed", "{what:?}");
            assert_eq!(problem["errors"][0]["field"], "Idempotency-Key", "{what:?}");
        }
    }
    // Characters a header may hold but a key may not: the service's own refusal.
    for key in [
        &b"space key"[..],
        b"tab\tkey",
        b"\xc3\xa9t\xc3\xa9",
        b"\x80",
    ] {
        let mut line = b"Idempotency-Key: ".to_vec();
        line.extend_from_slice(key);
        line.extend_from_slice(b"\r\n");
        let (status, head, text) = raw_request(&app, &line, body).await;
        let what = String::from_utf8_lossy(key).into_owned();
        assert_eq!(status, 400, "{what:?}: {text}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{what:?}: {head}"
        );
        let problem: Value = serde_json::from_str(&text).expect("a problem body");
        assert_eq!(problem["errors"][0]["field"], "Idempotency-Key", "{what:?}");
    }
    assert_eq!(app.events().await.len(), before, "a refused request wrote");

    // A line break ends the key: what follows is a header of its own, not part of the key,
    // and nothing of it comes back in the answer.
    let injected = b"Idempotency-Key: k-1\r\nSet-Cookie: session=stolen\r\n";
    let (status, head, text) = raw_request(&app, injected, body).await;
    assert_eq!(status, 200, "{text}");
    assert!(!head.contains("stolen"), "{head}");
    let (status, head, _) = raw_request(&app, b"Idempotency-Key: k-1\r\n", body).await;
    assert_eq!(status, 200);
    assert!(
        head.contains("idempotent-replayed: true"),
        "the key was k-1: {head}"
    );
    assert_eq!(
        app.events().await.len(),
        before + 1,
        "one receipt, replayed once"
    );
}

#[tokio::test]
async fn request_headers_are_never_echoed_unchecked() {
    let app = TestApp::spawn().await;
    app.register("HDR-1", 0, "reject").await;
    let body = r#"{"quantity": 1}"#;
    let (status, head, _) = raw_request(
        &app,
        b"X-Request-Id: abc%0d%0aSet-Cookie:%20x=1\r\nX-Correlation-Id: \xff\xfe\r\n\
          Traceparent: 00-zz\r\n",
        body,
    )
    .await;
    assert_eq!(status, 200);
    assert!(!head.contains("set-cookie"), "{head}");
    let request_id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("an x-request-id");
    assert!(
        uuid::Uuid::parse_str(request_id.trim()).is_ok(),
        "a request id that is not a UUID was echoed: {request_id}"
    );
}
