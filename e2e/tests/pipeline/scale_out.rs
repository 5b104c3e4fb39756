//! Several instances of each service on one store: one relay publishes, one projector
//! consumes, and nothing is published or applied twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use stockflow_e2e::Stack;
use stockflow_testkit::Running;

use crate::checks::assert_read_models_match_the_store;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_command_services_and_two_projectors_publish_and_apply_each_event_once() {
    let stack = Arc::new(Stack::spawn().await);

    let mut second_commands = Running::start(
        stockflow_command_service::App::build(stack.command_config())
            .await
            .expect("a second command service starts"),
    );
    let second_url = second_commands.url("");
    let mut second_projector = Running::start(
        stockflow_projector::App::build(stack.projector_config())
            .await
            .expect("a second projector starts"),
    );

    // A subscriber of its own, to count what is published.
    let mut subscriber = stockflow_testkit::Subscriber::bind(&stack.exchange).await;

    stack
        .command("/v1/products", json!({"sku": "SCALE", "name": "n", "unit_price_cents": 10, "currency": "EUR", "initial_stock": 1000, "backorder_policy": "backorder"}))
        .await
        .ok();
    // Commands through both services, concurrently.
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let stack = stack.clone();
            let second_url = second_url.clone();
            tokio::spawn(async move {
                let (path, body) = if i % 5 == 0 {
                    ("/v1/products/SCALE/receipts".to_owned(), json!({"quantity": 3}))
                } else {
                    ("/v1/orders".to_owned(), json!({"customer_id": format!("c{}", i % 7), "lines": [{"sku": "SCALE", "quantity": 2}]}))
                };
                let url = if i % 2 == 0 { stack.command_url(&path) } else { format!("{second_url}{path}") };
                let response = stack.client.post(url).json(&body).send().await.expect("answers");
                assert!(response.status().is_success(), "{}", response.text().await.unwrap_or_default());
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("finished");
    }
    let head = stack.head().await;
    stack
        .wait_for_projection(head, Duration::from_secs(30))
        .await;
    assert_read_models_match_the_store(&stack).await;

    // Every event once: take what arrives until the head is covered and a quiet second passes.
    let received = subscriber
        .receive_until_quiet(
            Duration::from_secs(30),
            Duration::from_secs(1),
            |received| {
                received
                    .iter()
                    .map(|r| r.event.position)
                    .collect::<HashSet<_>>()
                    .len() as i64
                    >= head
            },
        )
        .await;
    let ids: Vec<_> = received.iter().map(|r| r.event.id).collect();
    let distinct: HashSet<_> = ids.iter().collect();
    assert_eq!(
        ids.len(),
        distinct.len(),
        "{} events were published more than once",
        ids.len() - distinct.len()
    );
    assert_eq!(distinct.len() as i64, head);

    tokio::join!(second_commands.stop(), second_projector.stop());
}
