//! The broker connection: connecting with a recognisable name, and declaring the events
//! exchange every publisher and subscriber relies on.

use std::time::Duration;

use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

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

/// The URL with any password replaced, fit for logs.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        },
        None => "<invalid url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            super::redact_url("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        // No password, nothing to hide.
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("nonsense"), "<invalid url>");
    }

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
