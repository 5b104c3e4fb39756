//! A graceful stop under load (SIGTERM takes the same path): requests in flight are answered,
//! what was answered is committed, what was not answered was not written, and the relay
//! publishes everything committed before it exits.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_under_load_loses_nothing_and_writes_nothing_unanswered() {
    let mut app = TestApp::spawn().await;
    let mut subscriber = app.subscribe().await;
    app.register("DRAIN", 1_000_000, "reject").await;

    let url = app.url("/v1/orders");
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let client = app.client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                // Spread over ~200 ms, so the stop lands in the middle of the traffic.
                tokio::time::sleep(Duration::from_micros(500 * i)).await;
                let id = Uuid::now_v7();
                let body = json!({"order_id": id, "customer_id": "drain", "lines": [{"sku": "DRAIN", "quantity": 1}]});
                let status = client.post(&url).json(&body).send().await.ok().map(|r| r.status().as_u16());
                (id, status)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.stop().await;

    let mut answered = BTreeSet::new();
    let mut unanswered = 0;
    for task in tasks {
        match task.await.expect("the request task finished") {
            (id, Some(201)) => {
                answered.insert(id);
            }
            (_, Some(status)) => panic!("a request in flight during the stop got {status}"),
            (_, None) => unanswered += 1,
        }
    }
    assert!(
        !answered.is_empty(),
        "the stop came before any request was answered"
    );
    assert!(
        unanswered > 0,
        "the stop came after all requests: it was not under load"
    );

    let (_, orders) = app.replay().await;
    let stored: BTreeSet<Uuid> = orders.keys().copied().collect();
    assert_eq!(
        stored, answered,
        "the store holds exactly the orders that were answered 201"
    );

    // The relay drained before the service exited: every committed event was published.
    let head = app.events().await.len();
    let received = subscriber
        .receive_until(Duration::from_secs(20), |received| {
            received
                .iter()
                .map(|m| m.event.position)
                .collect::<HashSet<_>>()
                .len()
                >= head
        })
        .await;
    assert!(received.len() >= head);
}
