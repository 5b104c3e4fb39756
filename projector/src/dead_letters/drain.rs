//! Draining the broker's dead-letter queue into the store at start-up: what an earlier
//! projector nacked there (or what the store could not take) is consumed, inserted, then
//! acked, so that nothing stays where stockflow cannot list it.

use lapin::Connection;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use sqlx::PgPool;
use stockflow_broker as amqp;

use super::{ReasonKind, Rejection, store};
use crate::transient::is_transient;

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Moves every message of `queue` into the store; returns how many it moved. A message the
/// store refuses for its content stays in the queue (the safety net) and ends the drain; an
/// outage is an error, and what was taken but not acked goes back to the queue with the
/// channel.
pub async fn drain(connection: &Connection, queue: &str, pool: &PgPool) -> Result<u64, DrainError> {
    let channel = amqp::within(connection.create_channel()).await?;
    let mut moved = 0;
    let drained = loop {
        let message =
            amqp::within(channel.basic_get(queue.into(), BasicGetOptions::default())).await?;
        let Some(message) = message else {
            break Ok(moved);
        };
        let delivery = message.delivery;
        let rejection = match super::decode(&delivery.data) {
            Err(rejection) => rejection,
            Ok(envelope) => Rejection {
                kind: ReasonKind::Unapplied,
                text: format!(
                    "found in the dead-letter queue {queue}, where an earlier projector put \
                     it; it decodes now: replay it"
                ),
                event_id: Some(envelope.id),
                position: Some(envelope.position),
            },
        };
        let letter = super::amqp::dead_letter(&delivery, rejection);
        match store::insert(pool, &letter).await {
            Ok(_) => {
                delivery.ack(BasicAckOptions::default()).await?;
                moved += 1;
            }
            Err(error) if is_transient(&error) => break Err(error.into()),
            Err(error) => {
                tracing::error!(%error, queue, "a dead letter the store cannot take stays in the dead-letter queue");
                break Ok(moved);
            }
        }
    };
    // Unacked messages (one the store refused) go back to the queue.
    let _ = channel.close(200, "drained".into()).await;
    drained
}
