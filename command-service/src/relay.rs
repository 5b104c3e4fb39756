//! The relay publishes committed events to RabbitMQ in position order (docs/guarantees.md §3). It is woken
//! by the store's NOTIFY, publishes a batch with publisher confirms and many messages in
//! flight, and advances its checkpoint only once the broker has confirmed them all. When the
//! broker or the database connection fails it reconnects, re-declares the exchange and
//! publishes again from its checkpoint: delivery is at least once, and subscribers dedupe on
//! the event id. Of several relays on one exchange, the one holding an advisory lock
//! publishes; the others stand by.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Confirmation, PublisherConfirm};
use serde::Serialize;
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection, PgPool};
use stockflow_broker as amqp;
use stockflow_event_store::{EventStore, StoredEvent};
use tokio_util::sync::CancellationToken;

/// Messages published and not yet confirmed, at most.
const IN_FLIGHT: usize = 1_000;
/// How often, at most, the checkpoint is written while messages are in flight.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// Longest wait for a batch's confirms before the connection is presumed dead.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// A safety net only: the relay is woken by NOTIFY, this catches a notification lost while
/// the listening connection was being re-established.
const IDLE_RECHECK: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub amqp_url: String,
    pub exchange: String,
    /// The service's pool. The relay opens connections of its own, outside it, with the
    /// pool's connect options as they are at each session's start: when the pool moves to a
    /// new primary (a `DATABASE_URL` list), the relay's next session follows it.
    pub database: PgPool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum RelayState {
    Disabled = 0,
    Starting = 1,
    Active = 2,
    Standby = 3,
    Reconnecting = 4,
}

/// What the relay reports to `/readyz` and logs.
#[derive(Debug)]
pub struct RelayStatus {
    state: AtomicU8,
    published: AtomicI64,
    last_error: Mutex<Option<String>>,
}

#[derive(Debug, Serialize)]
pub struct RelaySnapshot {
    pub state: RelayState,
    pub published_position: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip)]
    pub healthy: bool,
}

impl RelayStatus {
    pub fn new(enabled: bool) -> RelayStatus {
        let state = if enabled {
            RelayState::Starting
        } else {
            RelayState::Disabled
        };
        RelayStatus {
            state: AtomicU8::new(state as u8),
            published: AtomicI64::new(0),
            last_error: Mutex::new(None),
        }
    }

    fn set(&self, state: RelayState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    fn failed(&self, error: &RelayError) {
        self.set(RelayState::Reconnecting);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.to_string());
        }
    }

    pub fn snapshot(&self) -> RelaySnapshot {
        let state = match self.state.load(Ordering::Relaxed) {
            0 => RelayState::Disabled,
            1 => RelayState::Starting,
            2 => RelayState::Active,
            3 => RelayState::Standby,
            _ => RelayState::Reconnecting,
        };
        let last_error = match state {
            RelayState::Reconnecting => self.last_error.lock().ok().and_then(|e| e.clone()),
            _ => None,
        };
        RelaySnapshot {
            state,
            published_position: self.published.load(Ordering::Relaxed),
            last_error,
            healthy: matches!(
                state,
                RelayState::Disabled | RelayState::Active | RelayState::Standby
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker refused (nacked) event at position {0}")]
    Nacked(i64),
    #[error("no confirm from the broker within {0:?}")]
    ConfirmTimeout(Duration),
    #[error("the broker connection closed")]
    BrokerClosed,
}

/// Runs until `shutdown`; after it, finishes publishing what is committed, if it can.
pub async fn run(config: RelayConfig, status: Arc<RelayStatus>, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match session(&config, &status, &shutdown, &mut backoff).await {
            Ok(()) => return,
            Err(error) => {
                status.failed(&error);
                tracing::warn!(%error, retry_in = ?backoff, "relay interrupted; reconnecting");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connected stretch: connect, lead or stand by, publish until an error or shutdown.
async fn session(
    config: &RelayConfig,
    status: &RelayStatus,
    shutdown: &CancellationToken,
    backoff: &mut Duration,
) -> Result<(), RelayError> {
    let connection_name = format!("stockflow-relay {}", config.exchange);
    let broker = amqp::connect(&config.amqp_url, &connection_name).await?;
    let channel = amqp::within(broker.create_channel()).await?;
    amqp::within(channel.confirm_select(ConfirmSelectOptions::default())).await?;
    amqp::within(amqp::declare_events_exchange(&channel, &config.exchange)).await?;

    // Leadership and reading share one connection: if it dies, the lock goes with it, and
    // this relay notices on its next read.
    let database = config.database.connect_options();
    let mut db = PgConnection::connect_with(&database).await?;
    loop {
        let leader: bool = sqlx::query_scalar!(
            r#"SELECT pg_try_advisory_lock(hashtext('stockflow.relay:' || $1)) AS "leader!""#,
            config.exchange,
        )
        .fetch_one(&mut db)
        .await?;
        if leader {
            break;
        }
        status.set(RelayState::Standby);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
        if !broker.status().connected() {
            return Err(RelayError::BrokerClosed);
        }
    }

    let mut listener =
        PgListener::connect_with(&PgPool::connect_lazy_with(database.as_ref().clone())).await?;
    listener
        .listen(stockflow_event_store::channels::EVENTS)
        .await?;
    sqlx::query!(
        "INSERT INTO event_store.relay_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT DO NOTHING",
        config.exchange,
    )
    .execute(&mut db)
    .await?;
    let mut checkpoint: i64 = sqlx::query_scalar!(
        "SELECT position FROM event_store.relay_checkpoints WHERE name = $1",
        config.exchange,
    )
    .fetch_one(&mut db)
    .await?;
    status.published.store(checkpoint, Ordering::Relaxed);
    status.set(RelayState::Active);
    *backoff = Duration::from_millis(100);
    tracing::info!(exchange = %config.exchange, checkpoint, "relay publishing");

    // Publishing overlaps confirming: while up to IN_FLIGHT messages wait for the broker's
    // confirms, newer events are read and published behind them. Confirms are taken in
    // position order and the checkpoint follows them, so it never passes an event the broker
    // has not confirmed.
    let mut in_flight: VecDeque<(i64, DateTime<Utc>, PublisherConfirm)> =
        VecDeque::with_capacity(IN_FLIGHT);
    let mut published = checkpoint;
    let mut confirmed = checkpoint;
    let mut saved_at = Instant::now();
    loop {
        // Notifications only wake the relay; while it is busy they would pile up unread (one
        // per append transaction), so those that came in meanwhile are dropped here.
        while let Some(notification) = listener.recv().now_or_never() {
            notification?;
        }
        // Whether the service was stopping before this read: only a read that began after the
        // writer had stopped has seen its last commit, so only then may an empty read end it.
        let stopping = shutdown.is_cancelled();
        let room = IN_FLIGHT - in_flight.len();
        let mut read = 0;
        // On shutdown too: everything committed is published before the relay exits.
        if room > 0 {
            let events = EventStore::read_after(&mut db, published, room as i64).await?;
            read = events.len();
            for event in &events {
                in_flight.push_back((
                    event.position,
                    event.recorded_at,
                    publish(&channel, &config.exchange, event).await?,
                ));
            }
            if let Some(last) = events.last() {
                published = last.position;
            }
            if read < room {
                // A short read reached the head.
                metrics::gauge!(crate::metrics::RELAY_LAG_EVENTS).set(0.0);
            }
        }
        // Take the confirms that are in, oldest first.
        while let Some((position, recorded_at, confirm)) = in_flight.front_mut() {
            let Some(confirmation) = confirm.now_or_never() else {
                break;
            };
            confirmed = settle(*position, *recorded_at, confirmation)?;
            in_flight.pop_front();
        }
        // The checkpoint is written at most every CHECKPOINT_EVERY under load (a restart
        // publishes again what came after it: at least once), and at once when all is
        // confirmed.
        if confirmed > checkpoint
            && (in_flight.is_empty() || saved_at.elapsed() >= CHECKPOINT_EVERY)
        {
            save_checkpoint(&mut db, &config.exchange, confirmed).await?;
            checkpoint = confirmed;
            saved_at = Instant::now();
            status.published.store(checkpoint, Ordering::Relaxed);
            metrics::gauge!(crate::metrics::RELAY_PUBLISHED_POSITION).set(checkpoint as f64);
        }
        if read > 0 {
            continue;
        }
        if !broker.status().connected() {
            return Err(RelayError::BrokerClosed);
        }
        let room = in_flight.len() < IN_FLIGHT;
        match in_flight.front_mut() {
            None if stopping => return Ok(()),
            None => {
                tokio::select! {
                    notification = listener.recv() => {
                        // The payload is the new head: how far behind the relay now is.
                        if let Ok(head) = notification?.payload().parse::<i64>() {
                            metrics::gauge!(crate::metrics::RELAY_LAG_EVENTS).set((head - checkpoint).max(0) as f64);
                        }
                    }
                    () = tokio::time::sleep(IDLE_RECHECK) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            // Wait for the oldest confirm, or for new events while there is room for them.
            Some((position, recorded_at, confirm)) => {
                let (position, recorded_at) = (*position, *recorded_at);
                tokio::select! {
                    confirmation = tokio::time::timeout(CONFIRM_TIMEOUT, confirm) => {
                        let confirmation = confirmation.map_err(|_| RelayError::ConfirmTimeout(CONFIRM_TIMEOUT))?;
                        confirmed = settle(position, recorded_at, confirmation)?;
                        in_flight.pop_front();
                    }
                    notification = listener.recv(), if room => {
                        notification?;
                    }
                }
            }
        }
    }
}

/// The position a broker's answer confirms, or the error it is.
fn settle(
    position: i64,
    recorded_at: DateTime<Utc>,
    confirmation: Result<Confirmation, lapin::Error>,
) -> Result<i64, RelayError> {
    if confirmation?.is_nack() {
        metrics::counter!(crate::metrics::RELAY_CONFIRMS, "result" => "nack").increment(1);
        return Err(RelayError::Nacked(position));
    }
    metrics::counter!(crate::metrics::RELAY_CONFIRMS, "result" => "ack").increment(1);
    // From the append's commit to the broker's confirm.
    let behind = (Utc::now() - recorded_at).num_microseconds().unwrap_or(0);
    metrics::histogram!(crate::metrics::RELAY_CONFIRMED_AFTER).record(behind.max(0) as f64 / 1e6);
    Ok(position)
}

async fn save_checkpoint(
    db: &mut PgConnection,
    exchange: &str,
    position: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE event_store.relay_checkpoints SET position = $2, updated_at = now() WHERE name = $1",
        exchange,
        position,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Publishes one event; the broker's confirm comes later.
async fn publish(
    channel: &lapin::Channel,
    exchange: &str,
    event: &StoredEvent,
) -> Result<PublisherConfirm, RelayError> {
    let (body, properties) = crate::message::message(event);
    Ok(channel
        .basic_publish(
            exchange.into(),
            event.event_type.as_str().into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await?)
}
