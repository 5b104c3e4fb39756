//! A service's OpenAPI document under test: served without a token, equal to the committed
//! copy beside the service's manifest (rewritten instead with `UPDATE_OPENAPI=1`), and true
//! to the bodies the service really sends.

use std::path::Path;

use serde_json::{Value, json};

/// GET `url` without a token: the document and the docs are public.
pub async fn get_public(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("the service answers")
}

/// The document the service at `base_url` serves at `/openapi.json`: its text and its JSON.
pub async fn served_document(base_url: &str) -> (String, Value) {
    let response = get_public(&format!("{base_url}/openapi.json")).await;
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

/// Asserts that `served` is the committed `openapi.json` of the package `package`, whose
/// manifest is in `manifest_dir`; with `UPDATE_OPENAPI=1`, writes it there instead.
#[track_caller]
pub fn assert_committed(served: &str, manifest_dir: &str, package: &str) {
    let path = Path::new(manifest_dir).join("openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, served).expect("write openapi.json");
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
             {}). If the change to the API is intended, regenerate it with\n    \
             UPDATE_OPENAPI=1 cargo test -p {package} --test api openapi\n\
             and commit the result.",
            path.display(),
            line + 1
        );
    }
}

/// Asserts what every stockflow API document has: OpenAPI 3.1, the bearer scheme, exactly
/// the `paths` given (in that order), and on each operation under `/v1/` (its `method`'s) the
/// bearer requirement of `scope` and a `Problem` for each of `refusals`. Returns those
/// operations, with their paths, for what a service documents beyond.
#[track_caller]
pub fn assert_api_operations<'a>(
    document: &'a Value,
    method: &str,
    scope: &str,
    paths: &[&str],
    refusals: &[&str],
) -> Vec<(&'a str, &'a Value)> {
    assert_eq!(document["openapi"], "3.1.0");
    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        bearer,
        &json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": bearer["description"]})
    );
    let documented = document["paths"].as_object().expect("paths");
    assert_eq!(documented.keys().collect::<Vec<_>>(), paths);
    let operations: Vec<(&str, &Value)> = documented
        .iter()
        .filter(|(path, _)| path.starts_with("/v1/"))
        .map(|(path, item)| (path.as_str(), &item[method]))
        .collect();
    for (path, operation) in &operations {
        assert_eq!(
            operation["security"],
            json!([{"bearer": [scope]}]),
            "{path}"
        );
        for status in refusals {
            assert_eq!(
                operation["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{path} {status}"
            );
        }
    }
    operations
}

/// Asserts that Swagger UI is served at `/docs` from the service itself (no download),
/// pointed at its document.
pub async fn assert_swagger_ui(base_url: &str) {
    let page = get_public(&format!("{base_url}/docs/")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("a page");
    assert!(html.contains("swagger-ui"), "{html}");
    let initializer = get_public(&format!("{base_url}/docs/swagger-initializer.js")).await;
    assert_eq!(initializer.status(), 200);
    let script = initializer.text().await.expect("a script");
    assert!(script.contains("/openapi.json"), "{script}");
    let bundle = get_public(&format!("{base_url}/docs/swagger-ui-bundle.js")).await;
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.expect("a bundle").len() > 100_000);
}

/// Asserts that `value` has exactly the members the schema `schema_name` of the document
/// documents, all of them required, at every depth, and validates against it.
#[track_caller]
pub fn assert_documented(document: &Value, schema_name: &str, value: &Value) {
    let schema = json!({"$ref": format!("#/components/schemas/{schema_name}")});
    assert_members(document, &schema, value, schema_name);
    assert_valid(document, schema_name, value);
}

/// Asserts that `value` validates against the schema `schema_name` of the document.
#[track_caller]
pub fn assert_valid(document: &Value, schema_name: &str, value: &Value) {
    let mut root = document.clone();
    root["$ref"] = json!(format!("#/components/schemas/{schema_name}"));
    let validator = jsonschema::validator_for(&root).expect("the document's schemas compile");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_name}: {errors:?} in {value}");
}

/// Asserts that a refusal the service sent is a `Problem` as the document describes it, with
/// no member it leaves undocumented.
#[track_caller]
pub fn assert_problem_documented(document: &Value, problem: &Value) {
    assert_valid(document, "Problem", problem);
    let documented = document["components"]["schemas"]["Problem"]["properties"]
        .as_object()
        .expect("properties");
    for member in problem.as_object().expect("an object").keys() {
        assert!(documented.contains_key(member), "{member} is undocumented");
    }
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
