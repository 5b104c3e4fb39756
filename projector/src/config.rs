//! The projector's configuration, from environment variables or matching flags.

use stockflow_edge::WebConfig;
use stockflow_edge::args::{BrokerArgs, DatabaseArgs};
use stockflow_telemetry::LogFormat;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Address of the health endpoints, the metrics and the admin API.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8083")]
    pub listen_addr: String,
    /// The projector's queue; `<queue>.dlx` and `<queue>.dead-letter` take what cannot be read.
    #[arg(long, env = "PROJECTOR_QUEUE", default_value = "stockflow.projector")]
    pub projector_queue: String,
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 4)]
    pub database_max_connections: u32,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// The admin API (`/v1/admin/…`, dead letters) takes `admin` tokens signed with
    /// AUTH_JWT_SECRET; without one the projector does not start, unless AUTH_DEV_MODE.
    #[command(flatten)]
    pub web: WebConfig,
    /// Connections, header time and requests in flight (see `stockflow_edge::HttpLimits`).
    #[command(flatten)]
    pub http: stockflow_edge::HttpLimits,
}

#[derive(clap::Parser)]
#[command(
    name = "projector",
    about = "stockflow's projector: events in, read models out"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Project events as they come (the default).
    Run,
    /// Replay the whole store into fresh read models and swap them in, then exit.
    Rebuild {
        /// Events applied per transaction.
        #[arg(long, default_value_t = 20_000)]
        batch: i64,
    },
}

impl Config {
    pub fn defaults() -> Config {
        <Cli as clap::Parser>::parse_from(["projector"]).config
    }
}
