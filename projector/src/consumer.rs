//! Live projection from RabbitMQ (guarantee 4 of docs/guarantees.md). Messages arrive in
//! position order on a quorum queue with a single active consumer; several are applied per
//! transaction. A message at or below the checkpoint is a duplicate and is skipped; when one
//! skips ahead, the missing events are read from the store, which is the truth, in the same
//! transaction. Nothing is acked before its transaction commits. A message the projector
//! cannot use (undecodable, of an unknown type, with a bad payload) is recorded as a dead
//! letter in the store, then acked; an event that cannot be applied is retried with backoff,
//! then the projector stops advancing and says why.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ExchangeKind};
use sqlx::PgPool;
use stockflow_broker as amqp;
use stockflow_events::Envelope;
use tokio_util::sync::CancellationToken;

use crate::batch::{Batch, apply_batch};
use crate::control::{self, Control, Status};
use crate::dead_letters::{self, Rejection, drain, store as dead_letter_store};
use crate::health::Health;
use crate::model::ApplyError;
use crate::repair;
use crate::store_reader;
use crate::transient::is_transient;

/// Most messages applied in one transaction.
const BATCH: usize = 500;
/// Attempts at a batch whose events cannot be applied before the projector stops.
const APPLY_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone)]
pub struct Topology {
    pub exchange: String,
    pub queue: String,
}

impl Topology {
    pub fn dead_letter_exchange(&self) -> String {
        amqp::dead_letter_exchange(&self.queue)
    }

    pub fn dead_letter_queue(&self) -> String {
        amqp::dead_letter_queue(&self.queue)
    }
}

/// Declares the exchange, the projector's quorum queue bound to every event, and its
/// dead-letter exchange and queue, on a channel of `connection`; returns the channel to go
/// on with. Idempotent.
///
/// The dead-letter queue is declared without a type, as it always was: it takes the vhost's
/// default, classic on a broker as installed, quorum (of three, `quorum_cluster_size`) on a
/// vhost whose default queue type is quorum, like scripts/cluster's. Naming a type now would
/// make RabbitMQ refuse every existing dead-letter queue of the other type
/// (PRECONDITION_FAILED on `x-queue-type`), and the projector would never connect again.
pub async fn declare(
    connection: &Connection,
    topology: &Topology,
) -> Result<Channel, lapin::Error> {
    let channel = connection.create_channel().await?;
    amqp::declare_events_exchange(&channel, &topology.exchange).await?;
    channel
        .exchange_declare(
            topology.dead_letter_exchange().as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            topology.dead_letter_queue().as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            topology.dead_letter_queue().as_str().into(),
            topology.dead_letter_exchange().as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(topology.dead_letter_exchange().as_str().into()),
    );
    let channel =
        amqp::declare_quorum_queue(connection, channel, &topology.queue, arguments).await?;
    channel
        .queue_bind(
            topology.queue.as_str().into(),
            topology.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(channel)
}

#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("draining the dead-letter queue: {0}")]
    Drain(#[from] drain::DrainError),
    #[error("the subscription ended")]
    Ended,
}

/// Why a session ended without an error.
enum Ended {
    Shutdown,
    /// Paused by an operator, or stopped by an event that cannot be applied: the unacked
    /// messages went back to the queue with the connection.
    Halted,
}

/// Consumes until `shutdown`, reconnecting after broker or database failures. While the
/// projection is paused or stopped (`control`), it holds no connection to the broker and
/// applies nothing; it goes on when an operator resumes or retries it.
pub async fn run(
    pool: PgPool,
    amqp_url: String,
    topology: Topology,
    health: Arc<Health>,
    control: Control,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if control.status() != Status::Running {
            let paused = control.status() == Status::Paused;
            metrics::gauge!(crate::metrics::PAUSED).set(if paused { 1.0 } else { 0.0 });
            tracing::info!(
                status = control.status().as_str(),
                "projection halted; waiting for an operator"
            );
        }
        if !control.running(&shutdown).await {
            return;
        }
        // Running again after a stop: the operator retried or skipped.
        if health.stopped() {
            health.resume();
            metrics::gauge!(crate::metrics::RUNNING).set(1.0);
        }
        metrics::gauge!(crate::metrics::PAUSED).set(0.0);
        match session(
            &pool,
            &amqp_url,
            &topology,
            &health,
            &control,
            &shutdown,
            &mut backoff,
        )
        .await
        {
            Ok(Ended::Shutdown) => return,
            Ok(Ended::Halted) => continue,
            Err(error) => {
                health.set_broker(false);
                tracing::warn!(%error, retry_in = ?backoff, "projector interrupted; reconnecting");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn session(
    pool: &PgPool,
    amqp_url: &str,
    topology: &Topology,
    health: &Health,
    control: &Control,
    shutdown: &CancellationToken,
    backoff: &mut Duration,
) -> Result<Ended, ConsumeError> {
    let connection =
        amqp::connect(amqp_url, &format!("stockflow-projector {}", topology.queue)).await?;
    let channel = amqp::within(declare(&connection, topology)).await?;
    // What an earlier projector nacked to the dead-letter queue joins the store, so that
    // nothing is stranded where stockflow cannot list it.
    let drained = drain::drain(&connection, &topology.dead_letter_queue(), pool).await?;
    if drained > 0 {
        tracing::info!(
            drained,
            "dead letters moved from the dead-letter queue to the store"
        );
    }
    dead_letter_store::refresh_gauge(pool).await;
    amqp::within(channel.basic_qos(
        u16::try_from(BATCH * 2).unwrap_or(u16::MAX),
        BasicQosOptions::default(),
    ))
    .await?;

    // Whatever the queue may not hold (events from before it existed, or published while this
    // projector was away and the queue dropped them) comes from the store first.
    if !catch_up(pool, health, control).await? {
        let _ = connection.close(200, "projection halted".into()).await;
        return Ok(Ended::Halted);
    }

    let mut consumer = amqp::within(channel.basic_consume(
        topology.queue.as_str().into(),
        "stockflow-projector".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await?;
    health.set_broker(true);
    *backoff = Duration::from_millis(100);
    tracing::info!(queue = %topology.queue, "projector consuming");

    loop {
        let first = tokio::select! {
            next = consumer.next() => next,
            () = shutdown.cancelled() => {
                let _ = connection.close(200, "shutting down".into()).await;
                return Ok(Ended::Shutdown);
            }
            () = control.halted() => {
                let _ = connection.close(200, "projection halted".into()).await;
                return Ok(Ended::Halted);
            }
        };
        let mut deliveries = vec![first.ok_or(ConsumeError::Ended)??];
        while deliveries.len() < BATCH {
            match consumer.next().now_or_never() {
                Some(Some(delivery)) => deliveries.push(delivery?),
                Some(None) => return Err(ConsumeError::Ended),
                None => break,
            }
        }

        let mut envelopes = Vec::with_capacity(deliveries.len());
        let mut last_tag = None;
        let received = chrono::Utc::now();
        let delivered_after = metrics::histogram!(crate::metrics::DELIVERED_AFTER);
        for delivery in &deliveries {
            match dead_letters::decode(&delivery.data) {
                Ok(envelope) => {
                    let after = (received - envelope.recorded_at)
                        .to_std()
                        .unwrap_or_default();
                    delivered_after.record(after.as_secs_f64());
                    envelopes.push(envelope);
                    last_tag = Some(delivery.delivery_tag);
                }
                Err(rejection) => set_aside(pool, delivery, rejection, health).await?,
            }
        }
        if envelopes.is_empty() {
            continue;
        }
        if !project(pool, &envelopes, health, control).await? {
            // Halted: the unacked messages go back to the queue with the connection.
            let _ = connection.close(200, "projection halted".into()).await;
            return Ok(Ended::Halted);
        }
        // Committed: acknowledge every message up to the last one applied (the dead-lettered
        // ones among them are settled already).
        if let Some(tag) = last_tag {
            channel
                .basic_ack(tag, BasicAckOptions { multiple: true })
                .await?;
        }
    }
}

/// Records a message the projector cannot use as a dead letter, then acks it: a message is
/// never lost between the queue and the store (a crash between the two redelivers it, and
/// the store keeps one row of it). One the store cannot take goes to the dead-letter queue,
/// the safety net; the store keeps the event itself, if there was one.
async fn set_aside(
    pool: &PgPool,
    delivery: &lapin::message::Delivery,
    rejection: Rejection,
    health: &Health,
) -> Result<(), ConsumeError> {
    tracing::warn!(
        kind = rejection.kind.as_str(),
        reason = %rejection.text,
        delivery_tag = delivery.delivery_tag,
        "a message the projector cannot use becomes a dead letter"
    );
    health.dead_lettered();
    metrics::counter!(crate::metrics::DEAD_LETTERED).increment(1);
    let letter = dead_letters::amqp::dead_letter(delivery, rejection);
    match dead_letter_store::insert(pool, &letter).await {
        Ok(_) => {
            delivery.ack(BasicAckOptions::default()).await?;
            dead_letter_store::refresh_gauge(pool).await;
        }
        // Unacked, it comes back once the session reconnects.
        Err(error) if is_transient(&error) => return Err(error.into()),
        Err(error) => {
            tracing::error!(%error, "cannot record the dead letter; it goes to the dead-letter queue");
            delivery
                .nack(BasicNackOptions {
                    requeue: false,
                    multiple: false,
                })
                .await?;
        }
    }
    Ok(())
}

/// Applies events from the store until the read models reach its head. `Ok(false)`: the
/// projection is halted.
async fn catch_up(pool: &PgPool, health: &Health, control: &Control) -> Result<bool, ConsumeError> {
    let head = stockflow_event_store::EventStore::new(pool.clone())
        .head()
        .await?;
    let checkpoint = store_reader::checkpoint(pool).await?;
    health.set_position(checkpoint);
    // From start-up, not only from the first batch: alerts compare it with the relay's.
    metrics::gauge!(crate::metrics::POSITION).set(checkpoint as f64);
    if checkpoint >= head {
        return Ok(control.status() == Status::Running);
    }
    project_to(pool, head, &[], health, control).await
}

/// Applies received messages: those not yet applied, and whatever the store has between the
/// checkpoint and them. `Ok(false)`: the projection is halted.
async fn project(
    pool: &PgPool,
    received: &[Envelope],
    health: &Health,
    control: &Control,
) -> Result<bool, ConsumeError> {
    let target = received.iter().map(|e| e.position).max().unwrap_or(0);
    project_to(pool, target, received, health, control).await
}

/// Applies transactions until the read models reach `target` (or the store has nothing more
/// to give), each transaction retried while it cannot be applied, and the projection stopped
/// when it still cannot. Outages of the database or the broker are left to the caller's
/// reconnect loop, however long they last: only events that cannot be applied stop it.
/// `Ok(false)`: halted (paused by an operator, or stopped here).
async fn project_to(
    pool: &PgPool,
    target: i64,
    received: &[Envelope],
    health: &Health,
    control: &Control,
) -> Result<bool, ConsumeError> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        match apply_batch(pool, received).await {
            Ok(Batch::Halted) => {
                if let Ok(state) = control::read(pool).await {
                    control.set(state.status);
                }
                return Ok(false);
            }
            Ok(Batch::Applied { before, after }) => {
                health.set_position(after);
                attempt = 0;
                delay = Duration::from_millis(200);
                if after >= target || after == before {
                    return Ok(true);
                }
            }
            Err(ApplyError::Database(e)) if is_transient(&e) => {
                return Err(ConsumeError::Database(e));
            }
            Err(error) => {
                attempt += 1;
                tracing::error!(%error, attempt, "cannot apply events; retrying");
                if attempt == APPLY_ATTEMPTS {
                    let failing = repair::failing_position(pool, &error).await;
                    metrics::gauge!(crate::metrics::RUNNING).set(0.0);
                    health.stop(error.to_string());
                    control::stop(pool, &error.to_string(), failing).await?;
                    control.set(Status::Stopped);
                    tracing::error!(
                        %error,
                        failing_position = ?failing,
                        "projection stopped: an event cannot be applied; retry or skip it"
                    );
                    return Ok(false);
                }
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}
