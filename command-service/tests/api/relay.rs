//! The relay: every committed event reaches a subscriber as a CloudEvent, in position order,
//! also when its broker connection is closed under it.

use std::collections::HashSet;
use std::time::Duration;

use crate::helpers::{Received, TestApp};

/// Asserts that the messages, deduplicated on id, are exactly the store's events, first seen in
/// position order, in the published form of docs/events.md.
async fn assert_delivered_exactly(app: &TestApp, received: &[Received]) {
    let stored = app.events().await;
    let mut seen = HashSet::new();
    let mut next_position = 1;
    for message in received {
        let event = &message.event;
        if !seen.insert(event.id) {
            assert!(
                event.position < next_position,
                "a duplicate of an event not yet delivered"
            );
            continue;
        }
        assert_eq!(
            event.position, next_position,
            "delivered out of order or with a gap"
        );
        next_position += 1;
        let truth = &stored[(event.position - 1) as usize];
        assert_eq!(event.id, truth.event_id);
        assert_eq!(event.subject, truth.stream_id);
        assert_eq!(event.streamversion, truth.stream_version);
        assert_eq!(event.data, truth.data);
        assert_eq!(event.specversion, "1.0");
        assert_eq!(
            event.event_type,
            format!("com.stockflow.{}.v{}", truth.event_type, truth.type_version)
        );
        assert_eq!(message.routing_key, truth.event_type);
        assert_eq!(
            message.content_type.as_deref(),
            Some("application/cloudevents+json")
        );
        assert_eq!(
            message.message_id.as_deref(),
            Some(truth.event_id.to_string().as_str())
        );
        assert_eq!(
            message.amqp_type.as_deref(),
            Some(event.event_type.as_str())
        );
        assert!(message.persistent, "messages must be persistent");
        assert_eq!(event.id.get_version_num(), 7, "event ids are UUID v7");
        assert!(event.correlationid.is_some() && event.causationid.is_some());
    }
    assert_eq!(
        next_position - 1,
        stored.len() as i64,
        "not every committed event was delivered"
    );
}

fn covers(head: i64) -> impl FnMut(&[Received]) -> bool {
    move |received| {
        received
            .iter()
            .map(|m| m.event.position)
            .collect::<HashSet<_>>()
            .len() as i64
            >= head
    }
}

#[tokio::test]
async fn every_committed_event_reaches_a_subscriber_in_order_as_a_cloudevent() {
    let app = TestApp::spawn().await;
    let mut subscriber = app.subscribe().await;
    app.register("RELAY-1", 3, "backorder").await;
    let placed = app.place("c1", &[("RELAY-1", 5)]).await;
    let order_id = placed.created_order_id();
    app.receive("RELAY-1", 10).await.assert_status(200);
    let head = app.ship(&order_id).await.assert_status(200)["position"]
        .as_i64()
        .expect("position");

    let received = subscriber
        .receive_until(Duration::from_secs(20), covers(head))
        .await;
    assert_delivered_exactly(&app, &received).await;
    let keys: Vec<&str> = received.iter().map(|m| m.routing_key.as_str()).collect();
    for key in [
        "product.registered",
        "order.placed",
        "product.stock_reserved",
        "product.stock_backordered",
        "product.replenishment_requested",
        "product.stock_received",
        "product.backorder_filled",
        "order.line_filled",
        "order.ready",
        "order.shipped",
        "product.stock_shipped",
    ] {
        assert!(keys.contains(&key), "no {key} among {keys:?}");
    }
}

/// The pid of the relay's connection, found by the name it gives itself. (The plain listing,
/// not the JSON one: only its pid form is accepted by `close_connection`.)
async fn relay_connection_pid(exchange: &str) -> Option<String> {
    let output = tokio::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "pid",
            "client_properties",
            "--quiet",
            "--no-table-headers",
        ])
        .output()
        .await
        .expect("rabbitmqctl runs");
    let wanted = format!("\"stockflow-relay {exchange}\"");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|line| line.contains(&wanted))
        .and_then(|line| line.split('\t').next())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_survives_the_relay_connection_being_closed_mid_stream() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let mut subscriber = app.subscribe().await;
    app.register("RELAY-2", 1_000_000, "reject").await;

    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut head = 0;
            for i in 0..300 {
                let response = app.place(&format!("c{i}"), &[("RELAY-2", 1)]).await;
                head = response.assert_status(201)["position"]
                    .as_i64()
                    .expect("position");
                // Paced so that both forced closes land while events are still flowing.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            head
        })
    };

    // Close the relay's connection twice while commands keep coming.
    let mut closed = 0;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let pid = loop {
            if let Some(pid) = relay_connection_pid(&app.exchange).await {
                break pid;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the relay never reconnected"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let status = tokio::process::Command::new("rabbitmqctl")
            .args(["close_connection", &pid, "test: forced close"])
            .status()
            .await
            .expect("rabbitmqctl runs");
        assert!(status.success(), "rabbitmqctl close_connection failed");
        closed += 1;
    }
    assert_eq!(closed, 2);

    let head = writer.await.expect("the writer finished");
    let received = subscriber
        .receive_until(Duration::from_secs(60), covers(head))
        .await;
    assert_delivered_exactly(&app, &received).await;

    // The relay came back by itself and says so.
    assert_eq!(
        app.relay_state().await,
        "active",
        "the relay did not recover"
    );
}
