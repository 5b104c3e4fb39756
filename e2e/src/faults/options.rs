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
    /// How long RabbitMQ (on a cluster: one node's broker app) stays stopped each time.
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
    /// Run on the clusters of `scripts/cluster` instead of the machine's servers.
    pub cluster: Option<Topology>,
}

/// The clusters of `scripts/cluster`, as its `env` verb names them.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The script, whose verbs break and mend the clusters.
    pub script: PathBuf,
    /// Every RabbitMQ node's URL, node 1 first.
    pub amqp_urls: Vec<String>,
    /// Every PostgreSQL server's URL without its database, the primary first.
    pub servers: Vec<String>,
}

impl Topology {
    /// Reads the addresses from `script env` (the lines `AMQP_URL=…` and `DATABASE_URL=…`).
    pub fn from_env_lines(script: PathBuf, lines: &str) -> Result<Topology, String> {
        let list = |name: &str| -> Result<Vec<String>, String> {
            let value = lines
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .ok_or_else(|| format!("no {name}… line in {lines:?}"))?;
            Ok(value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect())
        };
        let servers = list("DATABASE_URL=")?
            .into_iter()
            .map(|url| {
                url.rsplit_once('/')
                    .map_or(url.clone(), |(server, _)| server.to_owned())
            })
            .collect();
        Ok(Topology {
            script,
            amqp_urls: list("AMQP_URL=")?,
            servers,
        })
    }

    /// `DATABASE_URL` for the services: `database` on every server, the primary first.
    pub fn database_url(&self, database: &str) -> String {
        let urls: Vec<String> = self
            .servers
            .iter()
            .map(|server| format!("{server}/{database}"))
            .collect();
        urls.join(",")
    }

    /// `AMQP_URL` for the services: every node.
    pub fn amqp_url(&self) -> String {
        self.amqp_urls.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_addresses_are_read_from_the_scripts_env_lines() {
        let topology = Topology::from_env_lines(
            "scripts/cluster".into(),
            "AMQP_URL=amqp://u:p@127.0.0.1:5701/%2f,amqp://u:p@127.0.0.1:5702/%2f\n\
             DATABASE_URL=postgres://postgres@127.0.0.1:5442/stockflow,postgres://postgres@127.0.0.1:5443/stockflow\n\
             REPLICA_URL=postgres://postgres@127.0.0.1:5443/stockflow\n",
        )
        .expect("both lines");
        assert_eq!(topology.amqp_urls.len(), 2);
        assert_eq!(
            topology.database_url("runs"),
            "postgres://postgres@127.0.0.1:5442/runs,postgres://postgres@127.0.0.1:5443/runs"
        );
        assert!(Topology::from_env_lines("s".into(), "AMQP_URL=x\n").is_err());
    }
}
