//! The peer's configuration, from flags or the matching environment variables.

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "stockflow-peer",
    about = "stockflow's RegisterProduct and PlaceOrder on cqrs-es + postgres-es, for the benchmark"
)]
pub struct Config {
    /// PostgreSQL for the peer's events; the database and its tables are created if missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/stockflow_peer"
    )]
    pub database_url: String,
    /// Address the HTTP API listens on (port 0 picks a free one).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8091")]
    pub listen_addr: String,
    /// Largest number of PostgreSQL connections held (stockflow's default too).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 8)]
    pub database_max_connections: u32,
    /// Attempts at a command whose aggregate other writers keep moving, before 409
    /// `concurrency_conflict`. High, because every concurrent order on a product conflicts.
    #[arg(long, env = "PEER_CONFLICT_ATTEMPTS", default_value_t = 32)]
    pub conflict_attempts: u32,
}

impl Config {
    /// The defaults, as if no variable or flag were given, aimed at `database_url`.
    pub fn for_database(database_url: impl Into<String>) -> Config {
        Config {
            database_url: database_url.into(),
            listen_addr: "127.0.0.1:8091".into(),
            database_max_connections: 8,
            conflict_attempts: 32,
        }
    }
}
