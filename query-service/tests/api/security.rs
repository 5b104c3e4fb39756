//! Authentication, authorization and time limits of the query API (SPEC §7).

use std::time::Duration;

use stockflow_store::web::{Scope, mint_token};

use crate::helpers::{TEST_SECRET, TestApp};

async fn status_with(app: &TestApp, token: Option<String>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(app.url("/v1/products"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn queries_need_a_token_with_the_queries_scope() {
    let app = TestApp::spawn().await;
    let (status, body) = status_with(&app, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"code\":\"unauthorized\""));

    let writer = mint_token(
        TEST_SECRET,
        "shop",
        &[Scope::CommandsWrite],
        Duration::from_secs(60),
    );
    let (status, body) = status_with(&app, Some(writer)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("queries:read"));

    let reader = mint_token(
        TEST_SECRET,
        "analyst",
        &[Scope::QueriesRead],
        Duration::from_secs(60),
    );
    assert_eq!(status_with(&app, Some(reader)).await.0, 200);
    let admin = mint_token(TEST_SECRET, "ops", &[Scope::Admin], Duration::from_secs(60));
    assert_eq!(status_with(&app, Some(admin)).await.0, 200);

    let metrics = reqwest::Client::new()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("answers");
    assert_eq!(metrics.status(), 200, "metrics need no token");
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("service=\"query-service\""),
        "query latency is recorded:\n{text}"
    );
}

#[tokio::test]
async fn a_request_that_outlives_its_time_limit_is_answered_503() {
    let app = TestApp::spawn_with(|config| {
        config.web.request_timeout_ms = 300;
        config.min_position_timeout_ms = 5_000;
    })
    .await;
    // Waits for a position the read models will not reach, longer than the time limit.
    let response = app.get("/v1/products?min_position=1000000").await;
    assert_eq!(response.status, 503, "{}", response.text);
    assert_eq!(response.body["code"], "request_timeout");
    assert_eq!(response.header("retry-after"), Some("1"));
}
