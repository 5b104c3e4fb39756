//! Broker names of one test's own, removed with it, a subscriber that sees what a
//! downstream system would, and what RabbitMQ says of a queue.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use stockflow_events::CloudEvent;

use crate::{amqp_url, block_on_own_runtime, unique};

/// What RabbitMQ says of `queue` (its messages and consumers), or `None` if it is not there.
/// A passive declare of a queue not there yet closes the channel (and lapin may give up the
/// connection with it): a connection of its own each time.
pub async fn inspect_queue(queue: &str) -> Option<lapin::Queue> {
    let connection = stockflow_broker::connect(&amqp_url(), "stockflow-test-inspector")
        .await
        .expect("RabbitMQ is reachable");
    let channel = connection.create_channel().await.expect("a channel");
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .ok();
    let _ = connection.close(200, "done".into()).await;
    declared
}

/// Deletes `queue`, messages and all, if it is there (a subscriber losing its queue).
pub async fn delete_queue(queue: &str) {
    let connection = stockflow_broker::connect(&amqp_url(), "stockflow-test-inspector")
        .await
        .expect("RabbitMQ is reachable");
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .expect("the queue is deleted");
    let _ = connection.close(200, "done".into()).await;
}

/// An events exchange and a projector queue no other test uses. Dropping it deletes both,
/// with the queue's dead-letter exchange and queue.
#[derive(Debug)]
pub struct BrokerNames {
    pub exchange: String,
    pub queue: String,
}

impl BrokerNames {
    pub fn new(prefix: &str) -> BrokerNames {
        let id = unique("");
        BrokerNames {
            exchange: format!("stockflow.{prefix}.{id}"),
            queue: format!("stockflow.{prefix}.{id}.projector"),
        }
    }

    /// A queue of its own bound to every routing key of the exchange, as a downstream
    /// system would have.
    pub async fn subscribe(&self) -> Subscriber {
        Subscriber::bind(&self.exchange).await
    }
}

impl Drop for BrokerNames {
    fn drop(&mut self) {
        let queues = [
            self.queue.clone(),
            stockflow_broker::dead_letter_queue(&self.queue),
        ];
        let exchanges = [
            self.exchange.clone(),
            stockflow_broker::dead_letter_exchange(&self.queue),
        ];
        block_on_own_runtime(async move {
            let Ok(connection) =
                stockflow_broker::connect(&amqp_url(), "stockflow-test-cleanup").await
            else {
                return;
            };
            if let Ok(channel) = connection.create_channel().await {
                for queue in queues {
                    let _ = channel
                        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                for exchange in exchanges {
                    let _ = channel
                        .exchange_delete(exchange.as_str().into(), Default::default())
                        .await;
                }
            }
            let _ = connection.close(200, "done".into()).await;
        });
    }
}

/// A message as a subscriber sees it.
#[derive(Debug, Clone)]
pub struct Received {
    pub routing_key: String,
    pub content_type: Option<String>,
    pub message_id: Option<String>,
    pub amqp_type: Option<String>,
    pub persistent: bool,
    pub event: CloudEvent,
    /// The message body as published, byte for byte.
    pub body: Vec<u8>,
}

/// An exclusive queue bound to `#` on an events exchange; it goes when the subscriber does.
pub struct Subscriber {
    _connection: lapin::Connection,
    consumer: lapin::Consumer,
}

impl Subscriber {
    pub async fn bind(exchange: &str) -> Subscriber {
        let connection = stockflow_broker::connect(&amqp_url(), "stockflow-test-subscriber")
            .await
            .expect("RabbitMQ is reachable");
        let channel = connection.create_channel().await.expect("a channel opens");
        stockflow_broker::declare_events_exchange(&channel, exchange)
            .await
            .expect("exchange declared");
        let queue = unique(&format!("{exchange}.subscriber."));
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
            .expect("queue declared");
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue bound");
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "test".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consuming");
        Subscriber {
            _connection: connection,
            consumer,
        }
    }

    /// Receives until `done` says so, or panics after `timeout`.
    pub async fn receive_until(
        &mut self,
        timeout: Duration,
        done: impl FnMut(&[Received]) -> bool,
    ) -> Vec<Received> {
        self.receive(timeout, Duration::ZERO, done).await
    }

    /// Receives until `done` says so (or panics after `timeout`), then goes on until nothing
    /// more comes for `quiet`: what was published twice shows.
    pub async fn receive_until_quiet(
        &mut self,
        timeout: Duration,
        quiet: Duration,
        done: impl FnMut(&[Received]) -> bool,
    ) -> Vec<Received> {
        self.receive(timeout, quiet, done).await
    }

    async fn receive(
        &mut self,
        timeout: Duration,
        quiet: Duration,
        mut done: impl FnMut(&[Received]) -> bool,
    ) -> Vec<Received> {
        let mut received = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let finished = done(&received);
            if finished && quiet.is_zero() {
                return received;
            }
            let until = if finished {
                tokio::time::Instant::now() + quiet
            } else {
                deadline
            };
            let next = tokio::time::timeout_at(until, self.consumer.next()).await;
            let delivery = match next {
                Ok(Some(Ok(delivery))) => delivery,
                Ok(other) => panic!("the subscription ended: {other:?}"),
                Err(_) if finished => return received,
                Err(_) => panic!("timed out after {} messages", received.len()),
            };
            let properties = &delivery.properties;
            let event: CloudEvent =
                serde_json::from_slice(&delivery.data).expect("a CloudEvents JSON body");
            received.push(Received {
                routing_key: delivery.routing_key.to_string(),
                content_type: properties.content_type().as_ref().map(|s| s.to_string()),
                message_id: properties.message_id().as_ref().map(|s| s.to_string()),
                amqp_type: properties.kind().as_ref().map(|s| s.to_string()),
                persistent: *properties.delivery_mode() == Some(2),
                event,
                body: delivery.data.clone(),
            });
            delivery.ack(BasicAckOptions::default()).await.expect("ack");
        }
    }
}
