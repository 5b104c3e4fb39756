//! A downstream subscriber as an external team would write it (examples/supplier-notifier),
//! on the stack's exchange with a queue of its own: the supplier hears of each replenishment
//! stockflow requests, with the right sku, quantity and order, exactly once, even when
//! RabbitMQ delivers the message twice.

use std::time::Duration;

use serde_json::json;
use stockflow_e2e::Stack;
use supplier_notifier::{Config, Replenishment, Summary};
use tokio::sync::mpsc;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(10);

async fn next_request(requests: &mut mpsc::UnboundedReceiver<Replenishment>) -> Replenishment {
    tokio::time::timeout(WAIT, requests.recv())
        .await
        .expect("the supplier hears of the replenishment within 10 s")
        .expect("the notifier is running")
}

async fn place_order(stack: &Stack, sku: &str, quantity: i64) -> (Uuid, serde_json::Value) {
    let placed = stack
        .command(
            "/v1/orders",
            json!({"customer_id": "supplied", "lines": [{"sku": sku, "quantity": quantity}]}),
        )
        .await;
    let body = placed.ok().clone();
    let order_id = body["order_id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
        .expect("an order id");
    (order_id, body)
}

#[tokio::test]
async fn the_supplier_hears_of_each_replenishment_exactly_once() {
    let stack = Stack::spawn().await;
    let queue = format!("{}.supplier-notifier", stack.exchange);
    let (sender, mut requests) = mpsc::unbounded_channel();
    let notifier = supplier_notifier::start(
        Config {
            amqp_url: stockflow_testkit::amqp_url(),
            exchange: stack.exchange.clone(),
            queue: queue.clone(),
            // Goes with the notifier, so the test leaves nothing behind.
            auto_delete: true,
        },
        move |request| {
            let _ = sender.send(request.clone());
        },
    )
    .await
    .expect("the notifier subscribes");

    stack
        .command(
            "/v1/products",
            json!({"sku": "BOLT-7", "name": "Bolt", "unit_price_cents": 40, "currency": "EUR",
                   "initial_stock": 5, "backorder_policy": "backorder"}),
        )
        .await
        .ok();
    // 12 wanted, 5 there: 7 short, and the supplier is asked for ceil(7 × 1.2) = 9.
    let (order_id, placed) = place_order(&stack, "BOLT-7", 12).await;
    assert_eq!(placed["status"], "backordered");
    assert_eq!(
        placed["replenishments"],
        json!([{"sku": "BOLT-7", "quantity": 9}])
    );

    let request = next_request(&mut requests).await;
    assert_eq!(
        (
            request.sku.as_str(),
            request.quantity,
            request.shortfall,
            request.order_id
        ),
        ("BOLT-7", 9, 7, order_id)
    );

    // RabbitMQ delivers the same message again (a lost ack, a reconnect).
    let events = stack.events().await;
    let requested: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "product.replenishment_requested")
        .collect();
    assert_eq!(requested.len(), 1, "one replenishment in the store");
    assert_eq!(requested[0].event_id, request.event_id);
    stack.publish_event(requested[0]).await;

    // A later request, published after the duplicate was confirmed: once the notifier has it,
    // it has handled the duplicate (one queue, one consumer, in order). 3 more wanted, none
    // available: ceil(3 × 1.2) = 4.
    let (later_order_id, _) = place_order(&stack, "BOLT-7", 3).await;
    let later = next_request(&mut requests).await;
    assert_eq!(
        (
            later.sku.as_str(),
            later.quantity,
            later.shortfall,
            later.order_id
        ),
        ("BOLT-7", 4, 3, later_order_id),
        "the supplier was told of the first request twice"
    );
    assert!(
        requests.try_recv().is_err(),
        "the supplier was told of more than the two requests"
    );

    let summary = notifier.stop().await;
    assert_eq!(
        summary,
        Summary {
            notified: 2,
            duplicates: 1,
            refused: 0
        },
        "the redelivery reached the notifier and was skipped"
    );

    let deadline = tokio::time::Instant::now() + WAIT;
    while stockflow_testkit::inspect_queue(&queue).await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notifier's queue {queue} outlived it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
