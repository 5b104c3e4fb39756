//! supplier-notifier: tells the supplier about every replenishment stockflow requests.
//!
//! Written as a team outside stockflow would write it: it knows the published contract
//! (`contracts/events/product.replenishment_requested.v1.schema.json` and
//! `contracts/asyncapi.json`), not stockflow's crates. It keeps a durable queue of its own,
//! bound to `product.replenishment_requested` on the events exchange, acknowledges each message
//! only once the supplier has been told, and, since delivery is at least once, skips a message
//! whose CloudEvent `id` it has already handled.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, Consumer, ExchangeKind};
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The routing key this notifier binds its queue to.
pub const ROUTING_KEY: &str = "product.replenishment_requested";
/// The one CloudEvents type (and version) it understands.
pub const EVENT_TYPE: &str = "com.stockflow.product.replenishment_requested.v1";
/// How many event ids it remembers to skip redeliveries. Redeliveries come soon after the
/// first delivery (a lost ack, a reconnect), so a window is enough; a notifier whose side
/// effect must never repeat across restarts would record the ids with the side effect.
const DEDUPE_WINDOW: usize = 100_000;
/// Messages in flight to this consumer.
const PREFETCH: u16 = 64;

#[derive(Debug, Clone)]
pub struct Config {
    pub amqp_url: String,
    /// The topic exchange stockflow publishes to (`stockflow.events`).
    pub exchange: String,
    /// This notifier's own queue.
    pub queue: String,
    /// Whether the queue goes away with its last consumer (for tests and trials; a real
    /// notifier keeps its queue so that nothing is missed while it is down).
    pub auto_delete: bool,
}

/// A request to the supplier, as read from a `product.replenishment_requested` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replenishment {
    /// The CloudEvent `id`.
    pub event_id: Uuid,
    pub sku: String,
    /// Units to order from the supplier: the shortfall plus 20%, rounded up.
    pub quantity: i64,
    /// Units the order is short of.
    pub shortfall: i64,
    pub order_id: Uuid,
}

/// What a notifier did until it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Requests passed on to the supplier.
    pub notified: u64,
    /// Redeliveries of requests already passed on, acknowledged and skipped.
    pub duplicates: u64,
    /// Messages that were not a request this notifier understands, rejected without requeue
    /// (to the queue's dead-letter exchange, if it has one).
    pub refused: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker ended the subscription")]
    Ended,
}

/// A notifier consuming in the background.
pub struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Summary>,
}

impl Running {
    /// Stops consuming (unacknowledged messages go back to the queue) and says what was done.
    pub async fn stop(self) -> Summary {
        let _ = self.stop.send(());
        self.task
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

/// Declares the exchange and the queue, binds it, and consumes in the background, calling
/// `notify` once per replenishment request. Returns once consuming: every request published
/// from then on reaches `notify`. After a broker failure it reconnects, with backoff, until
/// stopped.
pub async fn start<F>(config: Config, notify: F) -> Result<Running, Error>
where
    F: FnMut(&Replenishment) + Send + 'static,
{
    let session = Session::open(&config).await?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(consume(config, session, notify, stopped));
    Ok(Running { stop, task })
}

async fn consume<F>(
    config: Config,
    first: Session,
    mut notify: F,
    mut stopped: oneshot::Receiver<()>,
) -> Summary
where
    F: FnMut(&Replenishment),
{
    let mut handler = Handler::default();
    let mut session = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Some(current) = session.take() {
            backoff = Duration::from_millis(100);
            match current.serve(&mut handler, &mut notify, &mut stopped).await {
                Ok(()) => return handler.summary,
                Err(error) => tracing::warn!(%error, "subscription interrupted; reconnecting"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = &mut stopped => return handler.summary,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
        match Session::open(&config).await {
            Ok(opened) => session = Some(opened),
            Err(error) => tracing::warn!(%error, retry_in = ?backoff, "cannot subscribe"),
        }
    }
}

struct Session {
    connection: Connection,
    consumer: Consumer,
}

impl Session {
    async fn open(config: &Config) -> Result<Session, Error> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("supplier-notifier {}", config.queue).into());
        let connection = Connection::connect(&config.amqp_url, properties).await?;
        let channel = connection.create_channel().await?;
        // Declared as stockflow declares it, so the notifier may start first.
        channel
            .exchange_declare(
                config.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(
                config.queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    auto_delete: config.auto_delete,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                config.queue.as_str().into(),
                config.exchange.as_str().into(),
                ROUTING_KEY.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                config.queue.as_str().into(),
                "supplier-notifier".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %config.queue, exchange = %config.exchange, "consuming replenishment requests");
        Ok(Session {
            connection,
            consumer,
        })
    }

    /// Handles deliveries until stopped (`Ok`) or the connection fails (`Err`).
    async fn serve<F>(
        mut self,
        handler: &mut Handler,
        notify: &mut F,
        stopped: &mut oneshot::Receiver<()>,
    ) -> Result<(), Error>
    where
        F: FnMut(&Replenishment),
    {
        loop {
            let next = tokio::select! {
                next = self.consumer.next() => next,
                _ = &mut *stopped => {
                    let _ = self.connection.close(200, "stopping".into()).await;
                    return Ok(());
                }
            };
            let delivery = next.ok_or(Error::Ended)??;
            handler.handle(&delivery, notify).await?;
        }
    }
}

/// Reads deliveries, skips the ones already handled, and settles each with the broker.
#[derive(Default)]
struct Handler {
    seen: Seen,
    summary: Summary,
}

impl Handler {
    async fn handle<F>(&mut self, delivery: &Delivery, notify: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Replenishment),
    {
        match read(&delivery.data) {
            Ok(request) if self.seen.contains(&request.event_id) => {
                tracing::debug!(event_id = %request.event_id, "skipping a redelivered request");
                self.summary.duplicates += 1;
            }
            Ok(request) => {
                tracing::info!(
                    sku = %request.sku,
                    quantity = request.quantity,
                    order_id = %request.order_id,
                    event_id = %request.event_id,
                    "notifying the supplier"
                );
                notify(&request);
                self.seen.insert(request.event_id);
                self.summary.notified += 1;
            }
            Err(reason) => {
                tracing::warn!(%reason, "rejecting a message that is not a replenishment request v1");
                self.summary.refused += 1;
                delivery
                    .nack(BasicNackOptions {
                        requeue: false,
                        multiple: false,
                    })
                    .await?;
                return Ok(());
            }
        }
        // Acknowledged only once the supplier has been told: a crash before this line means a
        // redelivery, not a lost request.
        delivery.ack(BasicAckOptions::default()).await?;
        Ok(())
    }
}

/// The parts of the CloudEvent this notifier needs; anything else in it is ignored, so that
/// fields stockflow adds later do not break it.
#[derive(Deserialize)]
struct Message {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct RequestData {
    sku: String,
    order_id: Uuid,
    shortfall: i64,
    quantity: i64,
}

/// Reads a message body: a CloudEvents structured-mode JSON of type [`EVENT_TYPE`].
pub fn read(body: &[u8]) -> Result<Replenishment, String> {
    let message: Message =
        serde_json::from_slice(body).map_err(|e| format!("not a CloudEvent: {e}"))?;
    if message.event_type != EVENT_TYPE {
        return Err(format!("type `{}`", message.event_type));
    }
    let data: RequestData =
        serde_json::from_value(message.data).map_err(|e| format!("data: {e}"))?;
    Ok(Replenishment {
        event_id: message.id,
        sku: data.sku,
        quantity: data.quantity,
        shortfall: data.shortfall,
        order_id: data.order_id,
    })
}

/// The ids of the most recently handled events, up to [`DEDUPE_WINDOW`].
#[derive(Default)]
struct Seen {
    ids: HashSet<Uuid>,
    order: VecDeque<Uuid>,
}

impl Seen {
    fn contains(&self, id: &Uuid) -> bool {
        self.ids.contains(id)
    }

    fn insert(&mut self, id: Uuid) {
        if self.ids.insert(id) {
            self.order.push_back(id);
        }
        if self.order.len() > DEDUPE_WINDOW
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example stockflow publishes in its AsyncAPI document.
    fn published_example() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/asyncapi.json");
        let asyncapi: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("the contract"))
                .expect("JSON");
        asyncapi["components"]["messages"]["product.replenishment_requested.v1"]["examples"][0]
            ["payload"]
            .clone()
    }

    #[test]
    fn reads_the_published_example() {
        let example = published_example();
        let request = read(example.to_string().as_bytes()).expect("a request");
        assert_eq!(request.sku, example["data"]["sku"]);
        assert_eq!(request.quantity, example["data"]["quantity"]);
        assert_eq!(request.shortfall, example["data"]["shortfall"]);
        assert_eq!(request.order_id.to_string(), example["data"]["order_id"]);
        assert_eq!(request.event_id.to_string(), example["id"]);
    }

    #[test]
    fn refuses_other_types_versions_and_garbage() {
        let mut placed = published_example();
        placed["type"] = "com.stockflow.order.placed.v1".into();
        assert!(read(placed.to_string().as_bytes()).is_err());
        let mut v2 = published_example();
        v2["type"] = "com.stockflow.product.replenishment_requested.v2".into();
        assert!(read(v2.to_string().as_bytes()).is_err());
        let mut no_quantity = published_example();
        no_quantity["data"]
            .as_object_mut()
            .expect("data")
            .remove("quantity");
        assert!(read(no_quantity.to_string().as_bytes()).is_err());
        assert!(read(b"not json").is_err());
    }

    #[test]
    fn tolerates_fields_it_does_not_know() {
        let mut example = published_example();
        example["data"]["priority"] = "high".into();
        example["newextension"] = 1.into();
        assert!(read(example.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn remembers_a_window_of_ids() {
        let mut seen = Seen::default();
        let first = Uuid::now_v7();
        seen.insert(first);
        seen.insert(first);
        assert!(seen.contains(&first));
        assert_eq!(seen.order.len(), 1);
        for _ in 0..DEDUPE_WINDOW {
            seen.insert(Uuid::now_v7());
        }
        assert!(!seen.contains(&first), "the oldest id leaves the window");
        assert_eq!(seen.ids.len(), DEDUPE_WINDOW);
    }
}
