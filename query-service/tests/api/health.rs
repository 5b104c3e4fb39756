//! /healthz and /readyz: alive, and ready unless PostgreSQL is gone or a projection stopped.

use crate::helpers::TestApp;

#[tokio::test]
async fn the_service_is_alive_and_ready() {
    let app = TestApp::spawn().await;
    let alive = app.get("/healthz").await;
    assert_eq!(alive.assert_ok()["status"], "ok");
    let ready = app.get("/readyz").await;
    let body = ready.assert_ok();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["postgres"], "ok");
    assert_eq!(body["checks"]["projections"]["state"], "running");
}

#[tokio::test]
async fn a_stopped_projection_makes_the_service_unready_and_says_why() {
    let app = TestApp::spawn().await;
    app.exec(
        "UPDATE read.projections SET status = 'stopped', \
             last_error = 'event 41 cannot be applied: unknown order' WHERE name = 'orders'",
    )
    .await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.body["status"], "not_ready");
    assert!(
        ready.body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("projection")),
        "{}",
        ready.text
    );
    let stopped = &ready.body["checks"]["projections"]["stopped"];
    assert_eq!(stopped[0]["name"], "orders");
    assert_eq!(
        stopped[0]["last_error"],
        "event 41 cannot be applied: unknown order"
    );
    // Liveness is another matter: restarting would not help.
    app.get("/healthz").await.assert_ok();
    // And queries still answer, with the position they reflect.
    app.get("/v1/projections").await.assert_ok();
}
