//! The command service's configuration, from environment variables or matching flags.

use stockflow_edge::args::{BrokerArgs, DatabaseArgs};
use stockflow_edge::{Scope, WebConfig};
use stockflow_telemetry::LogFormat;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The broker the relay publishes to.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Address the HTTP API listens on (port 0 picks a free one).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8081")]
    pub listen_addr: String,
    /// Largest number of PostgreSQL connections the service holds.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 8)]
    pub database_max_connections: u32,
    /// Run the relay in this process (turn off to run it elsewhere).
    #[arg(long, env = "RELAY", default_value_t = true, action = clap::ArgAction::Set)]
    pub relay: bool,
    /// Messages per second a replay publishes, at most (docs/api.md, "Replaying events into
    /// a queue"); a replay goes slower while it makes live commands slower.
    #[arg(long, env = "REPLAY_RATE", default_value_t = 2_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub replay_rate: u32,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub web: WebConfig,
    /// Connections, header time and requests in flight (see `stockflow_edge::HttpLimits`).
    #[command(flatten)]
    pub http: stockflow_edge::HttpLimits,
}

#[derive(clap::Parser)]
#[command(
    name = "command-service",
    about = "stockflow's command API and event relay"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Serve the command API and relay events (the default).
    Run,
    /// Print a bearer token signed with AUTH_JWT_SECRET, for clients and operators.
    Token {
        /// Who the token is for (its `sub`); rate limits count per subject.
        #[arg(long, default_value = "developer")]
        subject: String,
        /// Scopes it grants; repeat for several.
        #[arg(long = "scope", value_enum, required = true)]
        scopes: Vec<Scope>,
        /// How long it stays valid.
        #[arg(long, default_value_t = 24 * 3600)]
        ttl_seconds: u64,
    },
}

impl Config {
    /// The defaults, as if no variable or flag were given.
    pub fn defaults() -> Config {
        <Cli as clap::Parser>::parse_from(["command-service"]).config
    }
}
