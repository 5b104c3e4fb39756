//! The OpenAPI document: served without a token, equal to the committed
//! `query-service/openapi.json`, and true to the answers the service really sends.

use serde_json::Value;
use stockflow_testkit::openapi::{
    assert_api_operations, assert_committed, assert_documented, assert_problem_documented,
    assert_swagger_ui, assert_valid, served_document,
};

use crate::feed::FeedApp;
use crate::helpers::{TestApp, assert_keys, line, order, product, replenishment};

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = TestApp::spawn().await;
    let (served, _) = served_document(&app.url("")).await;
    assert_committed(
        &served,
        env!("CARGO_MANIFEST_DIR"),
        "stockflow-query-service",
    );
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_a_scope_on_every_operation() {
    let app = TestApp::spawn().await;
    let (_, mut document) = served_document(&app.url("")).await;
    // The event feed has a scope of its own (see below); every other query needs
    // `queries:read`.
    document["paths"]
        .as_object_mut()
        .expect("paths")
        .retain(|path, _| path != "/v1/events");
    let operations = assert_api_operations(
        &document,
        "get",
        "queries:read",
        &[
            "/v1/products/{sku}",
            "/v1/products",
            "/v1/products/{sku}/movements",
            "/v1/orders/{order_id}",
            "/v1/orders",
            "/v1/customers/{customer_id}",
            "/v1/analytics/sales",
            "/v1/analytics/stock",
            "/v1/replenishments",
            "/v1/projections",
            "/healthz",
            "/readyz",
        ],
        &["400", "401", "403", "429", "503"],
    );
    for (path, operation) in operations {
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
    let (_, document) = served_document(&app.url("")).await;
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
    assert_swagger_ui(&app.url("")).await;
}

#[tokio::test]
async fn real_answers_have_exactly_their_documented_members() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app.url("")).await;

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
        assert_documented(&document, "Order", got.assert_ok());
    }
    let orders = app.get("/v1/orders?limit=1").await;
    assert!(orders.next_cursor().is_some());
    assert_documented(&document, "OrderPage", orders.assert_ok());

    let got = app.get("/v1/products/DOC-A").await;
    assert_documented(&document, "Product", got.assert_ok());
    let products = app.get("/v1/products").await;
    assert_documented(&document, "ProductPage", products.assert_ok());

    let customer = app.get("/v1/customers/doc-customer").await;
    assert_documented(&document, "Customer", customer.assert_ok());

    let replenishments = app.get("/v1/replenishments").await;
    assert!(!replenishments.items().is_empty());
    assert_documented(&document, "ReplenishmentPage", replenishments.assert_ok());

    let projections = app.get("/v1/projections").await;
    assert_documented(&document, "Projections", projections.assert_ok());

    for group_by in ["day", "sku"] {
        let sales = app
            .get(&format!("/v1/analytics/sales?group_by={group_by}"))
            .await;
        let body = sales.assert_ok();
        assert!(!body["rows"].as_array().expect("rows").is_empty());
        assert_valid(&document, "Sales", body);
        let rows = body["rows"].as_array().expect("rows");
        let row_schema = if group_by == "day" {
            "DaySales"
        } else {
            "SkuSales"
        };
        assert_documented(&document, row_schema, &rows[0]);
    }
    let empty = app.get("/v1/analytics/sales?currency=JPY").await;
    assert_valid(&document, "Sales", empty.assert_ok());

    let health = app.get("/healthz").await;
    assert_documented(&document, "Health", health.assert_ok());
    let readiness = app.get("/readyz").await;
    assert_documented(&document, "Readiness", &readiness.body);
}

#[tokio::test]
async fn problems_validate_against_the_problem_schema() {
    let app = TestApp::spawn().await;
    let (_, document) = served_document(&app.url("")).await;
    let invalid = app.get("/v1/orders?limit=0").await;
    invalid.assert_invalid("limit");
    let missing = app
        .get(&format!("/v1/orders/{}", uuid::Uuid::now_v7()))
        .await;
    missing.assert_problem(404, "order_not_found");
    for problem in [&invalid.body, &missing.body] {
        assert_problem_documented(&document, problem);
    }
}

#[tokio::test]
async fn the_event_feed_is_documented_with_its_scope_both_answers_and_its_bounds() {
    let mut app = FeedApp::spawn().await;
    let (_, document) = served_document(&app.url("")).await;
    let mut feed = document.clone();
    feed["paths"]
        .as_object_mut()
        .expect("paths")
        .retain(|path, _| path == "/v1/events");
    let operations = assert_api_operations(
        &feed,
        "get",
        "events:read",
        &["/v1/events"],
        &["400", "401", "403", "429", "503"],
    );
    let operation = operations[0].1;
    let bearer = document["components"]["securitySchemes"]["bearer"]["description"]
        .as_str()
        .expect("a description");
    assert!(
        bearer.contains("queries:read") && bearer.contains("events:read"),
        "{bearer}"
    );
    let content = &operation["responses"]["200"]["content"];
    assert_eq!(
        content["application/json"]["schema"]["$ref"],
        "#/components/schemas/EventPage"
    );
    assert!(content["text/event-stream"].is_object(), "{content}");
    let parameter = |name: &str| {
        operation["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is documented"))
            .clone()
    };
    assert_eq!(parameter("limit")["schema"]["minimum"], 1);
    assert_eq!(parameter("limit")["schema"]["maximum"], 1000);
    assert_eq!(parameter("after")["schema"]["minimum"], 0);
    assert_eq!(parameter("Last-Event-ID")["in"], "header");
    let types = parameter("type");
    assert_eq!(types["schema"]["type"], "array");
    let values = types["schema"]["items"]["enum"]
        .as_array()
        .expect("an enum");
    for value in ["order.placed", "order.*", "product.replenishment_requested"] {
        assert!(values.iter().any(|v| v == value), "{value} in {values:?}");
    }

    app.seeder.mixed(50).await;
    let page = app.get("/v1/events?limit=50").await;
    let body = page.assert_ok();
    assert_keys(body, &["events", "next_after", "head"]);
    assert_valid(&document, "EventPage", body);
    let documented = document["components"]["schemas"]["CloudEvent"]["properties"]
        .as_object()
        .expect("properties");
    for event in body["events"].as_array().expect("events") {
        for member in event.as_object().expect("an object").keys() {
            assert!(documented.contains_key(member), "{member} is undocumented");
        }
    }
    let refused = app.get("/v1/events?limit=0").await;
    refused.assert_invalid("limit");
    assert_problem_documented(&document, &refused.body);
}
