//! What a fault run is asked to do: how many rounds of faults, how long the pauses, how many
//! clients, and where the servers, binaries and report are.

use std::path::PathBuf;
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the service binaries are.
    pub bin_dir: PathBuf,
    /// Where the report and the services' logs go.
    pub out: PathBuf,
    /// How many times each kind of fault is injected.
    pub rounds: usize,
    /// How long RabbitMQ stays stopped each time.
    pub broker_down: Duration,
    /// Pause between two faults, while the workload goes on.
    pub gap: Duration,
    /// Concurrent clients.
    pub workers: usize,
    pub seed: u64,
    /// PostgreSQL and RabbitMQ, as the services would reach them without a proxy.
    pub postgres_addr: std::net::SocketAddr,
    pub amqp_addr: std::net::SocketAddr,
    /// Keep the database and queues afterwards, to look into a failure.
    pub keep: bool,
}
