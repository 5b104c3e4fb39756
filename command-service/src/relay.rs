//! The relay publishes committed events to RabbitMQ in position order (SPEC §5.3). It is woken
//! by the store's NOTIFY, publishes a batch with publisher confirms and many messages in
//! flight, and advances its checkpoint only once the broker has confirmed them all. When the
//! broker or the database connection fails it reconnects, re-declares the exchange and
//! publishes again from its checkpoint: delivery is at least once, and subscribers dedupe on
//! the event id. Of several relays on one exchange, the one holding an advisory lock
//! publishes; the others stand by.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{Connection, PgConnection};
use stockflow_events::CLOUDEVENTS_CONTENT_TYPE;
use stockflow_store::{EventStore, StoredEvent, amqp};
use tokio_util::sync::CancellationToken;

/// Events read and published per round; all of them are in flight at once.
const BATCH: i64 = 1_000;
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
    pub database: PgConnectOptions,
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
    let channel = broker.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    amqp::declare_events_exchange(&channel, &config.exchange).await?;

    // Leadership and reading share one connection: if it dies, the lock goes with it, and
    // this relay notices on its next read.
    let mut db = PgConnection::connect_with(&config.database).await?;
    loop {
        let leader: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('stockflow.relay:' || $1))")
                .bind(&config.exchange)
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
        PgListener::connect_with(&sqlx::PgPool::connect_lazy_with(config.database.clone())).await?;
    listener.listen("stockflow_events").await?;
    sqlx::query("INSERT INTO event_store.relay_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT DO NOTHING")
        .bind(&config.exchange)
        .execute(&mut db)
        .await?;
    let mut checkpoint: i64 =
        sqlx::query_scalar("SELECT position FROM event_store.relay_checkpoints WHERE name = $1")
            .bind(&config.exchange)
            .fetch_one(&mut db)
            .await?;
    status.published.store(checkpoint, Ordering::Relaxed);
    status.set(RelayState::Active);
    *backoff = Duration::from_millis(100);
    tracing::info!(exchange = %config.exchange, checkpoint, "relay publishing");

    loop {
        let events = EventStore::read_after(&mut db, checkpoint, BATCH).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            tokio::select! {
                notification = listener.recv() => {
                    // The payload is the new head: how far behind the relay now is.
                    if let Ok(head) = notification?.payload().parse::<i64>() {
                        metrics::gauge!("stockflow_relay_lag_events").set((head - checkpoint).max(0) as f64);
                    }
                }
                () = tokio::time::sleep(IDLE_RECHECK) => {}
                () = shutdown.cancelled() => {}
            }
            if !broker.status().connected() {
                return Err(RelayError::BrokerClosed);
            }
            continue;
        };
        publish(&channel, &config.exchange, &events).await?;
        sqlx::query("UPDATE event_store.relay_checkpoints SET position = $2, updated_at = now() WHERE name = $1")
            .bind(&config.exchange)
            .bind(last)
            .execute(&mut db)
            .await?;
        checkpoint = last;
        status.published.store(checkpoint, Ordering::Relaxed);
        metrics::gauge!("stockflow_relay_published_position").set(checkpoint as f64);
        if events.len() < BATCH as usize {
            // A short read reached the head.
            metrics::gauge!("stockflow_relay_lag_events").set(0.0);
        }
    }
}

/// Publishes a batch, all in flight at once, and returns once every message is confirmed.
async fn publish(
    channel: &lapin::Channel,
    exchange: &str,
    events: &[StoredEvent],
) -> Result<(), RelayError> {
    let mut confirms = Vec::with_capacity(events.len());
    for event in events {
        let cloud_event = event.to_cloud_event();
        let body = serde_json::to_vec(&cloud_event).expect("a CloudEvent always serializes");
        let mut headers = FieldTable::default();
        headers.insert("position".into(), AMQPValue::LongLongInt(event.position));
        let mut properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(CLOUDEVENTS_CONTENT_TYPE.into())
            .with_message_id(event.event_id.to_string().into())
            .with_type(cloud_event.event_type.as_str().into())
            .with_app_id("stockflow".into())
            .with_timestamp(u64::try_from(event.recorded_at.timestamp()).unwrap_or(0))
            .with_headers(headers);
        if let Some(correlation_id) = cloud_event.correlationid {
            properties = properties.with_correlation_id(correlation_id.to_string().into());
        }
        let confirm = channel
            .basic_publish(
                exchange.into(),
                event.event_type.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?;
        confirms.push((event.position, confirm));
    }
    for (position, confirm) in confirms {
        let confirmation = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
            .await
            .map_err(|_| RelayError::ConfirmTimeout(CONFIRM_TIMEOUT))??;
        if confirmation.is_nack() {
            metrics::counter!("stockflow_relay_confirms_total", "result" => "nack").increment(1);
            return Err(RelayError::Nacked(position));
        }
        metrics::counter!("stockflow_relay_confirms_total", "result" => "ack").increment(1);
    }
    Ok(())
}
