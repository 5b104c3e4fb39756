//! The page and its assets, the security headers, health, and refusals of what is not there.

use stockflow_testkit::send;

use crate::support::Console;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

#[tokio::test]
async fn the_page_is_served_with_a_strict_content_security_policy() {
    let console = Console::start().await;
    let page = send(console.client.get(console.url("/"))).await;
    page.assert_status(200);
    assert_eq!(page.content_type(), "text/html; charset=utf-8");
    assert_eq!(page.header("content-security-policy"), Some(CSP));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    // What the CSP forbids is not in the page: inline scripts, styles and handlers.
    let html = page.text.to_lowercase();
    assert!(!html.contains("<script>"), "an inline script");
    assert!(!html.contains("<style"), "an inline style sheet");
    assert!(!html.contains(" style="), "an inline style");
    assert!(!html.contains(" onclick=") && !html.contains(" onload="));
    for id in [
        "form id=\"sign-in\"",
        "id=\"token\" name=\"token\" type=\"password\"",
        "svg id=\"overview-chart\"",
        "table id=\"projections-table\"",
        "progress id=\"rebuild-progress\"",
        "dialog id=\"confirm\"",
        "select id=\"events-by\"",
        "table id=\"audit-table\"",
    ] {
        assert!(page.text.contains(id), "the page lacks {id}");
    }
}

#[tokio::test]
async fn every_asset_the_page_names_is_served_with_its_type() {
    let console = Console::start().await;
    let page = send(console.client.get(console.url("/"))).await;
    let named: Vec<&str> = page
        .text
        .split(['"', '\''])
        .filter(|part| part.starts_with("/assets/"))
        .collect();
    assert!(named.len() >= 3, "{named:?}");
    for path in named {
        let asset = send(console.client.get(console.url(path))).await;
        asset.assert_status(200);
        let expected = if path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else if path.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            panic!("an asset of no known type: {path}")
        };
        assert_eq!(asset.content_type(), expected, "{path}");
        assert_eq!(asset.header("content-security-policy"), Some(CSP));
        assert_eq!(asset.header("x-content-type-options"), Some("nosniff"));
        assert!(!asset.text.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn the_pages_scripts_never_write_markup() {
    let console = Console::start().await;
    for path in [
        "/assets/app.js",
        "/assets/api.js",
        "/assets/chart.js",
        "/assets/pages/overview.js",
        "/assets/pages/projections.js",
        "/assets/pages/dead-letters.js",
        "/assets/pages/events.js",
        "/assets/pages/audit.js",
    ] {
        let script = send(console.client.get(console.url(path))).await;
        script.assert_status(200);
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.text.contains(sink), "{path} uses {sink}");
        }
    }
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_session() {
    let console = Console::start().await;
    let health = send(console.client.get(console.url("/healthz"))).await;
    assert_eq!(health.assert_status(200)["status"], "ok");
    let ready = send(console.client.get(console.url("/readyz"))).await;
    assert_eq!(ready.assert_status(200)["status"], "ready");
    assert_eq!(ready.content_type(), "application/json");
}

#[tokio::test]
async fn what_is_not_there_is_a_problem() {
    let console = Console::start().await;
    for path in ["/nothing", "/assets/nothing.js", "/assets/", "/assets/%ff"] {
        let answer = send(console.client.get(console.url(path))).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.text);
        assert!(answer.problem_code().is_ok(), "{path}: {}", answer.text);
    }
    send(console.client.post(console.url("/")))
        .await
        .assert_problem(405, "method_not_allowed");
    send(console.client.put(console.url("/session")))
        .await
        .assert_problem(405, "method_not_allowed");
}
