//! Command-line and environment arguments that several processes take alike, flattened into
//! each one's own configuration.

/// The PostgreSQL database and whether to migrate it at startup.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL holding the event store and the read models; created if missing. One URL,
    /// or several separated by commas (a primary and its replicas): the command service and
    /// the projector use the one that takes writes and follow it when another is promoted;
    /// the query service only reads, so its list may name replicas only, and it uses the first
    /// that answers, creating and migrating the database only where it takes writes.
    #[arg(
        id = "database_url",
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/stockflow"
    )]
    pub url: String,
    /// Apply pending migrations at startup (set false where a separate step migrates).
    #[arg(long, env = "MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,
}

/// The RabbitMQ broker and the topic exchange events are published to.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// RabbitMQ: one URL, or several separated by commas (the nodes of a cluster), tried in
    /// turn at each connect.
    #[arg(
        id = "amqp_url",
        long = "amqp-url",
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub url: String,
    /// The topic exchange events are published to.
    #[arg(long, env = "EVENTS_EXCHANGE", default_value = "stockflow.events")]
    pub events_exchange: String,
}
