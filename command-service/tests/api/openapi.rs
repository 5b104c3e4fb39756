//! The OpenAPI document: served without a token, equal to the committed
//! `command-service/openapi.json`, and true to the bodies the service really sends.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::TestApp;

const REGENERATE: &str =
    "UPDATE_OPENAPI=1 cargo test -p stockflow-command-service --test api openapi";

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// GET without a token: the document and the docs are public.
async fn get_public(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url(path))
        .send()
        .await
        .expect("the service answers")
}

async fn served_document(app: &TestApp) -> (String, Value) {
    let response = get_public(app, "/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "the document is JSON"
    );
    let text = response.text().await.expect("a body");
    let document = serde_json::from_str(&text).expect("the document is JSON");
    (text, document)
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = TestApp::spawn().await;
    let (served, _) = served_document(&app).await;
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &served).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != served {
        let line = committed
            .lines()
            .zip(served.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(served.lines().count()));
        panic!(
            "{} differs from the document the service serves at /openapi.json (first at line \
             {}). If the change to the API is intended, regenerate it with\n    {REGENERATE}\n\
             and commit the result.",
            path.display(),
            line + 1
        );
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_a_scope_on_every_operation() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": document["components"]["securitySchemes"]["bearer"]["description"]})
    );
    let paths = document["paths"].as_object().expect("paths");
    let expected = [
        "/v1/products",
        "/v1/products/{sku}/receipts",
        "/v1/products/{sku}/adjustments",
        "/v1/products/{sku}/price",
        "/v1/products/{sku}/discontinue",
        "/v1/orders",
        "/v1/orders/{order_id}/cancel",
        "/v1/orders/{order_id}/ship",
        "/healthz",
        "/readyz",
    ];
    assert_eq!(paths.keys().collect::<Vec<_>>(), expected);
    for (path, item) in paths.iter().filter(|(path, _)| path.starts_with("/v1/")) {
        let operation = &item["post"];
        assert_eq!(
            operation["security"],
            json!([{"bearer": ["commands:write"]}]),
            "{path}"
        );
        let headers: Vec<&str> = operation["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "header")
            .map(|p| p["name"].as_str().expect("a name"))
            .collect();
        assert_eq!(headers, ["Idempotency-Key", "If-Match"], "{path}");
        for status in [
            "400", "401", "403", "409", "412", "413", "415", "422", "429", "503",
        ] {
            assert_eq!(
                operation["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{path} {status}"
            );
        }
        assert!(
            operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string(),
            "{path} documents its body"
        );
    }
}

#[tokio::test]
async fn swagger_ui_is_served_offline_at_docs() {
    let app = TestApp::spawn().await;
    let page = get_public(&app, "/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("a page");
    assert!(html.contains("swagger-ui"), "{html}");
    // The page loads its assets from the service itself, and is pointed at our document.
    let initializer = get_public(&app, "/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), 200);
    let script = initializer.text().await.expect("a script");
    assert!(script.contains("/openapi.json"), "{script}");
    let bundle = get_public(&app, "/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.expect("a bundle").len() > 100_000);
}

/// Asserts that `value` has exactly the members `schema` documents, all of them required,
/// at every depth, and validates it against the schema.
#[track_caller]
pub fn assert_documented(document: &Value, schema_name: &str, value: &Value) {
    let schema = json!({"$ref": format!("#/components/schemas/{schema_name}")});
    assert_members(document, &schema, value, schema_name);
    let mut root = document.clone();
    root["$ref"] = schema["$ref"].clone();
    let validator = jsonschema::validator_for(&root).expect("the document's schemas compile");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_name}: {errors:?} in {value}");
}

#[track_caller]
fn assert_members(document: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(reference) = schema["$ref"].as_str() {
        let pointer = reference.trim_start_matches('#');
        let target = document.pointer(pointer).expect("a resolvable $ref");
        return assert_members(document, target, value, at);
    }
    if let Some(properties) = schema["properties"].as_object() {
        let object = value
            .as_object()
            .unwrap_or_else(|| panic!("{at}: not an object"));
        let mut documented: Vec<&String> = properties.keys().collect();
        let mut sent: Vec<&String> = object.keys().collect();
        documented.sort();
        sent.sort();
        assert_eq!(sent, documented, "{at}: members sent vs documented");
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        required.sort();
        assert_eq!(
            required,
            documented.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "{at}: every member is always sent, so every member is required"
        );
        for (name, member) in object {
            assert_members(document, &properties[name], member, &format!("{at}.{name}"));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            assert_members(document, items, item, &format!("{at}[{i}]"));
        }
    }
}

#[tokio::test]
async fn real_success_bodies_have_exactly_their_documented_members() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app).await;

    let registered = app.register("DOC-A", 5, "backorder").await;
    assert_documented(&document, "ProductRegistered", &registered.body);
    app.register("DOC-B", 5, "reject").await;

    let placed = app
        .place("doc-customer", &[("DOC-A", 7), ("DOC-B", 2)])
        .await;
    placed.assert_status(201);
    assert!(
        !placed.body["lines"].as_array().expect("lines").is_empty()
            && !placed.body["replenishments"]
                .as_array()
                .expect("replenishments")
                .is_empty(),
        "the order is backordered, so every nested shape is present: {}",
        placed.text
    );
    assert_documented(&document, "OrderPlaced", &placed.body);
    let order_id = placed.body["order_id"].as_str().expect("an id").to_owned();

    let received = app.receive("DOC-A", 10).await;
    received.assert_status(200);
    assert!(
        !received.body["filled"]
            .as_array()
            .expect("filled")
            .is_empty()
    );
    assert_documented(&document, "StockReceived", &received.body);

    let adjusted = app
        .post(
            "/v1/products/DOC-B/adjustments",
            json!({"delta": -1, "reason": "count"}),
        )
        .await;
    adjusted.assert_status(200);
    assert_documented(&document, "StockAdjusted", &adjusted.body);

    let repriced = app
        .post(
            "/v1/products/DOC-B/price",
            json!({"unit_price_cents": 1200}),
        )
        .await;
    repriced.assert_status(200);
    assert_documented(&document, "PriceChanged", &repriced.body);

    let shipped = app
        .post(
            &format!("/v1/orders/{order_id}/ship"),
            json!({"carrier": "DHL", "tracking_number": "T1"}),
        )
        .await;
    shipped.assert_status(200);
    assert_documented(&document, "OrderShipped", &shipped.body);

    let other = app.place("doc-customer", &[("DOC-B", 1)]).await;
    let other_id = other.body["order_id"].as_str().expect("an id").to_owned();
    let cancelled = app.cancel(&other_id).await;
    cancelled.assert_status(200);
    assert_documented(&document, "OrderCancelled", &cancelled.body);

    let discontinued = app.post("/v1/products/DOC-B/discontinue", json!({})).await;
    discontinued.assert_status(200);
    assert_documented(&document, "ProductDiscontinued", &discontinued.body);

    let health = app.get("/healthz").await;
    assert_documented(&document, "Health", health.assert_status(200));
    let readiness = app.get("/readyz").await;
    assert_documented(&document, "Readiness", &readiness.body);
}

#[tokio::test]
async fn problems_validate_against_the_problem_schema() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app).await;
    let invalid = app
        .post("/v1/orders", json!({"customer_id": "", "lines": []}))
        .await;
    invalid.assert_problem(400, "validation_failed");
    app.register("DOC-P", 1, "reject").await;
    let short = app.place("c", &[("DOC-P", 2)]).await;
    short.assert_problem(422, "insufficient_stock");
    for problem in [&invalid.body, &short.body] {
        let mut root = document.clone();
        root["$ref"] = json!("#/components/schemas/Problem");
        let validator = jsonschema::validator_for(&root).expect("the schemas compile");
        assert!(validator.is_valid(problem), "{problem}");
        let documented = document["components"]["schemas"]["Problem"]["properties"]
            .as_object()
            .expect("properties");
        for member in problem.as_object().expect("an object").keys() {
            assert!(documented.contains_key(member), "{member} is undocumented");
        }
    }
}
