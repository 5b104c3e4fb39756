//! Starting, stopping and talking to the services of one test's pipeline.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use stockflow_event_store::StoredEvent;
use stockflow_testkit::{BrokerNames, Running, TestDatabase, broker_args, database_args};

/// What a stack's responses are: read whole, with the kit's assertions.
pub type Response = stockflow_testkit::TestResponse;

/// The kit's test configuration, with a longer time limit: a whole pipeline under a
/// concurrent workload on a small machine can be slow to answer.
fn web_config() -> stockflow_edge::WebConfig {
    stockflow_edge::WebConfig {
        request_timeout_ms: 30_000,
        ..stockflow_testkit::web_config()
    }
}

/// A command service on the store at `database_url`, relaying to `exchange` at `amqp_url`.
fn command_config(
    database_url: &str,
    amqp_url: &str,
    exchange: &str,
) -> stockflow_command_service::Config {
    stockflow_command_service::Config {
        database: database_args(database_url, true),
        broker: broker_args_at(amqp_url, exchange),
        listen_addr: "127.0.0.1:0".into(),
        web: web_config(),
        ..stockflow_command_service::Config::defaults()
    }
}

/// The broker at `amqp_url` (one address or a list), with the events on `exchange`.
fn broker_args_at(amqp_url: &str, exchange: &str) -> stockflow_edge::args::BrokerArgs {
    stockflow_edge::args::BrokerArgs {
        url: amqp_url.to_owned(),
        ..broker_args(exchange)
    }
}

/// A client whose every request carries a token for commands and queries.
fn authorized_client() -> reqwest::Client {
    use stockflow_edge::Scope;
    stockflow_testkit::authorized_client(&[Scope::CommandsWrite, Scope::QueriesRead])
}

enum Projector {
    InProcess(Running),
    Process(tokio::process::Child),
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Whether the command service relays events to RabbitMQ.
    pub relay: bool,
    /// Whether the projector starts with the stack, in this process.
    pub projector: bool,
    /// How long a query waits for `min_position`.
    pub min_position_timeout_ms: u64,
    /// The query service's `DATABASE_URL` when it is not the stack's: a replica's, say. The
    /// query service then leaves creating and migrating the database to the others.
    pub query_database_url: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            relay: true,
            projector: true,
            min_position_timeout_ms: 10_000,
            query_database_url: None,
        }
    }
}

pub struct Stack {
    pub database: String,
    /// As the services take it: one URL, or a list of a cluster's servers.
    pub database_url: String,
    /// As the services take it: one URL, or a list of a cluster's nodes.
    pub amqp_url: String,
    pub exchange: String,
    pub queue: String,
    pub client: reqwest::Client,
    commands: Running,
    queries: Running,
    /// Behind a lock so that a test may kill and restart it while its workload shares the
    /// stack (`Arc<Stack>`). Never held across an await.
    projector: Mutex<Option<Projector>>,
    /// Dropped after the services are told to stop (fields drop in order, after
    /// `Drop::drop`): the database, the queues and the exchanges go with the test. None on
    /// servers of the test's own ([`Stack::on`]).
    _database: Option<TestDatabase>,
    _broker: Option<BrokerNames>,
}

impl Stack {
    pub async fn spawn() -> Stack {
        Stack::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Stack {
        stockflow_testkit::init_logs();
        let test_database = TestDatabase::migrated().await;
        let broker = BrokerNames::new("e2e");
        let servers = Servers {
            database: test_database.name.clone(),
            database_url: test_database.url.clone(),
            amqp_url: stockflow_testkit::amqp_url(),
            exchange: broker.exchange.clone(),
            queue: broker.queue.clone(),
        };
        Stack::start(options, servers, Some(test_database), Some(broker)).await
    }

    /// A stack on servers of the test's own, which it removes itself: `database_url` and
    /// `amqp_url` as the services take them (comma-separated lists for a cluster), the
    /// database named in each address of `database_url` not created yet (the services create
    /// and migrate it on the primary). The exchange and queues get names of their own.
    pub async fn on(options: Options, database_url: &str, amqp_url: &str) -> Stack {
        stockflow_testkit::init_logs();
        let id = stockflow_testkit::unique("");
        let database = stockflow_event_store::database::addresses(database_url)
            .first()
            .and_then(|first| stockflow_event_store::database::connect_options(first).ok())
            .and_then(|options| options.get_database().map(str::to_owned))
            .expect("database_url names a database");
        let servers = Servers {
            database,
            database_url: database_url.to_owned(),
            amqp_url: amqp_url.to_owned(),
            exchange: format!("stockflow.e2e.{id}"),
            queue: format!("stockflow.e2e.{id}.projector"),
        };
        Stack::start(options, servers, None, None).await
    }

    async fn start(
        options: Options,
        servers: Servers,
        test_database: Option<TestDatabase>,
        broker: Option<BrokerNames>,
    ) -> Stack {
        let Servers {
            database,
            database_url,
            amqp_url,
            exchange,
            queue,
        } = servers;
        let commands = Running::start(
            stockflow_command_service::App::build(stockflow_command_service::Config {
                relay: options.relay,
                ..command_config(&database_url, &amqp_url, &exchange)
            })
            .await
            .expect("the command service starts"),
        );
        let queries = {
            let url = options
                .query_database_url
                .as_deref()
                .unwrap_or(&database_url);
            let config = stockflow_query_service::Config {
                database: database_args(url, true),
                listen_addr: "127.0.0.1:0".into(),
                min_position_timeout_ms: options.min_position_timeout_ms,
                web: web_config(),
                ..stockflow_query_service::Config::defaults()
            };
            Running::start(
                stockflow_query_service::App::build(config)
                    .await
                    .expect("the query service starts"),
            )
        };
        let stack = Stack {
            database,
            database_url,
            amqp_url,
            exchange,
            queue,
            client: authorized_client(),
            commands,
            queries,
            projector: Mutex::new(None),
            _database: test_database,
            _broker: broker,
        };
        if options.projector {
            stack.start_projector().await;
        }
        stack
    }

    /// A command service configuration on this stack's store and exchange, for a second
    /// instance beside the stack's own.
    pub fn command_config(&self) -> stockflow_command_service::Config {
        command_config(&self.database_url, &self.amqp_url, &self.exchange)
    }

    /// The projector configuration on this stack's store, exchange and queue.
    pub fn projector_config(&self) -> stockflow_projector::Config {
        stockflow_projector::Config {
            database: database_args(&self.database_url, true),
            broker: broker_args_at(&self.amqp_url, &self.exchange),
            listen_addr: "127.0.0.1:0".into(),
            projector_queue: self.queue.clone(),
            web: web_config(),
            ..stockflow_projector::Config::defaults()
        }
    }

    fn projector(&self) -> MutexGuard<'_, Option<Projector>> {
        self.projector
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts the projector in this process.
    pub async fn start_projector(&self) {
        assert!(self.projector().is_none(), "a projector is running already");
        let app = stockflow_projector::App::build(self.projector_config())
            .await
            .expect("the projector starts");
        let projector = Projector::InProcess(Running::start(app));
        let mut slot = self.projector();
        assert!(slot.is_none(), "a projector is running already");
        *slot = Some(projector);
    }

    /// Starts the projector as a child process of `binary`.
    pub fn start_projector_process(&self, binary: &Path) {
        let mut slot = self.projector();
        assert!(slot.is_none(), "a projector is running already");
        let config = self.projector_config();
        let child = tokio::process::Command::new(binary)
            .env("DATABASE_URL", &config.database.url)
            .env("AMQP_URL", &config.broker.url)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("EVENTS_EXCHANGE", &config.broker.events_exchange)
            .env("PROJECTOR_QUEUE", &config.projector_queue)
            .env(
                "AUTH_JWT_SECRET",
                config.web.auth_jwt_secret.as_deref().unwrap_or_default(),
            )
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .spawn()
            .expect("the projector process starts");
        *slot = Some(Projector::Process(child));
    }

    /// Stops the projector: gracefully in this process, with SIGKILL as a process.
    /// Sends SIGTERM to the projector process and waits for it to exit by itself; returns its
    /// exit status (`None` if it was not a process or did not exit within `timeout`).
    pub async fn terminate_projector(&self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let projector = self.projector().take();
        let Some(Projector::Process(mut child)) = projector else {
            return None;
        };
        let pid = child.id()?;
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                let _ = child.kill().await;
                None
            }
        }
    }

    pub async fn stop_projector(&self) {
        let projector = self.projector().take();
        match projector {
            Some(Projector::InProcess(mut service)) => service.stop().await,
            Some(Projector::Process(mut child)) => {
                let _ = child.kill().await;
            }
            None => {}
        }
    }

    pub fn command_url(&self, path: &str) -> String {
        self.commands.url(path)
    }

    pub fn query_url(&self, path: &str) -> String {
        self.queries.url(path)
    }

    /// `http://<addr><path>` on the projector running in this process (its health and its
    /// operators' API); panics if none does.
    pub fn projector_url(&self, path: &str) -> String {
        match self.projector().as_ref() {
            Some(Projector::InProcess(service)) => service.url(path),
            _ => panic!("no projector runs in this process"),
        }
    }

    pub async fn command(&self, path: &str, body: Value) -> Response {
        stockflow_testkit::send(self.client.post(self.command_url(path)).json(&body)).await
    }

    pub async fn query(&self, path: &str) -> Response {
        stockflow_testkit::send(self.client.get(self.query_url(path))).await
    }

    /// A query that waits until the read models have reached `position`.
    pub async fn query_at(&self, path: &str, position: i64) -> Response {
        let separator = if path.contains('?') { '&' } else { '?' };
        self.query(&format!("{path}{separator}min_position={position}"))
            .await
    }

    /// A connection to the stack's database, on the server that takes writes when
    /// `database_url` lists several.
    pub async fn db(&self) -> PgConnection {
        let options = stockflow_event_store::database::primary_options(&self.database_url)
            .await
            .expect("the test database's server takes writes");
        PgConnection::connect_with(&options)
            .await
            .expect("the test database is reachable")
    }

    pub async fn head(&self) -> i64 {
        let mut db = self.db().await;
        sqlx::query_scalar("SELECT position FROM event_store.head")
            .fetch_one(&mut db)
            .await
            .expect("a head")
    }

    pub async fn events(&self) -> Vec<StoredEvent> {
        stockflow_testkit::truth::all_events(&mut self.db().await).await
    }

    /// Waits until the read models reach `position` (or panics after `timeout`).
    pub async fn wait_for_projection(&self, position: i64, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut db = self.db().await;
        loop {
            let at: i64 = sqlx::query_scalar("SELECT min(position) FROM read.projections")
                .fetch_one(&mut db)
                .await
                .expect("projections are readable");
            if at >= position {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the read models stayed at {at}, short of {position}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a projector consumes the stack's queue (or panics after `timeout`). It has
    /// then declared the queue and caught up with the store, so whatever is published from
    /// now on reaches it through RabbitMQ alone.
    pub async fn wait_for_consumer(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let consumers = stockflow_testkit::inspect_queue(&self.queue)
                .await
                .map_or(0, |queue| queue.consumer_count());
            if consumers > 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no projector consumes {} after {timeout:?}",
                self.queue
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publishes raw bytes to the stack's exchange, as if a relay had.
    pub async fn publish(&self, routing_key: &str, body: &[u8]) {
        let connection = stockflow_broker::connect(&self.amqp_url, "stockflow-e2e-publisher")
            .await
            .expect("RabbitMQ is reachable");
        let channel = connection.create_channel().await.expect("a channel");
        channel
            .confirm_select(Default::default())
            .await
            .expect("confirms");
        stockflow_broker::declare_events_exchange(&channel, &self.exchange)
            .await
            .expect("the exchange");
        channel
            .basic_publish(
                self.exchange.as_str().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
        let _ = connection.close(200, "done".into()).await;
    }

    /// Publishes a stored event in its CloudEvents form.
    pub async fn publish_event(&self, event: &StoredEvent) {
        let body = serde_json::to_vec(&event.to_cloud_event()).expect("serializes");
        self.publish(&event.event_type, &body).await;
    }

    /// Dead letters: those the projector recorded in the store, and any waiting in its
    /// dead-letter queue (the safety net for what the store could not take).
    pub async fn dead_letters(&self) -> u32 {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM ops.dead_letters")
            .fetch_one(&mut self.db().await)
            .await
            .expect("the dead letters can be counted");
        let queued =
            stockflow_testkit::inspect_queue(&stockflow_broker::dead_letter_queue(&self.queue))
                .await
                .expect("the dead-letter queue exists")
                .message_count();
        u32::try_from(stored).expect("a few") + queued
    }

    /// The reason kinds of the dead letters in the store, oldest first.
    pub async fn dead_letter_kinds(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT reason_kind FROM ops.dead_letters ORDER BY id")
            .fetch_all(&mut self.db().await)
            .await
            .expect("the dead letters can be read")
    }
}

/// Where a stack's services find their database and broker, and its names on them.
struct Servers {
    database: String,
    database_url: String,
    amqp_url: String,
    exchange: String,
    queue: String,
}

impl Drop for Stack {
    /// The services in this process are told to stop as their fields drop; a projector
    /// process is killed.
    fn drop(&mut self) {
        let projector = self
            .projector
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(Projector::Process(child)) = projector.as_mut() {
            let _ = child.start_kill();
        }
    }
}
