//! Several instances of each service on one store (SPEC §7, issue 4): one relay publishes, one
//! projector consumes, and nothing is published or applied twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::json;
use stockflow_e2e::Stack;
use stockflow_events::CloudEvent;
use tokio::sync::oneshot;

use crate::checks::assert_read_models_match_the_store;

/// Runs an app until the returned sender is dropped or fired.
fn serve<F: std::future::Future<Output = ()> + Send + 'static>(
    run: impl FnOnce(oneshot::Receiver<()>) -> F,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel();
    (stop, tokio::spawn(run(stopped)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_command_services_and_two_projectors_publish_and_apply_each_event_once() {
    let stack = Arc::new(Stack::spawn().await);

    let second_commands = stockflow_command_service::App::build(stack.command_config())
        .await
        .expect("a second command service starts");
    let second_url = format!("http://{}", second_commands.local_addr());
    let (stop_commands, commands_task) = serve(|stopped| async move {
        let _ = second_commands
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });
    let second_projector = stockflow_projector::App::build(stack.projector_config())
        .await
        .expect("a second projector starts");
    let (stop_projector, projector_task) = serve(|stopped| async move {
        let _ = second_projector
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });

    // A subscriber of its own, to count what is published.
    let connection =
        stockflow_store::amqp::connect(&stockflow_e2e_amqp_url(), "scale-out-subscriber")
            .await
            .expect("RabbitMQ is reachable");
    let channel = connection.create_channel().await.expect("a channel");
    stockflow_store::amqp::declare_events_exchange(&channel, &stack.exchange)
        .await
        .expect("exchange");
    let queue = format!("{}.scale-out-subscriber", stack.exchange);
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue");
    channel
        .queue_bind(
            queue.as_str().into(),
            stack.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bound");
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "count".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consuming");

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
    let mut ids = Vec::new();
    let mut positions = HashSet::new();
    loop {
        let wait = if positions.len() as i64 >= head {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(30)
        };
        match tokio::time::timeout(wait, consumer.next()).await {
            Ok(Some(Ok(delivery))) => {
                let event: CloudEvent =
                    serde_json::from_slice(&delivery.data).expect("a CloudEvent");
                ids.push(event.id);
                positions.insert(event.position);
                delivery.ack(BasicAckOptions::default()).await.expect("ack");
            }
            Ok(other) => panic!("the subscription ended: {other:?}"),
            Err(_) if positions.len() as i64 >= head => break,
            Err(_) => panic!("only {} of {head} events arrived", positions.len()),
        }
    }
    let distinct: HashSet<_> = ids.iter().collect();
    assert_eq!(
        ids.len(),
        distinct.len(),
        "{} events were published more than once",
        ids.len() - distinct.len()
    );
    assert_eq!(distinct.len() as i64, head);

    let _ = stop_commands.send(());
    let _ = stop_projector.send(());
    let _ = commands_task.await;
    let _ = projector_task.await;
    let _ = connection.close(200, "done".into()).await;
}

fn stockflow_e2e_amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}
