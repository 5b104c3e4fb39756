//! The broker plumbing every part of stockflow shares: connecting to RabbitMQ with a
//! recognisable name and a time limit, declaring the events exchange, and the names of the
//! queues a projector declares beside its own.

use std::time::Duration;

use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

/// The topic exchange events are published to, unless configured otherwise.
pub const DEFAULT_EVENTS_EXCHANGE: &str = "stockflow.events";
/// The projector's queue, unless configured otherwise.
pub const DEFAULT_PROJECTOR_QUEUE: &str = "stockflow.projector";

/// The fanout exchange that takes what a queue's consumer rejects: `<queue>.dlx`.
pub fn dead_letter_exchange(queue: &str) -> String {
    format!("{queue}.dlx")
}

/// The queue that keeps what a queue's consumer rejects: `<queue>.dead-letter`.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead-letter")
}

/// How long opening a connection (TCP, then the AMQP handshake) may take. A broker that is
/// starting or stopping may take the TCP connection and never finish the handshake, and the
/// client would wait for it forever; past this, the attempt fails and the caller's retry
/// loop tries again.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Connects to RabbitMQ, within [`CONNECT_TIMEOUT`]. The name shows in the management UI and
/// `rabbitmqctl list_connections`, so operators can tell each component's connection apart.
pub async fn connect(url: &str, connection_name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(connection_name.into());
    within(Connection::connect(url, properties)).await
}

/// One step of setting up a broker session (opening a channel, declaring, consuming), failed
/// if the broker does not answer within [`CONNECT_TIMEOUT`], for the same reason as
/// [`connect`].
pub async fn within<T>(
    step: impl Future<Output = Result<T, lapin::Error>>,
) -> Result<T, lapin::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, step).await {
        Ok(done) => done,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the broker did not answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        )
        .into()),
    }
}

/// Declares the durable topic exchange events are published to (idempotent).
pub async fn declare_events_exchange(
    channel: &Channel,
    exchange: &str,
) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}

#[cfg(test)]
mod tests {
    /// A broker that takes the TCP connection and never speaks (one that is starting, or a
    /// half-dead proxy) must not hold a relay or projector forever: the attempt fails, and
    /// their retry loops try again.
    #[tokio::test]
    async fn a_broker_that_never_answers_the_handshake_fails_the_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!(
            "amqp://guest:guest@{}/%2f",
            listener.local_addr().expect("an address")
        );
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let error = super::connect(&url, "stockflow-test")
            .await
            .expect_err("no broker answered, yet it connected");
        assert!(
            error.to_string().contains("did not answer"),
            "unexpected error: {error}"
        );
        silent.abort();
    }
}
