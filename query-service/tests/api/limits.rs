//! What a client may hold of a service, and who may call it (docs/operations.md, "Abusive
//! clients"): half-sent headers and idle kept-alive connections are closed after the header
//! time limit; a connection past the cap, and a request past the in-flight cap, are told 503
//! `overloaded` with `Retry-After` at once; an address sending bad tokens is turned away
//! before they are checked; cross-origin calls only from the allowed origins; `/metrics` apart.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

/// How long the server may take to close a connection it should close (far above the
/// limits set below: a deadline for the test, not a measurement).
const PATIENCE: Duration = Duration::from_secs(10);

/// Reads until the server closes the connection; returns what it sent. Panics if it is
/// still open after [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the connection is still open: {received:?}");
    String::from_utf8_lossy(&received).into_owned()
}

fn request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

#[tokio::test]
async fn half_sent_headers_and_idle_connections_are_closed_after_the_header_time_limit() {
    let app = TestApp::spawn_with(|config| config.http.header_timeout_ms = 300).await;

    // Slowloris: the headers never end.
    let mut slow = TcpStream::connect(app.addr).await.expect("connects");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("sent");
    let answer = read_until_closed(&mut slow).await;
    assert!(
        !answer.contains("200 OK"),
        "no request was answered: {answer}"
    );

    // One request answered, then nothing: the kept-alive connection is closed too.
    let mut idle = TcpStream::connect(app.addr).await.expect("connects");
    idle.write_all(request("/healthz").as_bytes())
        .await
        .expect("sent");
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");

    // Others are served all the while.
    app.get("/healthz").await.assert_status(200);
}

#[tokio::test]
async fn headers_past_the_size_limit_are_refused_431() {
    let app = TestApp::spawn_with(|config| config.http.max_header_bytes = 16 * 1024).await;
    let mut stuffed = TcpStream::connect(app.addr).await.expect("connects");
    let header = "x".repeat(40 * 1024);
    // Sent without waiting for the end: the server may answer and close before it is all in.
    let _ = stuffed
        .write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {header}\r\n\r\n").as_bytes(),
        )
        .await;
    let answer = read_until_closed(&mut stuffed).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        answer.chars().take(200).collect::<String>()
    );
    // Headers within the limit are served as ever.
    let fits = "y".repeat(8 * 1024);
    let within = app
        .send(app.client.get(app.url("/healthz")).header("x-fits", fits))
        .await;
    within.assert_status(200);
}

/// `GET /healthz` on a connection of its own, kept open; whether it was answered 200.
async fn healthz_on_a_new_connection(app: &TestApp) -> (TcpStream, bool) {
    let mut stream = TcpStream::connect(app.addr).await.expect("connects");
    stream
        .write_all(request("/healthz").as_bytes())
        .await
        .expect("sent");
    let mut first = [0u8; 15];
    let served = stream.read_exact(&mut first).await.is_ok() && &first == b"HTTP/1.1 200 OK";
    (stream, served)
}

#[tokio::test]
async fn a_connection_past_the_cap_is_told_overloaded_and_the_others_go_on() {
    let app = TestApp::spawn_with(|config| config.http.max_connections = 2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let (stream, served) = healthz_on_a_new_connection(&app).await;
        assert!(served, "a connection within the cap is served");
        held.push(stream);
    }
    let mut third = TcpStream::connect(app.addr)
        .await
        .expect("the kernel accepts it");
    let refused = read_until_closed(&mut third).await;
    assert!(
        refused.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{refused}"
    );
    assert!(refused.contains("retry-after: 1"), "{refused}");
    let body = refused.split("\r\n\r\n").nth(1).expect("a body");
    let problem: serde_json::Value = serde_json::from_str(body).expect("a problem");
    assert_eq!(problem["code"], "overloaded");

    // Once one lets go, a new connection is served.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if healthz_on_a_new_connection(&app).await.1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_request_past_the_in_flight_cap_is_told_overloaded_at_once() {
    let app = TestApp::spawn_with(|config| {
        config.http.max_in_flight = 1;
        config.min_position_timeout_ms = 3_000;
    })
    .await;
    // One request waits for a position the read models never reach, holding the one slot.
    let waiting = {
        let client = app.client.clone();
        let url = app.url("/v1/products?min_position=1000000");
        tokio::spawn(async move { client.get(url).send().await })
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let shed = loop {
        let response = app.get("/v1/products").await;
        if response.status == 503 {
            break response;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never shed: {}",
            response.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    shed.assert_problem(503, "overloaded");
    assert_eq!(shed.header("retry-after"), Some("1"));
    let waited = waiting.await.expect("ran").expect("answered");
    assert_eq!(
        waited.status(),
        503,
        "the wait itself ends in projection_lagging"
    );
    app.get("/v1/products").await.assert_status(200);
}

#[tokio::test]
async fn an_address_that_keeps_sending_bad_tokens_is_turned_away_before_they_are_checked() {
    let app = TestApp::spawn_with(|config| config.web.auth_failures_per_second = 2).await;
    let forged = reqwest::Client::new();
    let url = app.url("/v1/products");
    // A burst of twice the rate is answered 401, one by one.
    for _ in 0..4 {
        app.send(forged.get(&url).bearer_auth("not.a.token"))
            .await
            .assert_problem(401, "unauthorized");
    }
    let turned_away = app.send(forged.get(&url).bearer_auth("not.a.token")).await;
    turned_away.assert_problem(429, "too_many_auth_failures");
    assert!(turned_away.header("retry-after").is_some());
    // Requests without any token count the same.
    app.send(forged.get(&url))
        .await
        .assert_problem(429, "too_many_auth_failures");
    // Open endpoints stay open, and the address may try again once the bucket refills.
    app.get("/healthz").await.assert_status(200);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = app.get("/v1/products").await;
        if response.status == 200 {
            break;
        }
        response.assert_problem(429, "too_many_auth_failures");
        assert!(tokio::time::Instant::now() < deadline, "never let in again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn cross_origin_calls_are_answered_for_the_allowed_origins_only() {
    let shop = "https://shop.example.com";
    let app = TestApp::spawn_with(|config| {
        config.web.cors_allowed_origins = vec![shop.into(), "http://localhost:3000".into()];
    })
    .await;
    let anonymous = reqwest::Client::new();
    let url = app.url("/v1/products");
    let preflight = |origin: &str| {
        anonymous
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header(
                "access-control-request-headers",
                "authorization, x-min-position",
            )
    };
    // A preflight carries no token: it is answered all the same.
    let allowed = app.send(preflight(shop)).await;
    assert!(allowed.status < 300, "{allowed:?}");
    assert_eq!(allowed.header("access-control-allow-origin"), Some(shop));
    let headers = allowed
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("x-min-position"),
        "{headers}"
    );
    let other = app.send(preflight("https://evil.example.net")).await;
    assert_eq!(other.header("access-control-allow-origin"), None);

    let read = app.send(app.client.get(&url).header("origin", shop)).await;
    read.assert_status(200);
    assert_eq!(read.header("access-control-allow-origin"), Some(shop));
    let exposed = read
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for header in [
        "x-projection-position",
        "x-request-id",
        "retry-after",
        "idempotent-replayed",
    ] {
        assert!(exposed.contains(header), "{header} not in {exposed}");
    }
}

#[tokio::test]
async fn without_allowed_origins_no_cross_origin_call_is_answered() {
    let app = TestApp::spawn().await;
    let preflight = app
        .send(
            reqwest::Client::new()
                .request(reqwest::Method::OPTIONS, app.url("/v1/products"))
                .header("origin", "https://shop.example.com")
                .header("access-control-request-method", "GET"),
        )
        .await;
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    let read = app
        .send(
            app.client
                .get(app.url("/v1/products"))
                .header("origin", "https://shop.example.com"),
        )
        .await;
    read.assert_status(200);
    assert_eq!(read.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn metrics_on_an_address_of_their_own_are_not_on_the_api_listener() {
    let metrics_addr = stockflow_testkit::free_address();
    let app = TestApp::spawn_with(|config| {
        config.web.metrics_addr = Some(metrics_addr.to_string());
    })
    .await;
    app.get("/metrics").await.assert_problem(404, "not_found");
    let scraped = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .expect("the metrics listener answers");
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.expect("a body");
    assert!(text.contains("stockflow_feed_streams"), "{text}");
    app.get("/healthz").await.assert_status(200);
}
