//! The API forwarded to the services: the token added, the answer passed back, and what is
//! refused before anything is forwarded.

use reqwest::Method;
use stockflow_testkit::send;

use crate::support::{Console, closed_url};

#[tokio::test]
async fn a_request_reaches_the_service_with_the_sessions_token_and_its_answer_comes_back() {
    let console = Console::start().await;
    let token = console.fake.admin_token("ops-1");
    let answer = console.sign_in_with(&token).await;
    let cookie = crate::support::session_cookie(&answer).unwrap();

    let answer = send(
        console
            .api(
                Method::POST,
                "/api/projector/v1/admin/dead-letters/42/discard?dry=1&x=a%2Bb",
                &cookie,
            )
            .header("content-type", "application/json")
            .body(r#"{"reason":"poison"}"#),
    )
    .await;
    let body = answer.assert_status(201);
    assert_eq!(body["method"], "POST");
    assert_eq!(
        body["path"],
        "/v1/admin/dead-letters/42/discard?dry=1&x=a%2Bb"
    );
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let seen = console.fake.last_seen();
    assert_eq!(
        seen.authorization.as_deref(),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    assert_eq!(seen.body, r#"{"reason":"poison"}"#);
    // The browser's cookie stays with the console.
    assert_eq!(seen.cookie, None);
    // The token never comes back to the page.
    assert!(!answer.text.contains(&token));
}

#[tokio::test]
async fn each_service_is_reached_by_its_name() {
    let console = Console::start().await;
    let cookie = console.sign_in().await;
    for service in ["commands", "queries", "projector"] {
        let answer = send(console.api(
            Method::GET,
            &format!("/api/{service}/v1/events?after=3&limit=2"),
            &cookie,
        ))
        .await;
        assert_eq!(
            answer.assert_status(201)["path"],
            "/v1/events?after=3&limit=2"
        );
        assert_eq!(console.fake.last_seen().method, "GET");
    }
}

#[tokio::test]
async fn the_services_status_content_type_and_body_pass_through() {
    let console = Console::start().await;
    let cookie = console.sign_in().await;
    let answer = send(console.api(Method::GET, "/api/queries/v1/teapot", &cookie)).await;
    answer.assert_status(418);
    assert_eq!(answer.content_type(), "text/plain; charset=utf-8");
    assert_eq!(answer.text, "short and stout");
}

#[tokio::test]
async fn without_a_session_it_is_401_and_without_the_console_header_403() {
    let console = Console::start().await;
    let no_session = send(
        console
            .client
            .get(console.url("/api/projector/v1/admin/projections"))
            .header("x-console", "1"),
    )
    .await;
    no_session.assert_problem(401, "not_signed_in");
    let unknown_session = send(console.api(
        Method::GET,
        "/api/projector/v1/admin/projections",
        "stockflow_console=made-up",
    ))
    .await;
    unknown_session.assert_problem(401, "not_signed_in");

    let cookie = console.sign_in().await;
    for header in [None, Some("0"), Some("true")] {
        let mut request = console
            .client
            .get(console.url("/api/projector/v1/admin/projections"))
            .header("cookie", &cookie);
        if let Some(value) = header {
            request = request.header("x-console", value);
        }
        send(request)
            .await
            .assert_problem(403, "missing_console_header");
    }
    assert!(console.fake.seen().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn nothing_outside_a_services_v1_is_forwarded() {
    let console = Console::start().await;
    let cookie = console.sign_in().await;
    for path in [
        "/api/projector/metrics",
        "/api/projector/readyz",
        "/api/projector/v2/admin",
        "/api/projector/v1/../metrics",
        "/api/projector/v1/%2e%2e/metrics",
        "/api/projector/v1/%2E./readyz",
        "/api/projector/",
        "/api/projector",
    ] {
        send(console.api(Method::GET, path, &cookie))
            .await
            .assert_problem(404, "not_found");
    }
    send(console.api(Method::GET, "/api/billing/v1/x", &cookie))
        .await
        .assert_problem(404, "unknown_service");
    assert!(console.fake.seen().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn only_get_and_post_are_forwarded() {
    let console = Console::start().await;
    let cookie = console.sign_in().await;
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        send(console.api(method, "/api/projector/v1/admin/x", &cookie))
            .await
            .assert_problem(405, "method_not_allowed");
    }
    assert!(console.fake.seen().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn a_service_that_does_not_answer_is_502() {
    let down = closed_url().await;
    let console = Console::start_with(|c| c.commands_url = down).await;
    let cookie = console.sign_in().await;
    let answer = send(console.api(Method::GET, "/api/commands/v1/admin/audit", &cookie)).await;
    answer.assert_problem(502, "upstream_unavailable");
}

#[tokio::test]
async fn a_body_too_large_to_forward_is_413() {
    let console = Console::start().await;
    let cookie = console.sign_in().await;
    let answer = send(
        console
            .api(Method::POST, "/api/projector/v1/admin/x", &cookie)
            .header("content-type", "application/json")
            .body(vec![b' '; 200 * 1024]),
    )
    .await;
    answer.assert_problem(413, "body_too_large");
}
