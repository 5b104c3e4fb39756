//! A downstream subscriber as an external team would write it (examples/supplier-notifier),
//! on the stack's exchange with a queue of its own: the supplier hears of each replenishment
//! stockflow requests, with the right sku, quantity and order, exactly once, even when
//! RabbitMQ delivers the message twice; and a notifier that joins late, restarts or loses its
//! queue catches up from the event feed, missing and doubling nothing.

use std::time::Duration;

use serde_json::json;
use stockflow_e2e::Stack;
use stockflow_edge::{Scope, mint_token};
use supplier_notifier::{Config, Feed, Outbox, Replenishment, Summary};
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

fn scratch_outbox() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("supplier-notifier-{}.jsonl", Uuid::now_v7()))
}

#[tokio::test]
async fn the_supplier_hears_of_each_replenishment_exactly_once() {
    let stack = Stack::spawn().await;
    let queue = format!("{}.supplier-notifier", stack.exchange);
    let (sender, mut requests) = mpsc::unbounded_channel();
    let notifier = supplier_notifier::start(
        Config {
            // A list, as a cluster's nodes are given: the one that is down is passed over.
            amqp_url: format!(
                "amqp://guest:guest@{}/%2f, {}",
                stockflow_testkit::free_address(),
                stockflow_testkit::amqp_url()
            ),
            exchange: stack.exchange.clone(),
            queue: queue.clone(),
            // Goes with the notifier, so the test leaves nothing behind.
            auto_delete: true,
            outbox: scratch_outbox(),
            feed: None,
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
            caught_up: 0,
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

/// The requests in the outbox once it holds `count` (or fails after 10 s).
async fn outbox_with(path: &std::path::Path, count: usize) -> Vec<Replenishment> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let recorded = Outbox::read_all(path).expect("the outbox reads");
        if recorded.len() >= count {
            return recorded;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox holds {} requests, not {count}, after 10 s",
            recorded.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_notifier_that_joins_late_restarts_and_loses_its_queue_passes_each_request_on_once() {
    let stack = Stack::spawn().await;
    let queue = format!("{}.late-notifier", stack.exchange);
    let outbox = scratch_outbox();
    let config = Config {
        amqp_url: stockflow_testkit::amqp_url(),
        exchange: stack.exchange.clone(),
        queue: queue.clone(),
        // Kept while the notifier is down, as a real one keeps it; deleted by the test.
        auto_delete: false,
        outbox: outbox.clone(),
        feed: Some(Feed {
            url: stack.query_url(""),
            token: mint_token(
                stockflow_testkit::TEST_SECRET,
                "supplier-notifier",
                &[Scope::EventsRead],
                Duration::from_secs(600),
            ),
        }),
    };
    stack
        .command(
            "/v1/products",
            json!({"sku": "NUT-3", "name": "Nut", "unit_price_cents": 10, "currency": "EUR",
                   "initial_stock": 0, "backorder_policy": "backorder"}),
        )
        .await
        .ok();

    // Three requests before the notifier (or its queue) exists.
    for quantity in 1..=3 {
        place_order(&stack, "NUT-3", quantity).await;
    }
    let notifier = supplier_notifier::start(config.clone(), |_| {})
        .await
        .expect("the notifier subscribes");
    outbox_with(&outbox, 3).await;
    // Two more, live.
    for quantity in 4..=5 {
        place_order(&stack, "NUT-3", quantity).await;
    }
    outbox_with(&outbox, 5).await;
    let first_run = notifier.stop().await;
    assert_eq!(
        (first_run.notified, first_run.caught_up),
        (5, 3),
        "the first three came from the feed, the rest from the queue"
    );

    // Down: two requests wait in its queue; then the queue is lost with them, and two more
    // are published with no queue to hold them.
    for quantity in 6..=7 {
        place_order(&stack, "NUT-3", quantity).await;
    }
    stockflow_testkit::delete_queue(&queue).await;
    for quantity in 8..=9 {
        place_order(&stack, "NUT-3", quantity).await;
    }
    // And a request it handled long ago is delivered again.
    let events = stack.events().await;
    let first_request = events
        .iter()
        .find(|e| e.event_type == "product.replenishment_requested")
        .expect("a request in the store");
    let notifier = supplier_notifier::start(config.clone(), |_| {})
        .await
        .expect("the notifier subscribes again");
    stack.publish_event(first_request).await;
    place_order(&stack, "NUT-3", 10).await;
    outbox_with(&outbox, 10).await;
    // Anything still in flight would show within a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second_run = notifier.stop().await;
    assert_eq!(
        (second_run.notified, second_run.caught_up),
        (5, 4),
        "the four it missed came from the feed, the last from the queue"
    );

    let expected: Vec<(i64, Uuid)> = stack
        .events()
        .await
        .iter()
        .filter(|e| e.event_type == "product.replenishment_requested")
        .map(|e| (e.position, e.event_id))
        .collect();
    assert_eq!(expected.len(), 10, "one request per order");
    let recorded: Vec<(i64, Uuid)> = Outbox::read_all(&outbox)
        .expect("the outbox reads")
        .iter()
        .map(|r| (r.position, r.event_id))
        .collect();
    assert_eq!(
        recorded, expected,
        "every request passed on once, in order, across a late start, a restart and a lost queue"
    );

    stockflow_testkit::delete_queue(&queue).await;
    let _ = std::fs::remove_file(&outbox);
}
