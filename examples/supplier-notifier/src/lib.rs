//! supplier-notifier: tells the supplier about every replenishment stockflow requests, and
//! shows how a subscriber that joins late (or lost its queue) catches up.
//!
//! Written as a team outside stockflow would write it: it knows the published contract
//! (`contracts/events/product.replenishment_requested.v1.schema.json` and
//! `contracts/asyncapi.json`) and the query service's event feed, not stockflow's crates. It
//! keeps a durable queue of its own, bound to `product.replenishment_requested` on the events
//! exchange. Each time it connects it first reads, from the event feed, every request after its
//! checkpoint (what was published before its queue existed, or while the queue was gone), then
//! consumes the queue. Its outbox ([`outbox`]) records each request passed on to the supplier
//! and is its checkpoint too; an event at or below the checkpoint (a redelivery, the overlap
//! between the feed and the queue) is acknowledged and skipped. The README says why this
//! never misses or doubles a request across restarts.

pub mod catch_up;
pub mod message;
pub mod outbox;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, Consumer, ExchangeKind};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The routing key this notifier binds its queue to.
pub const ROUTING_KEY: &str = "product.replenishment_requested";
/// The one CloudEvents type (and version) it understands.
pub const EVENT_TYPE: &str = "com.stockflow.product.replenishment_requested.v1";
/// Messages in flight to this consumer.
const PREFETCH: u16 = 64;
/// The longest a page of the event feed may take to arrive (1000 events, a few hundred KB).
const FEED_PAGE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Config {
    pub amqp_url: String,
    /// The topic exchange stockflow publishes to (`stockflow.events`).
    pub exchange: String,
    /// This notifier's own queue.
    pub queue: String,
    /// Whether the queue goes away with its last consumer (for tests and trials; a real
    /// notifier keeps its queue, so that it has less to catch up on after being down).
    pub auto_delete: bool,
    /// The outbox file: the requests passed on, and the checkpoint.
    pub outbox: PathBuf,
    /// The event feed to catch up from on each connection; without it the notifier hears
    /// only of what is published while its queue exists.
    pub feed: Option<Feed>,
}

pub use catch_up::Feed;
pub use message::read;
pub use outbox::Outbox;

/// A request to the supplier, as read from a `product.replenishment_requested` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replenishment {
    /// The CloudEvent `id`.
    pub event_id: Uuid,
    /// The event's global position (the CloudEvent extension `position`).
    pub position: i64,
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
    /// Of those, the ones found in the event feed rather than the queue.
    pub caught_up: u64,
    /// Events at or below the checkpoint (redeliveries, the overlap of feed and queue),
    /// skipped.
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
    #[error("the event feed: {0}")]
    Feed(#[from] reqwest::Error),
    #[error("the outbox: {0}")]
    Outbox(#[from] std::io::Error),
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

/// Opens the outbox, declares the exchange and the queue, binds it, catches up from the feed
/// and consumes in the background, calling `notify` once per replenishment request, right
/// after recording it in the outbox. Returns once subscribed: every request published from
/// then on, and with a feed every one before, reaches `notify`. After a failure (broker,
/// feed) it reconnects, with backoff, and catches up again, until stopped.
pub async fn start<F>(config: Config, notify: F) -> Result<Running, Error>
where
    F: FnMut(&Replenishment) + Send + 'static,
{
    let outbox = Outbox::open(&config.outbox)?;
    tracing::info!(outbox = %outbox.path().display(), checkpoint = outbox.checkpoint(), "opened the outbox");
    let session = Session::open(&config).await?;
    let (stop, stopped) = oneshot::channel();
    let handler = Handler {
        outbox,
        // Without a time limit, a feed that stops answering (a connection lost without a
        // reset, a stuck proxy) would hold the catch-up, and the queue behind it, forever; a
        // page that times out is read again from the checkpoint like any failed page.
        feed_client: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(FEED_PAGE_TIMEOUT)
            .build()?,
        summary: Summary::default(),
    };
    let task = tokio::spawn(consume(config, session, handler, notify, stopped));
    Ok(Running { stop, task })
}

async fn consume<F>(
    config: Config,
    first: Session,
    mut handler: Handler,
    mut notify: F,
    mut stopped: oneshot::Receiver<()>,
) -> Summary
where
    F: FnMut(&Replenishment),
{
    let mut session = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Some(current) = session.take() {
            let served = match handler.catch_up(&config, &mut notify).await {
                Ok(()) => {
                    // Only a session that got as far as the queue counts as recovered: while
                    // the feed is down, each attempt opens a RabbitMQ connection, and those
                    // back off too rather than come five times a second.
                    backoff = Duration::from_millis(100);
                    current.serve(&mut handler, &mut notify, &mut stopped).await
                }
                Err(error) => Err(error),
            };
            match served {
                Ok(()) => return handler.summary,
                Err(error @ Error::Outbox(_)) => {
                    // The outbox cannot be written: going on would pass requests on unrecorded.
                    tracing::error!(%error, "stopping");
                    return handler.summary;
                }
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

/// Where the next connect starts in a list of addresses: one further each time, so that a
/// reconnect after a node died tries another node first.
static NEXT_ADDRESS: AtomicUsize = AtomicUsize::new(0);

/// Connects to one of `urls` (one URL, or a cluster's nodes separated by commas), trying each
/// in turn; the error is the last node's.
async fn connect_any(urls: &str, properties: ConnectionProperties) -> Result<Connection, Error> {
    let urls: Vec<&str> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    let start = NEXT_ADDRESS.fetch_add(1, Ordering::Relaxed);
    let mut last = None;
    for i in 0..urls.len() {
        let url = urls[(start + i) % urls.len()];
        match Connection::connect(url, properties.clone()).await {
            Ok(connection) => return Ok(connection),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(e.into()),
        // No address at all: let lapin say what is wrong with the empty one.
        None => Ok(Connection::connect("", properties).await?),
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
        let connection = connect_any(&config.amqp_url, properties).await?;
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

/// Passes each request on once: records it in the outbox, then tells `notify`; skips the
/// events at or below the checkpoint.
struct Handler {
    outbox: Outbox,
    feed_client: reqwest::Client,
    summary: Summary,
}

impl Handler {
    /// Reads, from the feed, the requests after the checkpoint up to the store's head. The
    /// queue is bound already, so what comes after arrives there.
    async fn catch_up<F>(&mut self, config: &Config, notify: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Replenishment),
    {
        let Some(feed) = &config.feed else {
            return Ok(());
        };
        let from = self.outbox.checkpoint();
        let client = self.feed_client.clone();
        let before = self.summary.notified;
        let read = catch_up::catch_up(feed, &client, from, |event| match event {
            Ok(request) => self.take(request, notify),
            Err(reason) => {
                tracing::warn!(%reason, "skipping a feed event that is not a replenishment request v1");
                self.summary.refused += 1;
                Ok(())
            }
        })
        .await;
        // Counted before the error goes up: the pages read before the feed failed were passed
        // on, and the next catch-up starts after them.
        let found = self.summary.notified - before;
        self.summary.caught_up += found;
        read?;
        tracing::info!(from, found, "caught up from the event feed");
        Ok(())
    }

    async fn handle<F>(&mut self, delivery: &Delivery, notify: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Replenishment),
    {
        match read(&delivery.data) {
            Ok(request) => self.take(request, notify)?,
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
        // Acknowledged only once the request is in the outbox: a crash before this line means
        // a redelivery, which the checkpoint skips, not a lost request.
        delivery.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    fn take<F>(&mut self, request: Replenishment, notify: &mut F) -> Result<(), Error>
    where
        F: FnMut(&Replenishment),
    {
        if request.position <= self.outbox.checkpoint() {
            tracing::debug!(event_id = %request.event_id, position = request.position, "skipping a request already passed on");
            self.summary.duplicates += 1;
            return Ok(());
        }
        tracing::info!(
            sku = %request.sku,
            quantity = request.quantity,
            order_id = %request.order_id,
            position = request.position,
            "notifying the supplier"
        );
        self.outbox.record(&request)?;
        notify(&request);
        self.summary.notified += 1;
        Ok(())
    }
}
