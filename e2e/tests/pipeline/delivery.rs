//! What RabbitMQ may do to the projector's messages (docs/events.md, docs/guarantees.md §4): deliver one twice, lose
//! some so that a later one skips ahead, or carry something that is not an event at all. The
//! relay is off where a test needs to be the only publisher.

use std::time::Duration;

use serde_json::json;
use stockflow_e2e::{Options, Stack};
use uuid::Uuid;

use crate::checks::assert_read_models_match_the_store;

const WAIT: Duration = Duration::from_secs(10);

/// A stack whose command service writes to the store and publishes nothing, and whose
/// projector has already caught up with the (empty) store: from here on, only what the test
/// publishes can move the read models.
async fn silent_stack() -> Stack {
    let stack = Stack::with(Options {
        relay: false,
        ..Options::default()
    })
    .await;
    stack.wait_for_consumer(WAIT).await;
    stack
}

/// The position the read models have reached, as the query API reports it.
async fn projected(stack: &Stack) -> i64 {
    stack.query("/v1/projections").await.ok()["position"]
        .as_i64()
        .expect("a position")
}

#[tokio::test]
async fn the_same_message_delivered_twice_counts_once() {
    let stack = silent_stack().await;
    stack
        .command(
            "/v1/products",
            json!({"sku": "DUP", "name": "Duplicated", "unit_price_cents": 500, "currency": "EUR", "initial_stock": 10}),
        )
        .await
        .ok();
    let order = stack
        .command(
            "/v1/orders",
            json!({"customer_id": "twice", "lines": [{"sku": "DUP", "quantity": 3}]}),
        )
        .await;
    order.ok();
    let events = stack.events().await;
    assert_eq!(
        projected(&stack).await,
        0,
        "the read models moved before anything was published"
    );

    for event in &events {
        stack.publish_event(event).await;
    }
    // Redeliveries: the order placement (a delta on the customer and on sales if applied
    // twice) and the registration (which would reset the product's reserved units).
    let placed = events
        .iter()
        .find(|e| e.event_type == "order.placed")
        .expect("an order.placed event");
    let registered = events
        .iter()
        .find(|e| e.event_type == "product.registered")
        .expect("a product.registered event");
    stack.publish_event(placed).await;
    stack.publish_event(registered).await;
    // A later event, published after the duplicates: once it is projected, so are they
    // (one queue, one active consumer, in order).
    let marker = stack
        .command(
            "/v1/products",
            json!({"sku": "MARKER", "name": "Marker", "unit_price_cents": 1, "currency": "EUR"}),
        )
        .await;
    marker.ok();
    let marker_event = stack
        .events()
        .await
        .into_iter()
        .find(|e| e.position == marker.position())
        .expect("the marker's event");
    stack.publish_event(&marker_event).await;
    stack.wait_for_projection(marker.position(), WAIT).await;

    let head = stack.head().await;
    let customer = stack.query_at("/v1/customers/twice", head).await;
    assert_eq!(customer.ok()["order_count"], 1, "the customer's orders");
    assert_eq!(customer.ok()["lifetime_value"]["EUR"], 1_500);
    let sales = stack
        .query_at("/v1/analytics/sales?group_by=day", head)
        .await;
    let rows = sales.ok()["rows"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 1, "one day, one currency: {rows:?}");
    assert_eq!(rows[0]["orders"], 1, "orders that day");
    assert_eq!(rows[0]["units"], 3, "units that day");
    let product = stack.query_at("/v1/products/DUP", head).await;
    assert_eq!(
        (
            product.ok()["on_hand"].as_i64(),
            product.ok()["reserved"].as_i64()
        ),
        (Some(10), Some(3)),
        "the product's stock (on hand, reserved)"
    );
    assert_eq!(stack.dead_letters().await, 0, "a duplicate is not poison");
    assert_read_models_match_the_store(&stack).await;
}

#[tokio::test]
async fn a_message_whose_position_skips_ahead_makes_the_projector_fill_the_gap_from_the_store() {
    let stack = silent_stack().await;
    for (sku, policy) in [("GAP-R", "reject"), ("GAP-B", "backorder")] {
        stack
            .command(
                "/v1/products",
                json!({"sku": sku, "name": sku, "unit_price_cents": 200, "currency": "EUR",
                       "initial_stock": 5, "backorder_policy": policy}),
            )
            .await
            .ok();
    }
    let shipped = stack
        .command(
            "/v1/orders",
            json!({"customer_id": "gap", "lines": [{"sku": "GAP-R", "quantity": 2}]}),
        )
        .await;
    let shipped = shipped.ok()["order_id"].as_str().expect("an id").to_owned();
    let backordered = stack
        .command(
            "/v1/orders",
            json!({"customer_id": "gap", "lines": [{"sku": "GAP-B", "quantity": 8}, {"sku": "GAP-R", "quantity": 1}]}),
        )
        .await;
    assert_eq!(backordered.ok()["status"], "backordered");
    stack
        .command(
            &format!("/v1/orders/{shipped}/ship"),
            json!({"carrier": "DHL", "tracking_number": "GAP1"}),
        )
        .await
        .ok();
    stack
        .command("/v1/products/GAP-B/receipts", json!({"quantity": 10}))
        .await
        .ok();

    let events = stack.events().await;
    assert!(
        events.len() >= 10,
        "only {} events; the gap should be wide",
        events.len()
    );
    assert_eq!(projected(&stack).await, 0, "the read models moved early");
    let last = events.last().expect("events");
    stack.publish_event(last).await;

    stack.wait_for_projection(last.position, WAIT).await;
    assert_eq!(
        projected(&stack).await,
        last.position,
        "the read models went past the last event"
    );
    let order = stack
        .query_at(&format!("/v1/orders/{shipped}"), last.position)
        .await;
    assert_eq!(
        order.ok()["status"],
        "shipped",
        "an event from inside the gap"
    );
    assert_eq!(stack.dead_letters().await, 0);
    assert_read_models_match_the_store(&stack).await;
}

#[tokio::test]
async fn garbage_on_the_queue_is_dead_lettered_while_later_events_still_project() {
    let stack = Stack::spawn().await;
    let registered = stack
        .command(
            "/v1/products",
            json!({"sku": "POISON", "name": "Poison", "unit_price_cents": 300, "currency": "EUR", "initial_stock": 50}),
        )
        .await;
    registered.ok();
    stack.wait_for_projection(registered.position(), WAIT).await;
    let head = stack.head().await;

    // Each poison message below gives a position far ahead of the store. The projector must
    // reject a message as a whole before it trusts anything in it: were the position of an
    // unknown event believed, the checkpoint could leap past events still to come, which
    // would then be skipped as duplicates. A position of 0 would test less: any message at
    // or below the checkpoint is dropped whether it decodes or not.
    let far_ahead = head + 1_000_000;
    let template = stack.events().await[0].to_cloud_event();
    let unknown_type = json!({
        "specversion": "1.0", "id": Uuid::now_v7(), "source": "/stockflow",
        "type": "com.stockflow.order.teleported.v1", "subject": format!("order-{}", Uuid::now_v7()),
        "time": template.time.clone(), "datacontenttype": "application/json",
        "data": {"to": "the moon"}, "position": far_ahead, "streamversion": 1,
    });
    let mut wrong_payload = serde_json::to_value(&template).expect("serializes");
    wrong_payload["id"] = json!(Uuid::now_v7());
    wrong_payload["position"] = json!(far_ahead + 1);
    wrong_payload["data"] = json!({"sku": 42});
    let poison: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xffnot json".to_vec()),
        ("order.placed", br#"{"hello": "not a CloudEvent"}"#.to_vec()),
        ("order.teleported", unknown_type.to_string().into_bytes()),
        ("product.registered", wrong_payload.to_string().into_bytes()),
    ];
    for (routing_key, body) in &poison {
        stack.publish(routing_key, body).await;
    }

    // Later commands, relayed as usual, still reach the read models.
    let mut last = 0;
    for round in 1..=5 {
        let receipt = stack
            .command("/v1/products/POISON/receipts", json!({"quantity": 1}))
            .await;
        receipt.ok();
        last = receipt.position();
        let product = stack.query_at("/v1/products/POISON", last).await;
        assert_eq!(
            product.ok()["on_hand"],
            50 + round,
            "round {round}: the receipt did not project"
        );
    }
    let order = stack
        .command(
            "/v1/orders",
            json!({"customer_id": "after-poison", "lines": [{"sku": "POISON", "quantity": 4}]}),
        )
        .await;
    let id = order.ok()["order_id"].as_str().expect("an id").to_owned();
    let served = stack
        .query_at(&format!("/v1/orders/{id}"), order.position())
        .await;
    assert_eq!(served.ok()["status"], "ready");
    assert!(order.position() > last);

    // Each is recorded in the store (the poison may still be on its way there).
    let expected = u32::try_from(poison.len()).expect("a few");
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut dead = stack.dead_letters().await;
    while dead < expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        dead = stack.dead_letters().await;
    }
    assert_eq!(
        dead, expected,
        "every poison message, and nothing else, is dead-lettered"
    );
    let mut kinds = stack.dead_letter_kinds().await;
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["bad_payload", "undecodable", "undecodable", "unknown_type"],
        "each kept in the store with why"
    );
    assert_eq!(
        projected(&stack).await,
        stack.head().await,
        "the checkpoint is the store's head, not a poison message's position"
    );
    assert_read_models_match_the_store(&stack).await;
}

/// A command's events are appended in one transaction; the read models never show part of
/// one, even when only its first event arrives.
#[tokio::test]
async fn the_projector_never_stops_inside_a_transaction() {
    let stack = silent_stack().await;
    stack
        .command(
            "/v1/products",
            json!({"sku": "TX", "name": "Atomic", "unit_price_cents": 500, "currency": "EUR", "initial_stock": 2, "backorder_policy": "backorder"}),
        )
        .await
        .ok();
    let order = stack
        .command(
            "/v1/orders",
            json!({"customer_id": "atomic", "lines": [{"sku": "TX", "quantity": 5}]}),
        )
        .await;
    let order_position = order.position();
    let events = stack.events().await;
    let placed = events
        .iter()
        .find(|e| e.event_type == "order.placed")
        .expect("the order was placed");
    assert!(
        placed.commit_position > placed.position,
        "the placement is not the last event of its transaction"
    );

    // Only the registration and the order's first event are delivered.
    stack.publish_event(&events[0]).await;
    stack.publish_event(placed).await;
    stack.wait_for_projection(placed.position, WAIT).await;

    assert_eq!(
        projected(&stack).await,
        order_position,
        "the read models stopped inside the order's transaction"
    );
    let product = stack.query("/v1/products/TX").await;
    let product = product.ok();
    assert_eq!(
        (
            product["reserved"].as_i64(),
            product["backordered"].as_i64()
        ),
        (Some(2), Some(3))
    );
    let replenishments = stack.query("/v1/replenishments?sku=TX").await;
    assert_eq!(replenishments.ok()["items"][0]["quantity"], 4);
}
