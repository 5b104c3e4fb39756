//! What a run is asked to do: how big it is ([`Plan`]) and where things are ([`Setup`]).

use std::path::PathBuf;

use serde::Serialize;

/// How big a run is.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub quick: bool,
    /// Requests in flight in the closed loops (and pgbench clients for B1 and B3).
    pub concurrency: usize,
    /// Seconds of each measured stretch of load.
    pub seconds: u64,
    pub warmup_seconds: u64,
    pub products: usize,
    /// Events on the hot product's stream before its latency is compared with a new one's.
    pub hot_product_events: u64,
    /// Messages published for B2.
    pub b2_messages: u64,
    /// Products registered, with some history, for the stock-as-of-an-instant scenario.
    pub stock_products: usize,
    /// Times that scenario reads the whole listing.
    pub stock_repetitions: usize,
}

impl Plan {
    pub fn full() -> Plan {
        Plan {
            quick: false,
            concurrency: 32,
            seconds: 20,
            warmup_seconds: 3,
            products: 1_000,
            hot_product_events: 1_000_000,
            b2_messages: 200_000,
            stock_products: 10_000,
            stock_repetitions: 5,
        }
    }

    /// A smoke run: every scenario, briefly, to show it works and gives sane figures.
    pub fn quick() -> Plan {
        Plan {
            quick: true,
            concurrency: 8,
            seconds: 2,
            warmup_seconds: 1,
            products: 50,
            hot_product_events: 2_000,
            b2_messages: 5_000,
            stock_products: 600,
            stock_repetitions: 3,
        }
    }
}

/// Where things are.
#[derive(Debug, Clone)]
pub struct Setup {
    /// A PostgreSQL server URL without a database name (`postgres://user@host:port`).
    pub postgres_url: String,
    pub amqp_url: String,
    /// Where the workspace's release (or debug) binaries are.
    pub bin_dir: PathBuf,
    /// Where logs, scripts and the results go.
    pub out: PathBuf,
    pub with_peer: bool,
}

impl Setup {
    /// The URL of database `name` on the benchmark's PostgreSQL server.
    pub fn database_url(&self, name: &str) -> String {
        format!("{}/{name}", self.postgres_url)
    }
}
