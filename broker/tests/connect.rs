//! Connecting to a list of RabbitMQ addresses and declaring quorum queues, against the
//! tests' RabbitMQ (`TEST_AMQP_URL`, default the local one).

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use stockflow_testkit::{amqp_url, free_address, unique};

/// An address nothing listens on.
async fn dead_address() -> String {
    format!("amqp://guest:secret@{}/%2f", free_address())
}

#[tokio::test]
async fn a_list_connects_to_the_node_that_answers_whichever_comes_first() {
    let dead = dead_address().await;
    let list = format!("{dead},{}", amqp_url());
    // Two calls start at two different addresses: both end on the live one.
    for _ in 0..2 {
        let connection = stockflow_broker::connect(&list, "stockflow-test-list")
            .await
            .expect("the live node connects");
        assert!(connection.status().connected());
        let _ = connection.close(200, "done".into()).await;
    }
}

#[tokio::test]
async fn when_no_node_connects_the_error_names_each_without_its_password() {
    let (first, second) = (dead_address().await, dead_address().await);
    let error = stockflow_broker::connect(&format!("{first},{second}"), "stockflow-test-list")
        .await
        .expect_err("nothing listens");
    let message = error.to_string();
    for address in [&first, &second] {
        let redacted = address.replace(":secret@", ":***@");
        assert!(
            message.contains(&redacted),
            "{redacted} is not named in: {message}"
        );
    }
    assert!(!message.contains("secret"), "a password in: {message}");
}

/// Declares `queue` durable, of `queue_type`, with no other argument.
async fn declare_plain(
    channel: &lapin::Channel,
    queue: &str,
    queue_type: &str,
) -> Result<(), lapin::Error> {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(queue_type.into()),
    );
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .map(|_| ())
}

/// A queue declared before stockflow asked for three members (every existing deployment's)
/// is declared again as it is; a new one gets the size; one of another type is refused.
#[tokio::test]
async fn quorum_queues_are_declared_new_or_as_they_were() {
    let connection = stockflow_broker::connect(&amqp_url(), "stockflow-test-quorum")
        .await
        .expect("RabbitMQ is reachable");
    let older = unique("stockflow.test.quorum.older");
    let fresh = unique("stockflow.test.quorum.fresh");
    let classic = unique("stockflow.test.quorum.classic");
    let channel = connection.create_channel().await.expect("a channel");
    for (queue, queue_type) in [(&older, "quorum"), (&classic, "classic")] {
        declare_plain(&channel, queue, queue_type)
            .await
            .expect("declared");
    }

    let channel =
        stockflow_broker::declare_quorum_queue(&connection, channel, &older, FieldTable::default())
            .await
            .expect("the older queue is declared again");
    // Twice: the second time, the queue exists with the size it was created with.
    let mut channel = channel;
    for _ in 0..2 {
        channel = stockflow_broker::declare_quorum_queue(
            &connection,
            channel,
            &fresh,
            FieldTable::default(),
        )
        .await
        .expect("the new queue is declared");
    }
    // The new queue was created with the size: declared without it, it is refused.
    let probe = connection.create_channel().await.expect("a channel");
    let without = declare_plain(&probe, &fresh, "quorum")
        .await
        .expect_err("the new queue has its size");
    assert!(
        without.to_string().contains("x-quorum-initial-group-size"),
        "unexpected error: {without}"
    );
    let refused = stockflow_broker::declare_quorum_queue(
        &connection,
        channel,
        &classic,
        FieldTable::default(),
    )
    .await
    .expect_err("a classic queue is not a quorum queue");
    assert!(
        refused.to_string().contains("PRECONDITION"),
        "unexpected error: {refused}"
    );

    let channel = connection.create_channel().await.expect("a channel");
    for queue in [&older, &fresh, &classic] {
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "done".into()).await;
}
