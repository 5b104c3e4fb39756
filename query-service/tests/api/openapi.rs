//! The OpenAPI document: served without a token, equal to the committed
//! `query-service/openapi.json`, and true to the answers the service really sends.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::{TestApp, line, order, product, replenishment};

const REGENERATE: &str =
    "UPDATE_OPENAPI=1 cargo test -p stockflow-query-service --test api openapi";

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
    assert_eq!(response.headers()["content-type"], "application/json");
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
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = document["paths"].as_object().expect("paths");
    let expected = [
        "/v1/products/{sku}",
        "/v1/products",
        "/v1/orders/{order_id}",
        "/v1/orders",
        "/v1/customers/{customer_id}",
        "/v1/analytics/sales",
        "/v1/replenishments",
        "/v1/projections",
        "/healthz",
        "/readyz",
    ];
    assert_eq!(paths.keys().collect::<Vec<_>>(), expected);
    for (path, item) in paths.iter().filter(|(path, _)| path.starts_with("/v1/")) {
        let operation = &item["get"];
        assert_eq!(
            operation["security"],
            json!([{"bearer": ["queries:read"]}]),
            "{path}"
        );
        let parameters = operation["parameters"].as_array().expect("parameters");
        for (name, place) in [("min_position", "query"), ("X-Min-Position", "header")] {
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == place),
                "{path} documents {name}"
            );
        }
        assert!(
            operation["responses"]["200"]["headers"]["X-Projection-Position"].is_object(),
            "{path}"
        );
        for status in ["400", "401", "403", "429", "503"] {
            assert_eq!(
                operation["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{path} {status}"
            );
        }
        assert!(
            operation["responses"]["503"]["headers"]["Retry-After"].is_object(),
            "{path}"
        );
    }
    let limit = document["paths"]["/v1/orders"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit is documented")
        .clone();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 500);
}

/// Every `"$ref"` in `value`, at any depth.
fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                match (name.as_str(), member) {
                    ("$ref", Value::String(reference)) => found.push(reference),
                    _ => references(member, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_in_the_document_resolves_to_a_component() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app).await;
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(
        found.contains(&"#/components/schemas/SalesGrouping"),
        "the parameters' schemas are referenced too: {found:?}"
    );
    let unresolved: Vec<&str> = found
        .into_iter()
        .filter(|reference| {
            !reference
                .strip_prefix("#/components/")
                .and_then(|_| document.pointer(&reference[1..]))
                .is_some_and(Value::is_object)
        })
        .collect();
    assert!(
        unresolved.is_empty(),
        "$refs that name no component of the document: {unresolved:?}"
    );
}

#[tokio::test]
async fn swagger_ui_is_served_offline_at_docs() {
    let app = TestApp::spawn().await;
    let page = get_public(&app, "/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("a page");
    assert!(html.contains("swagger-ui"), "{html}");
    let initializer = get_public(&app, "/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), 200);
    let script = initializer.text().await.expect("a script");
    assert!(script.contains("/openapi.json"), "{script}");
    let bundle = get_public(&app, "/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.expect("a bundle").len() > 100_000);
}

/// Asserts that `value` validates against the schema `schema_name` of the document and, with
/// `exact`, has exactly the members it documents, all of them required, at every depth.
#[track_caller]
fn assert_documented(document: &Value, schema_name: &str, value: &Value, exact: bool) {
    let schema = json!({"$ref": format!("#/components/schemas/{schema_name}")});
    if exact {
        assert_members(document, &schema, value, schema_name);
    }
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
        let target = document
            .pointer(reference.trim_start_matches('#'))
            .expect("a resolvable $ref");
        return assert_members(document, target, value, at);
    }
    if let Some(properties) = schema["properties"].as_object() {
        let object = value
            .as_object()
            .unwrap_or_else(|| panic!("{at}: not an object"));
        let mut documented: Vec<&str> = properties.keys().map(String::as_str).collect();
        let mut sent: Vec<&str> = object.keys().map(String::as_str).collect();
        documented.sort_unstable();
        sent.sort_unstable();
        assert_eq!(sent, documented, "{at}: members sent vs documented");
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        required.sort_unstable();
        assert_eq!(
            required, documented,
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
async fn real_answers_have_exactly_their_documented_members() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app).await;

    app.seed_product(&product("DOC-A")).await;
    let mut shipped = order("doc-customer", "2026-11-20T10:00:00Z");
    shipped.status = "shipped".into();
    shipped.lines = vec![line("DOC-A", 2, 1000)];
    shipped.shipped_at = Some("2026-11-20T12:00:00Z".into());
    shipped.carrier = Some("DHL".into());
    shipped.tracking_number = Some("T1".into());
    app.seed_order(&shipped).await;
    let mut open = order("doc-customer", "2026-11-21T10:00:00Z");
    open.lines = vec![line("DOC-A", 1, 1000)];
    app.seed_order(&open).await;
    app.seed_customer(
        "doc-customer",
        2,
        1,
        "2026-11-20T10:00:00Z",
        "2026-11-21T10:00:00Z",
        &[("EUR", 3000)],
    )
    .await;
    app.seed_daily_sales(&[("2026-11-20", "EUR", 1, 2, 2000)])
        .await;
    app.seed_daily_sku_sales(&[("2026-11-20", "DOC-A", "EUR", 1, 2, 2000)])
        .await;
    app.seed_replenishment(&replenishment("DOC-A", 1, 3, 3))
        .await;

    for order_id in [shipped.order_id, open.order_id] {
        let got = app.get(&format!("/v1/orders/{order_id}")).await;
        assert_documented(&document, "Order", got.assert_ok(), true);
    }
    let orders = app.get("/v1/orders?limit=1").await;
    assert!(orders.next_cursor().is_some());
    assert_documented(&document, "OrderPage", orders.assert_ok(), true);

    let got = app.get("/v1/products/DOC-A").await;
    assert_documented(&document, "Product", got.assert_ok(), true);
    let products = app.get("/v1/products").await;
    assert_documented(&document, "ProductPage", products.assert_ok(), true);

    let customer = app.get("/v1/customers/doc-customer").await;
    assert_documented(&document, "Customer", customer.assert_ok(), true);

    let replenishments = app.get("/v1/replenishments").await;
    assert!(!replenishments.items().is_empty());
    assert_documented(
        &document,
        "ReplenishmentPage",
        replenishments.assert_ok(),
        true,
    );

    let projections = app.get("/v1/projections").await;
    assert_documented(&document, "Projections", projections.assert_ok(), true);

    for group_by in ["day", "sku"] {
        let sales = app
            .get(&format!("/v1/analytics/sales?group_by={group_by}"))
            .await;
        let body = sales.assert_ok();
        assert!(!body["rows"].as_array().expect("rows").is_empty());
        assert_documented(&document, "Sales", body, false);
        let rows = body["rows"].as_array().expect("rows");
        let row_schema = if group_by == "day" {
            "DaySales"
        } else {
            "SkuSales"
        };
        assert_documented(&document, row_schema, &rows[0], true);
    }
    let empty = app.get("/v1/analytics/sales?currency=JPY").await;
    assert_documented(&document, "Sales", empty.assert_ok(), false);

    let health = app.get("/healthz").await;
    assert_documented(&document, "Health", health.assert_ok(), true);
    let readiness = app.get("/readyz").await;
    assert_documented(&document, "Readiness", &readiness.body, true);
}

#[tokio::test]
async fn problems_validate_against_the_problem_schema() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app).await;
    let invalid = app.get("/v1/orders?limit=0").await;
    invalid.assert_invalid("limit");
    let missing = app
        .get(&format!("/v1/orders/{}", uuid::Uuid::now_v7()))
        .await;
    missing.assert_problem(404, "order_not_found");
    for problem in [&invalid.body, &missing.body] {
        assert_documented(&document, "Problem", problem, false);
        let documented = document["components"]["schemas"]["Problem"]["properties"]
            .as_object()
            .expect("properties");
        for member in problem.as_object().expect("an object").keys() {
            assert!(documented.contains_key(member), "{member} is undocumented");
        }
    }
}
