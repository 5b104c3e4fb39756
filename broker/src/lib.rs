//! The broker plumbing every part of stockflow shares: connecting to RabbitMQ (one node or
//! any of a cluster's) with a recognisable name and a time limit, declaring the events
//! exchange and quorum queues, and the names of the queues a projector declares beside its
//! own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use stockflow_telemetry::redact_url;

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

/// Connects to RabbitMQ, each address within [`CONNECT_TIMEOUT`]. The name shows in the
/// management UI and `rabbitmqctl list_connections`, so operators can tell each component's
/// connection apart.
///
/// `url` may list several addresses separated by commas, the nodes of a cluster: they are
/// tried in turn, and the first that connects is kept. Each call starts one address further
/// along the list than the one before, so the connections of a process spread over the
/// nodes, and a reconnect after a node died starts elsewhere. The error of a list names every
/// address tried and why it failed, without passwords. One address is connected to as it
/// always was, its error untouched.
pub async fn connect(url: &str, connection_name: &str) -> Result<Connection, lapin::Error> {
    let addresses = addresses(url);
    if addresses.len() < 2 {
        return connect_one(addresses.first().copied().unwrap_or(url), connection_name).await;
    }
    let start = NEXT_START.fetch_add(1, Ordering::Relaxed);
    let mut failures = Vec::new();
    for index in rotation(addresses.len(), start) {
        let address = addresses[index];
        match connect_one(address, connection_name).await {
            Ok(connection) => {
                if !failures.is_empty() {
                    tracing::warn!(
                        connected = %redact_url(address),
                        failed = %failures.join("; "),
                        connection = connection_name,
                        "connected to RabbitMQ after other nodes failed"
                    );
                }
                return Ok(connection);
            }
            Err(error) => failures.push(format!("{}: {error}", redact_url(address))),
        }
    }
    Err(std::io::Error::other(format!(
        "no RabbitMQ node of {} connects: {}",
        addresses.len(),
        failures.join("; ")
    ))
    .into())
}

async fn connect_one(url: &str, connection_name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(connection_name.into());
    within(Connection::connect(url, properties)).await
}

/// Where the next [`connect`] to a list starts, modulo its length: shared by every list of
/// the process, which only has to move on from one call to the next.
static NEXT_START: AtomicUsize = AtomicUsize::new(0);

/// The addresses of an `AMQP_URL`: one URL, or several separated by commas (blanks around
/// them and empty items are ignored).
pub fn addresses(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .collect()
}

/// The indexes of a list of `len` addresses, each once, from `start` (modulo `len`) round.
fn rotation(len: usize, start: usize) -> impl Iterator<Item = usize> {
    let first = start % len.max(1);
    (0..len).map(move |step| (first + step) % len)
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

/// How many members a quorum queue of stockflow's gets when it is created
/// (`x-quorum-initial-group-size`): three, so that it survives the loss of one node. A
/// cluster of fewer nodes, a single broker included, gives it one member per node.
pub const QUORUM_MEMBERS: i32 = 3;

/// Declares the durable quorum queue `queue` with `arguments`, asking for [`QUORUM_MEMBERS`]
/// members, on `channel`; returns the channel to go on with.
///
/// RabbitMQ compares `x-quorum-initial-group-size` with the queue's own like any argument
/// (3.10 does), and refuses the declaration (PRECONDITION_FAILED, which closes the channel)
/// when the queue exists from before stockflow asked for it. Such a queue is declared again
/// without it, on a new channel of `connection`: it keeps the members it has, and every
/// other argument is still compared. A refusal for another reason is refused again, and
/// returned.
pub async fn declare_quorum_queue(
    connection: &Connection,
    channel: Channel,
    queue: &str,
    mut arguments: FieldTable,
) -> Result<Channel, lapin::Error> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let mut sized = arguments.clone();
    sized.insert(
        "x-quorum-initial-group-size".into(),
        AMQPValue::LongInt(QUORUM_MEMBERS),
    );
    match channel.queue_declare(queue.into(), durable, sized).await {
        Ok(_) => Ok(channel),
        Err(error) if precondition_failed(&error) => {
            let channel = connection.create_channel().await?;
            channel
                .queue_declare(queue.into(), durable, arguments)
                .await?;
            tracing::info!(
                queue,
                "the queue was created before stockflow asked for {QUORUM_MEMBERS} members; it keeps its own"
            );
            Ok(channel)
        }
        Err(error) => Err(error),
    }
}

fn precondition_failed(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        lapin::ErrorKind::ProtocolError(amqp)
            if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
    )
}

#[cfg(test)]
mod tests {
    use super::{addresses, rotation};

    #[test]
    fn a_list_of_addresses_is_split_on_commas() {
        assert_eq!(
            addresses("amqp://a:5701/%2f, amqp://b:5702/%2f,,amqp://c:5703/%2f,"),
            [
                "amqp://a:5701/%2f",
                "amqp://b:5702/%2f",
                "amqp://c:5703/%2f"
            ]
        );
        assert_eq!(
            addresses("amqp://guest:guest@h/%2f"),
            ["amqp://guest:guest@h/%2f"]
        );
        assert!(addresses(" , ").is_empty());
    }

    #[test]
    fn each_connect_starts_one_node_further_and_tries_every_node_once() {
        let orders: Vec<Vec<usize>> = (0..4).map(|start| rotation(3, start).collect()).collect();
        assert_eq!(
            orders,
            [vec![0, 1, 2], vec![1, 2, 0], vec![2, 0, 1], vec![0, 1, 2]]
        );
        // The shared counter wraps without a gap in the rotation.
        assert_eq!(rotation(3, usize::MAX).collect::<Vec<_>>(), [0, 1, 2]);
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
