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

#[tokio::test]
async fn concurrent_requests_with_one_key_write_once() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.register("IDEM-3", 100, "reject").await;
    let body = json!({"customer_id": "c1", "lines": [{"sku": "IDEM-3", "quantity": 1}]});
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            let body = body.clone();
            tokio::spawn(async move {
                app.post_with("/v1/orders", body, &[("Idempotency-Key", "same-key")])
                    .await
            })
        })
        .collect();
    let mut bodies = Vec::new();
    let mut replayed = 0;
    for task in tasks {
        let response = task.await.expect("finished");
        response.assert_status(201);
        replayed += usize::from(response.header("idempotent-replayed") == Some("true"));
        bodies.push(response.text);
    }
    assert_eq!(replayed, 9, "exactly the first request is not a replay");
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "every answer is the one outcome"
    );
    let (_, orders) = app.replay().await;
    assert_eq!(orders.len(), 1, "one key, one order");
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
