//! stockflow under test: its three services started on free ports against a database,
//! exchange and queue of the benchmark's own, and how far the relay and the projector are
//! behind the store's head.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::Rng;
use sqlx::PgConnection;

use crate::database::recreate_database;
use crate::load;
use crate::plan::{Plan, Setup};
use crate::system::{BoxError, Service, free_port, run_tool_with_env};

/// The benchmark's database.
pub const DATABASE: &str = "stockflow_bench";
/// The events exchange; the relay's checkpoint goes by its name.
pub const EXCHANGE: &str = "stockflow.bench.events";
/// The projector's queue.
pub const QUEUE: &str = "stockflow.bench.projector";

/// Messages per second a replay publishes at most: the command service's default
/// (docs/api.md), set explicitly so that the benchmark knows what it asked for.
pub const REPLAY_RATE: u32 = 2_000;

/// The exchange the projector's queue sends what it rejects to: as
/// `stockflow_broker::dead_letter_exchange` names it.
fn dead_letter_exchange(queue: &str) -> String {
    format!("{queue}.dlx")
}

/// The queue that keeps what the projector rejects: as `stockflow_broker::dead_letter_queue`
/// names it.
fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead-letter")
}

/// Where a run's services keep their events: a database, exchange and queue of the run's
/// own, made afresh when it starts.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub database: &'static str,
    pub exchange: &'static str,
    pub queue: &'static str,
}

/// The benchmark's names.
pub const BENCH: Names = Names {
    database: DATABASE,
    exchange: EXCHANGE,
    queue: QUEUE,
};

/// The command service, the projector and the query service, running.
pub struct Stack {
    pub commands: Service,
    pub projector: Service,
    pub queries: Service,
    pub command_url: String,
    pub query_url: String,
    pub projector_url: String,
    pub database_url: String,
    /// What every service is started with, but its listening address.
    pub env: Vec<(&'static str, String)>,
    /// An HTTP client with an admin token.
    pub client: reqwest::Client,
    /// That admin token.
    pub token: String,
    secret: String,
    bin_dir: PathBuf,
}

impl Stack {
    /// Starts the services from an empty store and broker topology.
    pub async fn start(plan: &Plan, setup: &Setup) -> Result<Stack, BoxError> {
        Stack::start_with(setup, BENCH, &[], plan.concurrency * 2).await
    }

    /// Starts the services on a store and topology named `names`, emptied first, with
    /// `settings` added to (or replacing) what they are started with; the admin client keeps
    /// up to `pool` idle connections.
    pub async fn start_with(
        setup: &Setup,
        names: Names,
        settings: &[(&'static str, String)],
        pool: usize,
    ) -> Result<Stack, BoxError> {
        let database_url = setup.database_url(names.database);
        recreate_database(&setup.postgres_url, names.database).await?;
        delete_topology_of(&setup.amqp_url, names).await?;
        let secret: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(48)
            .map(char::from)
            .collect();
        let ports = [free_port()?, free_port()?, free_port()?];
        let mut env = vec![
            ("DATABASE_URL", database_url.clone()),
            ("AMQP_URL", setup.amqp_url.clone()),
            ("EVENTS_EXCHANGE", names.exchange.to_owned()),
            ("PROJECTOR_QUEUE", names.queue.to_owned()),
            ("AUTH_JWT_SECRET", secret.clone()),
            ("RATE_LIMIT_PER_SECOND", "0".to_owned()),
            // The benchmark measures latency, not shedding (the abuse run does): at half rate,
            // a stall of a few hundred milliseconds in the relay keeps more `min_position`
            // reads waiting than the default 512 in flight, and the query service would
            // answer the rest 503 `overloaded`.
            ("HTTP_MAX_IN_FLIGHT", "8192".to_owned()),
            ("HTTP_MAX_CONNECTIONS", "8192".to_owned()),
            ("REPLAY_RATE", REPLAY_RATE.to_string()),
            ("LOG_FORMAT", "json".to_owned()),
        ];
        for (key, value) in settings {
            env.retain(|(k, _)| k != key);
            env.push((key, value.clone()));
        }
        let with = |addr: String| {
            let mut env = env.clone();
            env.push(("LISTEN_ADDR", addr));
            env
        };
        let bin = |name: &str| setup.bin_dir.join(name);
        let command_url = format!("http://127.0.0.1:{}", ports[0]);
        let query_url = format!("http://127.0.0.1:{}", ports[1]);
        let projector_url = format!("http://127.0.0.1:{}", ports[2]);
        let commands = Service::start(
            "command-service",
            &bin("command-service"),
            &with(format!("127.0.0.1:{}", ports[0])),
            &setup.out.join("command-service.log"),
            &format!("{command_url}/readyz"),
        )
        .await?;
        let projector = Service::start(
            "projector",
            &bin("projector"),
            &with(format!("127.0.0.1:{}", ports[2])),
            &setup.out.join("projector.log"),
            &format!("{projector_url}/readyz"),
        )
        .await?;
        let queries = Service::start(
            "query-service",
            &bin("query-service"),
            &with(format!("127.0.0.1:{}", ports[1])),
            &setup.out.join("query-service.log"),
            &format!("{query_url}/readyz"),
        )
        .await?;
        let token = mint(&bin("command-service"), &secret, "admin", "stockflow-bench").await?;
        Ok(Stack {
            commands,
            projector,
            queries,
            command_url,
            query_url,
            projector_url,
            database_url,
            env,
            client: load::client(Some(&token), pool),
            token,
            secret,
            bin_dir: setup.bin_dir.clone(),
        })
    }

    /// A token of `scope` for `subject`, signed with the services' secret.
    pub async fn token(&self, scope: &str, subject: &str) -> Result<String, BoxError> {
        mint(&self.bin("command-service"), &self.secret, scope, subject).await
    }

    pub fn services(&self) -> [&Service; 3] {
        [&self.commands, &self.projector, &self.queries]
    }

    /// Where the binary `name` of the workspace is.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Peak memory of each service so far: which stretch of load raised it.
    pub fn memory_so_far(&self) {
        let peaks: Vec<String> = self
            .services()
            .iter()
            .map(|s| format!("{} {:.0} MiB", s.name, s.peak_rss_mib()))
            .collect();
        eprintln!("  peak memory so far: {}", peaks.join(", "));
    }

    /// Peak resident memory of each service since it started, in MiB.
    pub fn peak_rss_mib(&self) -> Vec<(String, f64)> {
        self.services()
            .iter()
            .map(|s| (s.name.to_owned(), s.peak_rss_mib()))
            .collect()
    }

    /// Stops the services; a service that does not stop cleanly is a problem of the run.
    pub async fn stop(self, problems: &mut Vec<String>) {
        for service in [self.commands, self.projector, self.queries] {
            if let Err(e) = service.stop().await {
                problems.push(e.to_string());
            }
        }
    }
}

/// A token signed with `secret`, as the command service's `token` command makes it.
async fn mint(
    command_service: &std::path::Path,
    secret: &str,
    scope: &str,
    subject: &str,
) -> Result<String, BoxError> {
    Ok(run_tool_with_env(
        command_service,
        &["token", "--scope", scope, "--subject", subject],
        &[("AUTH_JWT_SECRET", secret)],
    )
    .await?
    .trim()
    .to_owned())
}

/// The store's head: the position of its last event.
pub async fn head(db: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT position FROM event_store.head")
        .fetch_one(db)
        .await
}

/// Waits until the relay and the projector have everything; returns how long that took.
pub async fn catch_up(db: &mut PgConnection, timeout: Duration) -> Result<f64, BoxError> {
    let started = Instant::now();
    loop {
        let behind: bool = sqlx::query_scalar(
            "SELECT (SELECT position FROM event_store.head) >
                    LEAST(coalesce((SELECT position FROM event_store.relay_checkpoints WHERE name = $1), 0),
                          (SELECT min(position) FROM read.projections))",
        )
        .bind(EXCHANGE)
        .fetch_one(&mut *db)
        .await?;
        if !behind {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "the relay and projector did not catch up within {} s",
                timeout.as_secs()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Removes the benchmark's exchange and queues, so each run starts empty.
pub async fn delete_topology(amqp_url: &str) -> Result<(), BoxError> {
    delete_topology_of(amqp_url, BENCH).await
}

/// Removes the exchange and queues named `names`.
pub async fn delete_topology_of(amqp_url: &str, names: Names) -> Result<(), BoxError> {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let connection =
        lapin::Connection::connect(amqp_url, lapin::ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    for queue in [names.queue.to_owned(), dead_letter_queue(names.queue)] {
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    for exchange in [names.exchange.to_owned(), dead_letter_exchange(names.queue)] {
        channel
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await?;
    }
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}
