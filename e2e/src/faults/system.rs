//! The system under test: the three services as processes, the command service and the
//! projector reaching PostgreSQL and RabbitMQ through a fault proxy each, on a database,
//! exchange and queues of the run's own; started, watched for crashes and cleaned up after.

use std::time::Duration;

use lapin::options::QueueDeleteOptions;
use rand::Rng;
use sqlx::{Connection, PgConnection};
use stockflow_edge::Scope;
use stockflow_event_store::StoredEvent;
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
    pub(super) direct_database_url: String,
    pub(super) direct_amqp_url: String,
    pub(super) commands: Service,
    pub(super) projector: Service,
    pub(super) queries: Service,
    /// command-service to PostgreSQL, command-service to RabbitMQ, projector to each.
    pub(super) proxies: Vec<(&'static str, FaultProxy)>,
    pub(super) token: String,
    pub(super) poison: Vec<Vec<u8>>,
    pub(super) crashes: Vec<String>,
}

impl System {
    /// Starts the proxies, declares the subscriber's queue (so that it misses nothing) and
    /// starts the services.
    pub(super) async fn start(options: Options, names: Names) -> Result<System, BoxError> {
        let direct_database_url = format!(
            "postgres://postgres@{}/{}",
            options.postgres_addr, names.database
        );
        let direct_amqp_url = format!("amqp://guest:guest@{}/%2f", options.amqp_addr);
        let mut proxies = Vec::new();
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
        let through = |i: usize| proxies[i].1.addr();
        let database_via = |i: usize| {
            format!(
                "postgres://postgres@{}/{}?connect_timeout=5",
                through(i),
                names.database
            )
        };
        let amqp_via = |i: usize| format!("amqp://guest:guest@{}/%2f", through(i));

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
        let common = |database_url: String, amqp_url: String| {
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
        let bin = |name| services::binary(&options.bin_dir, name);
        let log = |name: &str| options.out.join(format!("{name}.log"));
        let commands = Service::new(
            "command-service",
            bin("command-service")?,
            common(database_via(0), amqp_via(1)),
            services::free_port()?,
            log("command-service"),
        );
        let projector = Service::new(
            "projector",
            bin("projector")?,
            common(database_via(2), amqp_via(3)),
            services::free_port()?,
            log("projector"),
        );
        let queries = Service::new(
            "query-service",
            bin("query-service")?,
            common(direct_database_url.clone(), direct_amqp_url.clone()),
            services::free_port()?,
            log("query-service"),
        );
        let mut system = System {
            options,
            names,
            direct_database_url,
            direct_amqp_url,
            commands,
            projector,
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
        system.commands.start().await?;
        system.projector.start().await?;
        system.queries.start().await?;
        Ok(system)
    }

    /// A client of the command service, with the run's token.
    pub(super) fn client(&self, timeout: Duration) -> Client {
        Client::new(self.commands.url(""), self.token.clone(), timeout)
    }

    /// A service that died by itself is a finding; it is started again so the run goes on.
    pub(super) async fn revive_crashed(&mut self) -> Result<(), BoxError> {
        for service in [&mut self.commands, &mut self.projector, &mut self.queries] {
            if let Some(status) = service.exited() {
                self.crashes
                    .push(format!("{} exited by itself ({status})", service.name));
                service.kill9().await;
                service.start().await?;
            }
        }
        Ok(())
    }

    /// A connection to the run's database, not through a proxy; retried for 30 s, as
    /// PostgreSQL may be restarting.
    pub(super) async fn db(&self) -> Result<PgConnection, BoxError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match PgConnection::connect(&self.direct_database_url).await {
                Ok(db) => return Ok(db),
                Err(e) if Instant::now() > deadline => return Err(e.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
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
        self.commands.stop().await;
        self.projector.stop().await;
        self.queries.stop().await;
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
        let admin = format!(
            "postgres://postgres@{}/postgres",
            self.options.postgres_addr
        );
        if let Ok(mut db) = PgConnection::connect(&admin).await {
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
