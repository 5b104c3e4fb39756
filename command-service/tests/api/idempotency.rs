//! Idempotency-Key: a retry gets the first outcome again, byte for byte; the key with another
//! request is refused.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_replays_the_first_outcome() {
    let app = TestApp::spawn().await;
    app.register("IDEM-1", 10, "reject").await;
    let body = json!({"customer_id": "c1", "lines": [{"sku": "IDEM-1", "quantity": 2}]});
    let key = [("Idempotency-Key", "order-attempt-42")];

    let first = app.post_with("/v1/orders", body.clone(), &key).await;
    first.assert_status(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let events_after_first = app.events().await.len();

    let retry = app.post_with("/v1/orders", body.clone(), &key).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        retry.text, first.text,
        "a replay must be the identical body"
    );
    assert_eq!(
        app.events().await.len(),
        events_after_first,
        "the retry wrote events"
    );

    let other = app
        .post_with(
            "/v1/orders",
            json!({"customer_id": "c1", "lines": [{"sku": "IDEM-1", "quantity": 3}]}),
            &key,
        )
        .await;
    other.assert_problem(422, "idempotency_key_reused");
    assert_eq!(app.events().await.len(), events_after_first);
}

#[tokio::test]
async fn a_refusal_is_the_outcome_replayed_even_after_the_state_changed() {
    let app = TestApp::spawn().await;
    app.register("IDEM-2", 1, "reject").await;
    let body = json!({"customer_id": "c1", "lines": [{"sku": "IDEM-2", "quantity": 5}]});
    let key = [("Idempotency-Key", "k-refused")];
    let first = app.post_with("/v1/orders", body.clone(), &key).await;
    first.assert_problem(422, "insufficient_stock");

    app.receive("IDEM-2", 100).await.assert_status(200);
    let retry = app.post_with("/v1/orders", body, &key).await;
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.text, first.text);
    retry.assert_problem(422, "insufficient_stock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_key_write_once() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.register("IDEM-3", 1000, "reject").await;
    let body = json!({"customer_id": "c1", "lines": [{"sku": "IDEM-3", "quantity": 1}]});
    // Unkeyed orders keep the writer busy, so keyed retries queue up and several of them land
    // in one batch, where they must wait for the first one's outcome.
    let mut background = Vec::new();
    let mut keyed = Vec::new();
    for _ in 0..30 {
        let app_b = app.clone();
        let body_b = body.clone();
        background.push(tokio::spawn(async move {
            app_b.post("/v1/orders", body_b).await.status
        }));
        let app_k = app.clone();
        let body_k = body.clone();
        keyed.push(tokio::spawn(async move {
            app_k
                .post_with("/v1/orders", body_k, &[("Idempotency-Key", "same-key")])
                .await
        }));
    }
    let mut bodies = Vec::new();
    let mut replayed = 0;
    for task in keyed {
        let response = task.await.expect("finished");
        response.assert_status(201);
        replayed += usize::from(response.header("idempotent-replayed") == Some("true"));
        bodies.push(response.text);
    }
    for task in background {
        assert_eq!(task.await.expect("finished"), 201);
    }
    assert_eq!(replayed, 29, "exactly the first request is not a replay");
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "every answer is the one outcome"
    );
    let (_, orders) = app.replay().await;
    assert_eq!(
        orders.len(),
        31,
        "one order per unkeyed request, one for the key"
    );
}

#[tokio::test]
async fn malformed_keys_are_refused() {
    let app = TestApp::spawn().await;
    let long = "k".repeat(129);
    for key in ["has space", long.as_str(), "tab\tkey"] {
        let response = app
            .post_with(
                "/v1/products/X/receipts",
                json!({"quantity": 1}),
                &[("Idempotency-Key", key)],
            )
            .await;
        let problem = response.assert_problem(400, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    }
}
