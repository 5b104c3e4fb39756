//! A downstream subscriber, as docs/events.md describes one: its own durable queue bound to
//! every routing key, acknowledging after it has recorded a message, reconnecting whenever
//! the broker goes away. It counts each event id it was given, so that lost and duplicated
//! deliveries can both be told.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::services::BoxError;

#[derive(Debug, Default)]
pub struct Deliveries {
    /// How many times each event id arrived.
    pub by_id: HashMap<Uuid, u32>,
    /// Messages whose body was not an event this subscriber could read.
    pub unreadable: u32,
    /// How often the subscriber had to reconnect.
    pub reconnects: u32,
}

/// Declares the subscriber's queue; from then on, nothing published to `exchange` escapes it.
pub async fn declare(amqp_url: &str, exchange: &str, queue: &str) -> Result<(), BoxError> {
    let connection = stockflow_broker::connect(amqp_url, "stockflow-faults-subscriber").await?;
    let channel = connection.create_channel().await?;
    stockflow_broker::declare_events_exchange(&channel, exchange).await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await?;
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let _ = connection.close(200, "declared".into()).await;
    Ok(())
}

/// Consumes `queue` until `stop`, reconnecting after any failure.
pub async fn run(
    amqp_url: String,
    queue: String,
    deliveries: Arc<Mutex<Deliveries>>,
    stop: CancellationToken,
) {
    loop {
        let session = consume(&amqp_url, &queue, &deliveries, &stop);
        tokio::select! {
            _ = session => {}
            () = stop.cancelled() => return,
        }
        deliveries.lock().expect("not poisoned").reconnects += 1;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = stop.cancelled() => return,
        }
    }
}

async fn consume(
    amqp_url: &str,
    queue: &str,
    deliveries: &Mutex<Deliveries>,
    stop: &CancellationToken,
) -> Result<(), BoxError> {
    // A broker that is starting may leave any step of this waiting forever.
    let setup = async {
        let connection = stockflow_broker::connect(amqp_url, "stockflow-faults-subscriber").await?;
        let channel = connection.create_channel().await?;
        channel.basic_qos(500, Default::default()).await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                "stockflow-faults-subscriber".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok::<_, BoxError>((connection, consumer))
    };
    let (_connection, mut consumer) = tokio::time::timeout(Duration::from_secs(20), setup)
        .await
        .map_err(|_| "the subscriber could not start consuming within 20 s")??;
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let id = serde_json::from_slice::<serde_json::Value>(&delivery.data)
            .ok()
            .and_then(|body| body["id"].as_str().and_then(|id| id.parse::<Uuid>().ok()));
        {
            let mut deliveries = deliveries.lock().expect("not poisoned");
            match id {
                Some(id) => *deliveries.by_id.entry(id).or_default() += 1,
                None => deliveries.unreadable += 1,
            }
        }
        delivery.ack(BasicAckOptions::default()).await?;
        if stop.is_cancelled() {
            break;
        }
    }
    Err("the subscriber's consumer ended".into())
}
