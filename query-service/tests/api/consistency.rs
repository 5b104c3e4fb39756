//! Read your writes (docs/guarantees.md §5, docs/api.md): `min_position` waits for the read models, wakes on the
//! projector's notification, gives up with 503 projection_lagging, and every answer says
//! which position it reflects.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::helpers::{TestApp, product};

/// A service that re-reads the position only once a minute, so only a notification (or a
/// reconnect of the listener) can end a wait within a test.
async fn spawn_listening_only() -> TestApp {
    TestApp::spawn_with(|config| {
        config.projection_poll_interval_ms = 60_000;
        config.min_position_timeout_ms = 4_000;
    })
    .await
}

#[tokio::test]
async fn every_answer_carries_the_position_it_reflects() {
    let app = TestApp::spawn().await;
    app.seed_product(&product("A")).await;
    app.advance(7).await;
    // Once the service knows of 7, every kind of answer says so.
    app.get("/v1/projections?min_position=7").await.assert_ok();
    let client = &app.client;
    let requests = [
        client.get(app.url("/v1/products/A")),
        client.get(app.url("/v1/products/MISSING")),
        client.get(app.url("/v1/products?limit=0")),
        client.get(app.url("/v1/products")),
        client.get(app.url("/v1/orders")),
        client.get(app.url("/v1/orders/not-a-uuid")),
        client.get(app.url("/v1/customers/nobody")),
        client.get(app.url("/v1/analytics/sales")),
        client
            .get(app.url("/v1/analytics/sales"))
            .header("accept", "text/csv"),
        client.get(app.url("/v1/replenishments")),
        client.get(app.url("/v1/projections")),
        client.get(app.url("/v1/nowhere")),
        client.post(app.url("/v1/products")),
        client.get(app.url("/healthz")),
        client.get(app.url("/readyz")),
    ];
    for request in requests {
        let response = app.send(request).await;
        assert_eq!(
            response.projection_position(),
            7,
            "{} {}",
            response.status,
            response.text
        );
    }
    app.get("/v1/nowhere")
        .await
        .assert_problem(404, "not_found");
    app.send(client.post(app.url("/v1/products")))
        .await
        .assert_problem(405, "method_not_allowed");
}

#[tokio::test]
async fn a_request_waits_for_min_position_and_sees_the_write_that_reached_it() {
    let app = spawn_listening_only().await;
    app.advance(5).await;
    // Nothing is waiting yet, and no timer runs: the notification alone moved it.
    let now = app.get("/v1/products?min_position=5").await;
    assert_eq!(now.projection_position(), 5);

    let url = app.url("/v1/products/FRESH?min_position=9");
    let waiting = tokio::spawn({
        let client = app.client.clone();
        async move {
            let started = Instant::now();
            let response = client.get(url).send().await.expect("an answer");
            (started.elapsed(), response)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the request must wait for position 9"
    );

    // The projector's commit: the product and the new position together, with the notify.
    let mut db = app.db().await;
    let mut tx = db.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO read.products (sku, name, unit_price_cents, currency, backorder_policy, \
             status, on_hand, reserved, available, backordered, version, updated_at) \
         VALUES ('FRESH', 'Fresh', 100, 'EUR', 'reject', 'active', 1, 0, 1, 0, 1, now())",
    )
    .execute(&mut *tx)
    .await
    .expect("insert");
    sqlx::query("UPDATE read.projections SET position = 9, updated_at = now()")
        .execute(&mut *tx)
        .await
        .expect("advance");
    sqlx::query("SELECT pg_notify('stockflow_projections', '9')")
        .execute(&mut *tx)
        .await
        .expect("notify");
    tx.commit().await.expect("commit");

    let (elapsed, response) = waiting.await.expect("the request task");
    assert_eq!(
        response.status(),
        200,
        "the write is visible once 9 is reached"
    );
    assert_eq!(
        response.headers()["x-projection-position"].to_str().ok(),
        Some("9")
    );
    assert!(
        elapsed >= Duration::from_millis(300),
        "it waited: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "woken by the notification: {elapsed:?}"
    );
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["sku"], "FRESH");
}

#[tokio::test]
async fn the_x_min_position_header_waits_too() {
    let app = spawn_listening_only().await;
    let waiting = tokio::spawn({
        let request = app
            .client
            .get(app.url("/v1/orders"))
            .header("X-Min-Position", "3");
        async move { request.send().await.expect("an answer") }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished());
    app.advance(3).await;
    let response = waiting.await.expect("the request task");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-projection-position"].to_str().ok(),
        Some("3")
    );
}

#[tokio::test]
async fn a_position_already_reached_answers_at_once() {
    let app = TestApp::spawn().await;
    app.advance(4).await;
    app.get("/v1/orders?min_position=4").await.assert_ok();
    let started = Instant::now();
    let response = app.get("/v1/orders?min_position=2").await;
    response.assert_ok();
    assert_eq!(response.projection_position(), 4);
    let response = app.get("/v1/orders?min_position=0").await;
    response.assert_ok();
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_position_not_reached_in_time_is_503_projection_lagging_with_retry_after() {
    let app = TestApp::spawn_with(|config| config.min_position_timeout_ms = 400).await;
    app.advance(2).await;
    app.get("/v1/products?min_position=2").await.assert_ok();

    let started = Instant::now();
    let response = app.get("/v1/products?min_position=50").await;
    let elapsed = started.elapsed();
    let problem = response.assert_problem(503, "projection_lagging");
    assert_eq!(problem["min_position"], 50);
    assert_eq!(problem["position"], 2);
    assert!(
        response.header("retry-after").is_some(),
        "{:?}",
        response.headers
    );
    assert_eq!(response.projection_position(), 2);
    assert!(
        elapsed >= Duration::from_millis(400),
        "it waited: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "then gave up: {elapsed:?}"
    );

    // The header form times out the same way; the larger of the two is what is waited for.
    let response = app
        .get_with("/v1/products?min_position=1", &[("X-Min-Position", "60")])
        .await;
    assert_eq!(
        response.assert_problem(503, "projection_lagging")["min_position"],
        60
    );
}

#[tokio::test]
async fn a_lost_notification_is_caught_up_by_the_timer() {
    let app = TestApp::spawn_with(|config| {
        config.projection_poll_interval_ms = 200;
        config.min_position_timeout_ms = 4_000;
    })
    .await;
    app.advance_silently(6).await;
    let started = Instant::now();
    let response = app.get("/v1/products?min_position=6").await;
    response.assert_ok();
    assert_eq!(response.projection_position(), 6);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_listener_reconnects_and_catches_up_after_losing_its_connection() {
    let app = spawn_listening_only().await;
    wait_until_listening(&app).await;

    let mut db = app.db().await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
          WHERE datname = current_database() AND query LIKE 'LISTEN%stockflow_projections%' \
            AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut db)
    .await
    .expect("terminate the listener");
    assert_eq!(killed, [true], "one listening connection");

    // Advanced and notified at once, likely while nobody listens: the reconnect's re-read
    // must find it, since the timer will not run within the test.
    app.advance(11).await;
    let response = app.get("/v1/products?min_position=11").await;
    response.assert_ok();
    assert_eq!(response.projection_position(), 11);

    // And notifications arrive again afterwards.
    wait_until_listening(&app).await;
    app.advance(12).await;
    let response = app.get("/v1/products?min_position=12").await;
    response.assert_ok();
}

async fn wait_until_listening(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ready = app.get("/readyz").await;
        if ready.body["checks"]["notifications"] == "listening" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the listener never listened: {}",
            ready.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
