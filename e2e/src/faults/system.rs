//! The system under test: the three services as processes, the command service and the
//! projector reaching PostgreSQL and RabbitMQ through a fault proxy each, on a database,
//! exchange and queues of the run's own; started, watched for crashes and cleaned up after.

use std::time::Duration;

use lapin::options::QueueDeleteOptions;
use rand::Rng;
use sqlx::{Connection, PgConnection};
use stockflow_edge::Scope;
use stockflow_event_store::StoredEvent;
use stockflow_event_store::database::primary_options;
use tokio::time::Instant;
use uuid::Uuid;

use super::options::Options;
use super::proxy::FaultProxy;
use super::services::{self, BoxError, Service};
use super::subscriber;
use super::workload::Client;

/// The run's own database, exchange and queues, named after a fresh id.
pub(super) struct Names {
    pub(super) database: String,
    pub(super) exchange: String,
    pub(super) queue: String,
    pub(super) subscriber_queue: String,
}

impl Names {
    pub(super) fn fresh() -> Names {
        let id = Uuid::now_v7().simple().to_string();
        Names {
            database: format!("stockflow_faults_{id}"),
            exchange: format!("stockflow.faults.{id}"),
            queue: format!("stockflow.faults.{id}.projector"),
            subscriber_queue: format!("stockflow.faults.{id}.subscriber"),
        }
    }
}

/// The services under test, the proxies in front of their servers, and what the run has
/// done to them.
pub(super) struct System {
    pub(super) options: Options,
    pub(super) names: Names,
    /// The run's database on every server (on a cluster, the list, the primary first).
    pub(super) direct_database_url: String,
    pub(super) direct_amqp_url: String,
    /// One command service and one projector on the machine's servers; two of each on a
    /// cluster.
    pub(super) commands: Vec<Service>,
    pub(super) projectors: Vec<Service>,
    pub(super) queries: Service,
    /// command-service to PostgreSQL, command-service to RabbitMQ, projector to each (none on
    /// a cluster, whose faults are its nodes').
    pub(super) proxies: Vec<(&'static str, FaultProxy)>,
    pub(super) token: String,
    pub(super) poison: Vec<Vec<u8>>,
    pub(super) crashes: Vec<String>,
}

impl System {
    /// Starts the proxies, declares the subscriber's queue (so that it misses nothing) and
    /// starts the services.
    pub(super) async fn start(options: Options, names: Names) -> Result<System, BoxError> {
        let (direct_database_url, direct_amqp_url) = match &options.cluster {
            Some(topology) => (topology.database_url(&names.database), topology.amqp_url()),
            None => (
                format!(
                    "postgres://postgres@{}/{}",
                    options.postgres_addr, names.database
                ),
                format!("amqp://guest:guest@{}/%2f", options.amqp_addr),
            ),
        };
        let mut proxies = Vec::new();
        if options.cluster.is_none() {
            for name in [
                "command-service → PostgreSQL",
                "command-service → RabbitMQ",
                "projector → PostgreSQL",
                "projector → RabbitMQ",
            ] {
                let target = if name.ends_with("PostgreSQL") {
                    options.postgres_addr
                } else {
                    options.amqp_addr
                };
                proxies.push((name, FaultProxy::start(target).await?));
            }
        }
        // The command service's and the projector's addresses: through their proxies on the
        // machine's servers, every node and server of a cluster as they are.
        let (commands_via, projector_via) = if proxies.is_empty() {
            let direct = (direct_database_url.clone(), direct_amqp_url.clone());
            (direct.clone(), direct)
        } else {
            let through = |i: usize| proxies[i].1.addr();
            let database_via = |i: usize| {
                format!(
                    "postgres://postgres@{}/{}?connect_timeout=5",
                    through(i),
                    names.database
                )
            };
            let amqp_via = |i: usize| format!("amqp://guest:guest@{}/%2f", through(i));
            (
                (database_via(0), amqp_via(1)),
                (database_via(2), amqp_via(3)),
            )
        };

        let secret: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(48)
            .map(char::from)
            .collect();
        let token = stockflow_edge::mint_token(
            &secret,
            "stockflow-faults",
            &[Scope::CommandsWrite, Scope::QueriesRead, Scope::Admin],
            Duration::from_secs(24 * 3600),
        );
        let common = |(database_url, amqp_url): (String, String)| {
            vec![
                ("DATABASE_URL".to_owned(), database_url),
                ("AMQP_URL".to_owned(), amqp_url),
                ("EVENTS_EXCHANGE".to_owned(), names.exchange.clone()),
                ("PROJECTOR_QUEUE".to_owned(), names.queue.clone()),
                ("AUTH_JWT_SECRET".to_owned(), secret.clone()),
                ("RATE_LIMIT_PER_SECOND".to_owned(), "0".to_owned()),
                ("LOG_FORMAT".to_owned(), "json".to_owned()),
                (
                    "RUST_LOG".to_owned(),
                    std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
                ),
            ]
        };
        let instances = if options.cluster.is_some() { 2 } else { 1 };
        let mut commands = Vec::new();
        let mut projectors = Vec::new();
        for n in 1..=instances {
            // The first instance's log keeps the name it always had.
            let log = |name: &str| {
                let file = if n == 1 {
                    format!("{name}.log")
                } else {
                    format!("{name}-{n}.log")
                };
                options.out.join(file)
            };
            commands.push(Service::new(
                "command-service",
                services::binary(&options.bin_dir, "command-service")?,
                common(commands_via.clone()),
                services::free_port()?,
                log("command-service"),
            ));
            projectors.push(Service::new(
                "projector",
                services::binary(&options.bin_dir, "projector")?,
                common(projector_via.clone()),
                services::free_port()?,
                log("projector"),
            ));
        }
        let queries = Service::new(
            "query-service",
            services::binary(&options.bin_dir, "query-service")?,
            common((direct_database_url.clone(), direct_amqp_url.clone())),
            services::free_port()?,
            options.out.join("query-service.log"),
        );
        let mut system = System {
            options,
            names,
            direct_database_url,
            direct_amqp_url,
            commands,
            projectors,
            queries,
            proxies,
            token,
            poison: Vec::new(),
            crashes: Vec::new(),
        };
        subscriber::declare(
            &system.direct_amqp_url,
            &system.names.exchange,
            &system.names.subscriber_queue,
        )
        .await?;
        for service in system.services() {
            service.start().await?;
        }
        Ok(system)
    }

    /// Every service of the run, the command services first, the query service last.
    pub(super) fn services(&mut self) -> impl Iterator<Item = &mut Service> {
        self.commands
            .iter_mut()
            .chain(self.projectors.iter_mut())
            .chain(std::iter::once(&mut self.queries))
    }

    /// Whether every service says it is ready.
    pub(super) async fn all_ready(&self) -> bool {
        for service in self
            .commands
            .iter()
            .chain(&self.projectors)
            .chain(std::iter::once(&self.queries))
        {
            if !service.ready().await {
                return false;
            }
        }
        true
    }

    /// A client of the (first) command service, with the run's token.
    pub(super) fn client(&self, timeout: Duration) -> Client {
        self.client_of(0, timeout)
    }

    /// A client of the command service `n` (counting around), with the run's token.
    pub(super) fn client_of(&self, n: usize, timeout: Duration) -> Client {
        let service = &self.commands[n % self.commands.len()];
        Client::new(service.url(""), self.token.clone(), timeout)
    }

    /// A service that died by itself is a finding; it is started again so the run goes on.
    pub(super) async fn revive_crashed(&mut self) -> Result<(), BoxError> {
        let mut crashes = Vec::new();
        for service in self.services() {
            if let Some(status) = service.exited() {
                crashes.push(format!(
                    "{} on port {} exited by itself ({status})",
                    service.name, service.port
                ));
                service.kill9().await;
                service.start().await?;
            }
        }
        self.crashes.extend(crashes);
        Ok(())
    }

    /// A connection to the run's database on the primary, not through a proxy; retried for
    /// 30 s, as PostgreSQL may be restarting or failing over.
    pub(super) async fn db(&self) -> Result<PgConnection, BoxError> {
        self.db_named(None).await
    }

    /// The same, to `database` on that server instead of the run's.
    async fn db_named(&self, database: Option<&str>) -> Result<PgConnection, BoxError> {
        connect_to_primary(&self.direct_database_url, database).await
    }

    /// Every event in the store.
    pub(super) async fn events(&self) -> Result<Vec<StoredEvent>, BoxError> {
        let mut db = self.db().await?;
        Ok(stockflow_event_store::EventStore::read_after(&mut db, 0, i64::MAX).await?)
    }

    /// A channel straight to RabbitMQ, in confirm mode.
    pub(super) async fn publisher(&self) -> Result<(lapin::Connection, lapin::Channel), BoxError> {
        let connection =
            stockflow_broker::connect(&self.direct_amqp_url, "stockflow-faults-publisher").await?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(Default::default()).await?;
        Ok((connection, channel))
    }

    /// Stops the services and, unless asked to keep them, deletes the run's queues,
    /// exchanges and database.
    pub(super) async fn shutdown(&mut self) {
        for service in self.services() {
            service.stop().await;
        }
        if self.options.keep {
            return;
        }
        if let Ok(connection) =
            stockflow_broker::connect(&self.direct_amqp_url, "stockflow-faults-cleanup").await
            && let Ok(channel) = connection.create_channel().await
        {
            for queue in [
                self.names.queue.clone(),
                stockflow_broker::dead_letter_queue(&self.names.queue),
                self.names.subscriber_queue.clone(),
            ] {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in [
                self.names.exchange.clone(),
                stockflow_broker::dead_letter_exchange(&self.names.queue),
            ] {
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), Default::default())
                    .await;
            }
            let _ = connection.close(200, "done".into()).await;
        }
        if let Ok(mut db) = self.db_named(Some("postgres")).await {
            let drop = format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.names.database
            );
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut db)
                .await;
        }
    }
}

/// A connection to the server of `url` (a list: its primary) that takes writes, to the URL's
/// database or `database`; retried for 30 s, as PostgreSQL may be restarting or failing over.
pub(super) async fn connect_to_primary(
    url: &str,
    database: Option<&str>,
) -> Result<PgConnection, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connected = match primary_options(url).await {
            Ok(options) => {
                let options = match database {
                    Some(name) => options.database(name),
                    None => options,
                };
                PgConnection::connect_with(&options)
                    .await
                    .map_err(BoxError::from)
            }
            Err(e) => Err(e.into()),
        };
        match connected {
            Ok(db) => return Ok(db),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
