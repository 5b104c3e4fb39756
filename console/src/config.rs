//! The console's configuration, from environment variables or matching flags. It names the
//! services it fronts and holds no secret: the services check the tokens, not the console.

use std::time::Duration;

use stockflow_telemetry::LogFormat;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "console",
    about = "stockflow's operators' web console, in front of the services' admin APIs"
)]
pub struct Config {
    /// Address the console listens on (port 0 picks a free one).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: String,
    /// Base URL of the command service (the audit log, its metrics).
    #[arg(
        long,
        env = "CONSOLE_COMMANDS_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub commands_url: String,
    /// Base URL of the query service (the event feed).
    #[arg(
        long,
        env = "CONSOLE_QUERIES_URL",
        default_value = "http://127.0.0.1:8082"
    )]
    pub queries_url: String,
    /// Base URL of the projector (projections, rebuilds, dead letters); it also checks the
    /// tokens operators sign in with.
    #[arg(
        long,
        env = "CONSOLE_PROJECTOR_URL",
        default_value = "http://127.0.0.1:8083"
    )]
    pub projector_url: String,
    /// The command service's `/metrics`, when it serves them on a `METRICS_ADDR` of its own
    /// (e.g. `http://command-service:9081/metrics`); by default under its base URL.
    #[arg(long, env = "CONSOLE_COMMANDS_METRICS_URL")]
    pub commands_metrics_url: Option<String>,
    /// The query service's `/metrics`, when apart (see `commands_metrics_url`).
    #[arg(long, env = "CONSOLE_QUERIES_METRICS_URL")]
    pub queries_metrics_url: Option<String>,
    /// The projector's `/metrics`, when apart (see `commands_metrics_url`).
    #[arg(long, env = "CONSOLE_PROJECTOR_METRICS_URL")]
    pub projector_metrics_url: Option<String>,
    /// Mark the session cookie `Secure`: set it when the console is reached over HTTPS.
    #[arg(long, env = "CONSOLE_SECURE_COOKIE", default_value_t = false, action = clap::ArgAction::Set)]
    pub secure_cookie: bool,
    /// How long a session lasts after sign-in (never longer than its token).
    #[arg(long, env = "CONSOLE_SESSION_TTL_SECONDS", default_value_t = 28_800,
          value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub session_ttl_seconds: u64,
    /// How often the overview scrapes the services' metrics and readiness.
    #[arg(long, env = "CONSOLE_SAMPLE_INTERVAL_MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub sample_interval_ms: u64,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// Connections, header time and requests in flight, as for the services.
    #[command(flatten)]
    pub http: stockflow_edge::HttpLimits,
}

impl Config {
    /// The defaults, with whatever the environment sets.
    pub fn defaults() -> Config {
        <Config as clap::Parser>::parse_from(["console"])
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_seconds)
    }

    pub fn sample_interval(&self) -> Duration {
        Duration::from_millis(self.sample_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn flags_set_what_the_environment_would() {
        let config = Config::try_parse_from([
            "console",
            "--listen-addr",
            "0.0.0.0:9000",
            "--projector-url",
            "http://projector:8083",
            "--secure-cookie",
            "true",
            "--session-ttl-seconds",
            "60",
        ])
        .expect("valid flags");
        assert_eq!(config.listen_addr, "0.0.0.0:9000");
        assert_eq!(config.projector_url, "http://projector:8083");
        assert!(config.secure_cookie);
        assert_eq!(config.session_ttl(), Duration::from_secs(60));
    }

    #[test]
    fn a_session_of_no_time_is_refused() {
        assert!(Config::try_parse_from(["console", "--session-ttl-seconds", "0"]).is_err());
        assert!(Config::try_parse_from(["console", "--sample-interval-ms", "5"]).is_err());
    }
}
