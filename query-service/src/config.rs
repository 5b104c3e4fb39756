//! The query service's configuration, from environment variables or matching flags.

use std::time::Duration;

use stockflow_edge::args::DatabaseArgs;
use stockflow_telemetry::LogFormat;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "query-service",
    about = "stockflow's query API over the read models"
)]
pub struct Config {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address the HTTP API listens on (port 0 picks a free one).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8082")]
    pub listen_addr: String,
    /// Largest number of PostgreSQL connections the queries use (the two notification
    /// listeners hold one more each).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
    /// How long a request with `min_position` waits for the read models before 503.
    #[arg(long, env = "MIN_POSITION_TIMEOUT_MS", default_value_t = 5000)]
    pub min_position_timeout_ms: u64,
    /// How often the projections' position is re-read, in case a notification was missed.
    #[arg(long, env = "PROJECTION_POLL_INTERVAL_MS", default_value_t = 1000)]
    pub projection_poll_interval_ms: u64,
    /// How often an idle event stream (`/v1/events` as Server-Sent Events) gets a comment
    /// line, so that proxies and clients keep it open.
    #[arg(long, env = "FEED_HEARTBEAT_INTERVAL_MS", default_value_t = 15_000)]
    pub feed_heartbeat_interval_ms: u64,
    /// How often the store's head is re-read for the event streams, in case a notification
    /// of a new commit was missed.
    #[arg(long, env = "FEED_POLL_INTERVAL_MS", default_value_t = 2000)]
    pub feed_poll_interval_ms: u64,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub web: stockflow_edge::WebConfig,
    /// Connections, header time and requests in flight (see `stockflow_edge::HttpLimits`).
    #[command(flatten)]
    pub http: stockflow_edge::HttpLimits,
}

impl Config {
    /// The defaults, as if no variable or flag were given.
    pub fn defaults() -> Config {
        <Config as clap::Parser>::parse_from(["query-service"])
    }

    pub fn min_position_timeout(&self) -> Duration {
        Duration::from_millis(self.min_position_timeout_ms)
    }

    /// Never below 10 ms: a zero interval would turn the safety net into a busy loop.
    pub fn projection_poll_interval(&self) -> Duration {
        Duration::from_millis(self.projection_poll_interval_ms.max(10))
    }

    /// Never below 10 ms, for the same reason.
    pub fn feed_poll_interval(&self) -> Duration {
        Duration::from_millis(self.feed_poll_interval_ms.max(10))
    }

    /// Never below 10 ms: a stream of nothing but comments helps nobody.
    pub fn feed_heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.feed_heartbeat_interval_ms.max(10))
    }
}
