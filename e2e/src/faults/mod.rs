//! The fault run (SPEC §3, §5): the three services as processes, each reaching PostgreSQL
//! and RabbitMQ through a fault proxy; a workload of every command kind; and, while it runs,
//! one fault after another: processes killed, the broker stopped, PostgreSQL restarted,
//! connections closed, links slowed or cut, messages duplicated, reordered and poisoned.
//! After quiescence the checker compares what clients were told with what the system holds.

pub mod checker;
pub mod proxy;
pub mod services;
pub mod subscriber;
pub mod workload;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeleteOptions};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use stockflow_store::StoredEvent;
use stockflow_store::web::Scope;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Truth;
use checker::{Counts, Findings, Served};
use proxy::FaultProxy;
use services::{BoxError, Service};
use workload::{Attempt, Client, Outcome};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the service binaries are.
    pub bin_dir: PathBuf,
    /// Where the report and the services' logs go.
    pub out: PathBuf,
    /// How many times each kind of fault is injected.
    pub rounds: usize,
    /// How long RabbitMQ stays stopped each time.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    KillCommandService,
    KillProjector,
    BrokerStopped,
    PostgresRestarted,
    RelayConnectionClosed,
    DuplicatedOutOfOrder,
    PoisonMessages,
    SlowLink,
    LinkReset,
}

impl Fault {
    const ALL: [Fault; 9] = [
        Fault::KillCommandService,
        Fault::KillProjector,
        Fault::BrokerStopped,
        Fault::PostgresRestarted,
        Fault::RelayConnectionClosed,
        Fault::DuplicatedOutOfOrder,
        Fault::PoisonMessages,
        Fault::SlowLink,
        Fault::LinkReset,
    ];
}

#[derive(Debug, Serialize)]
pub struct Injection {
    pub fault: Fault,
    /// Seconds since the workload began.
    pub at: f64,
    pub took: f64,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub counts: Counts,
    pub faults: BTreeMap<String, usize>,
    pub injections: Vec<Injection>,
    /// Services that died without being killed.
    pub crashes: Vec<String>,
    /// How the commands were answered: status and code, or why the outcome is unknown.
    pub outcomes: BTreeMap<String, usize>,
    pub workload_seconds: f64,
    pub quiescence_seconds: f64,
    pub problems: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.counts.violations() == 0 && self.crashes.is_empty()
    }

    pub fn markdown(&self) -> String {
        let c = &self.counts;
        let mut out = String::from("# Fault run\n\n");
        let _ = writeln!(
            out,
            "{} commands over {:.0} s: {} succeeded, {} refused, {} not sent, {} unknown ({} found wholly in, {} wholly out). {} events in the store.\n",
            c.commands,
            self.workload_seconds,
            c.succeeded,
            c.refused,
            c.not_sent,
            c.unknown,
            c.unknown_in,
            c.unknown_out,
            c.events
        );
        out.push_str("| fault | injected |\n| --- | --- |\n");
        for (fault, n) in &self.faults {
            let _ = writeln!(out, "| {fault} | {n} |");
        }
        out.push_str("\n| answer | commands |\n| --- | --- |\n");
        for (answer, n) in &self.outcomes {
            let _ = writeln!(out, "| {answer} | {n} |");
        }
        out.push_str("\n| finding | count |\n| --- | --- |\n");
        for (name, value) in [
            ("lost", c.lost),
            ("unexpected", c.unexpected),
            ("duplicated", c.duplicated),
            ("mismatched", c.mismatched),
            ("partial (not all-or-nothing)", c.partial),
            ("invariant violations", c.invariant_violations),
            ("unexpected refusals", c.unexpected_refusals),
            ("dead-letter mismatches", c.dead_letter_mismatches),
            ("retry mismatches", c.retry_mismatches),
            ("services crashed", self.crashes.len()),
        ] {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        let _ = writeln!(
            out,
            "\nPoison published: {}; dead letters: {}. Redeliveries to the subscriber (allowed): {}. Quiescence took {:.1} s.",
            c.poison_published, c.dead_letters, c.redeliveries, self.quiescence_seconds
        );
        if !self.problems.is_empty() {
            out.push_str("\n## Problems\n\n");
            for problem in self.problems.iter().chain(&self.crashes) {
                let _ = writeln!(out, "- {problem}");
            }
        }
        out
    }
}

struct Names {
    database: String,
    exchange: String,
    queue: String,
    subscriber_queue: String,
}

struct System {
    options: Options,
    names: Names,
    direct_database_url: String,
    direct_amqp_url: String,
    commands: Service,
    projector: Service,
    queries: Service,
    /// command-service to PostgreSQL, command-service to RabbitMQ, projector to each.
    proxies: Vec<(&'static str, FaultProxy)>,
    token: String,
    poison: Vec<Vec<u8>>,
    crashes: Vec<String>,
}

/// Runs the whole thing; the report says whether every promise held.
pub async fn run(options: Options) -> Result<Report, BoxError> {
    std::fs::create_dir_all(&options.out)?;
    let id = Uuid::now_v7().simple().to_string();
    let names = Names {
        database: format!("stockflow_faults_{id}"),
        exchange: format!("stockflow.faults.{id}"),
        queue: format!("stockflow.faults.{id}.projector"),
        subscriber_queue: format!("stockflow.faults.{id}.subscriber"),
    };
    let mut system = System::start(options, names).await?;
    let outcome = system.exercise().await;
    system.shutdown().await;
    outcome
}

impl System {
    async fn start(options: Options, names: Names) -> Result<System, BoxError> {
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
        let token = stockflow_store::web::mint_token(
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

    fn client(&self, timeout: Duration) -> Client {
        Client::new(self.commands.url(""), self.token.clone(), timeout)
    }

    async fn exercise(&mut self) -> Result<Report, BoxError> {
        let deliveries = Arc::new(Mutex::new(subscriber::Deliveries::default()));
        let stop_subscriber = CancellationToken::new();
        let subscriber = tokio::spawn(subscriber::run(
            self.direct_amqp_url.clone(),
            self.names.subscriber_queue.clone(),
            deliveries.clone(),
            stop_subscriber.clone(),
        ));

        let mut attempts = workload::seed(&self.client(Duration::from_secs(30))).await?;

        // The workload, while the faults come one after another.
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let orders = Arc::new(Mutex::new(Vec::new()));
        let client = Arc::new(self.client(Duration::from_secs(10)));
        let workers: Vec<_> = (0..self.options.workers)
            .map(|w| {
                tokio::spawn(workload::worker(
                    client.clone(),
                    self.options.seed * 1000 + w as u64,
                    orders.clone(),
                    stop.clone(),
                    Duration::from_millis(15),
                ))
            })
            .collect();
        let mut schedule: Vec<Fault> = (0..self.options.rounds).flat_map(|_| Fault::ALL).collect();
        schedule.shuffle(&mut StdRng::seed_from_u64(self.options.seed));
        let mut injections = Vec::new();
        tokio::time::sleep(self.options.gap).await;
        for (i, fault) in schedule.into_iter().enumerate() {
            let at = started.elapsed();
            let detail = self.inject(fault, i).await?;
            println!("{:>6.1} s  {fault:?}: {detail}", at.as_secs_f64());
            injections.push(Injection {
                fault,
                at: at.as_secs_f64(),
                took: (started.elapsed() - at).as_secs_f64(),
                detail,
            });
            self.revive_crashed().await?;
            tokio::time::sleep(self.options.gap).await;
        }
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            attempts.extend(worker.await?);
        }
        let workload_seconds = started.elapsed().as_secs_f64();
        println!(
            "{:>6.1} s  the workload stopped after {} commands; waiting for quiescence",
            workload_seconds,
            attempts.len()
        );

        // Quiescence, then the checks.
        let quiet = Instant::now();
        let mut findings = Findings::default();
        let events = self.quiesce(&deliveries).await?;
        checker::check_commands(&attempts, &events, &mut findings);
        self.retry_unknown(&attempts, &events, &mut findings).await;
        let events = self.quiesce(&deliveries).await?;
        let quiescence_seconds = quiet.elapsed().as_secs_f64();
        stop_subscriber.cancel();
        let _ = subscriber.await;
        checker::check_deliveries(
            &events,
            &deliveries.lock().expect("not poisoned"),
            &mut findings,
        );
        let dead = self.drain_dead_letters().await?;
        checker::check_dead_letters(&self.poison, &dead, &mut findings);
        let truth = Truth::from_events(&events);
        checker::check_invariants(&truth, &mut findings);
        let served = self.read_models(&truth).await?;
        checker::check_read_models(&truth, &served, &mut findings);

        let mut faults: BTreeMap<String, usize> = BTreeMap::new();
        for injection in &injections {
            let name = serde_json::to_value(injection.fault)?
                .as_str()
                .unwrap_or("")
                .to_owned();
            *faults.entry(name).or_default() += 1;
        }
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for attempt in &attempts {
            *outcomes.entry(attempt.outcome.summary()).or_default() += 1;
        }
        Ok(Report {
            outcomes,
            counts: findings.counts,
            faults,
            injections,
            crashes: self.crashes.clone(),
            workload_seconds,
            quiescence_seconds,
            problems: findings.problems,
        })
    }

    async fn inject(&mut self, fault: Fault, i: usize) -> Result<String, BoxError> {
        Ok(match fault {
            Fault::KillCommandService => {
                self.commands.kill9().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                self.commands.start().await?;
                "SIGKILL, restarted".into()
            }
            Fault::KillProjector => {
                self.projector.kill9().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                self.projector.start().await?;
                "SIGKILL, restarted".into()
            }
            Fault::BrokerStopped => {
                services::stop_broker_for(self.options.broker_down).await?;
                format!(
                    "rabbitmqctl stop_app, {} s, start_app",
                    self.options.broker_down.as_secs()
                )
            }
            Fault::PostgresRestarted => {
                services::restart_postgres().await?;
                "pg_ctlcluster restart -m fast".into()
            }
            Fault::RelayConnectionClosed => {
                let name = format!("stockflow-relay {}", self.names.exchange);
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    let closed = services::close_broker_connections(&name).await?;
                    if closed > 0 {
                        break format!("{closed} connection closed by the broker");
                    }
                    if Instant::now() > deadline {
                        return Err("the relay had no broker connection for 20 s".into());
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            Fault::DuplicatedOutOfOrder => {
                let n = self.republish_shuffled(i as u64).await?;
                format!("{n} stored events published again, twice each, shuffled")
            }
            Fault::PoisonMessages => {
                let n = self.publish_poison(i).await?;
                format!("{n} poison messages on the projector's queue")
            }
            Fault::SlowLink => {
                let (name, proxy) = &self.proxies[i % self.proxies.len()];
                proxy.set_delay(Duration::from_millis(250));
                tokio::time::sleep(Duration::from_secs(6)).await;
                proxy.set_delay(Duration::ZERO);
                format!("{name}: 250 ms a chunk for 6 s")
            }
            Fault::LinkReset => {
                let (name, proxy) = &self.proxies[i % self.proxies.len()];
                proxy.reset(Duration::from_secs(2));
                format!("{name}: every connection reset, new ones refused for 2 s")
            }
        })
    }

    /// A service that died by itself is a finding; it is started again so the run goes on.
    async fn revive_crashed(&mut self) -> Result<(), BoxError> {
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

    async fn db(&self) -> Result<PgConnection, BoxError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match PgConnection::connect(&self.direct_database_url).await {
                Ok(db) => return Ok(db),
                Err(e) if Instant::now() > deadline => return Err(e.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    async fn events(&self) -> Result<Vec<StoredEvent>, BoxError> {
        let mut db = self.db().await?;
        Ok(stockflow_store::EventStore::read_after(&mut db, 0, i64::MAX).await?)
    }

    async fn publisher(&self) -> Result<(lapin::Connection, lapin::Channel), BoxError> {
        let connection =
            stockflow_store::amqp::connect(&self.direct_amqp_url, "stockflow-faults-publisher")
                .await?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(Default::default()).await?;
        Ok((connection, channel))
    }

    /// Up to 40 recent events, each published twice, in a shuffled order.
    async fn republish_shuffled(&self, seed: u64) -> Result<usize, BoxError> {
        let events = self.events().await?;
        let mut chosen: Vec<&StoredEvent> = events.iter().rev().take(40).collect();
        chosen.extend(chosen.clone());
        chosen.shuffle(&mut StdRng::seed_from_u64(seed));
        let (connection, channel) = self.publisher().await?;
        for event in &chosen {
            let body = serde_json::to_vec(&event.to_cloud_event())?;
            channel
                .basic_publish(
                    self.names.exchange.as_str().into(),
                    event.event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_message_id(event.event_id.to_string().into())
                        .with_content_type("application/cloudevents+json".into()),
                )
                .await?
                .await?;
        }
        let _ = connection.close(200, "done".into()).await;
        Ok(chosen.len() / 2)
    }

    /// Messages no projector can read, straight onto its queue.
    async fn publish_poison(&mut self, i: usize) -> Result<usize, BoxError> {
        let marker = Uuid::now_v7();
        let bodies: Vec<Vec<u8>> = vec![
            format!("not json at all {marker}").into_bytes(),
            format!(r#"{{"specversion":"1.0","id":"{marker}","type":"com.stockflow.order.exploded.v1","position":{i}}}"#)
                .into_bytes(),
            format!(r#"{{"id":"{marker}","data":{{"truncated"#).into_bytes(),
        ];
        let (connection, channel) = self.publisher().await?;
        for body in &bodies {
            channel
                .basic_publish(
                    "".into(),
                    self.names.queue.as_str().into(),
                    BasicPublishOptions::default(),
                    body,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?
                .await?;
        }
        let _ = connection.close(200, "done".into()).await;
        let n = bodies.len();
        self.poison.extend(bodies);
        Ok(n)
    }

    /// Waits until every service is ready, the relay and the projector have reached the
    /// store's head and the subscriber has every event; returns the store's events.
    async fn quiesce(
        &mut self,
        deliveries: &Mutex<subscriber::Deliveries>,
    ) -> Result<Vec<StoredEvent>, BoxError> {
        for (_, proxy) in &self.proxies {
            proxy.set_delay(Duration::ZERO);
        }
        self.revive_crashed().await?;
        let deadline = Instant::now() + Duration::from_secs(240);
        let client = reqwest::Client::new();
        loop {
            let events = self.events().await?;
            let head = events.last().map_or(0, |e| e.position);
            let mut db = self.db().await?;
            let relayed: i64 = sqlx::query_scalar(
                "SELECT coalesce(max(position), 0) FROM event_store.relay_checkpoints",
            )
            .fetch_one(&mut db)
            .await?;
            let projected: i64 =
                sqlx::query_scalar("SELECT coalesce(min(position), 0) FROM read.projections")
                    .fetch_one(&mut db)
                    .await?;
            let delivered = {
                let deliveries = deliveries.lock().expect("not poisoned");
                events
                    .iter()
                    .filter(|e| deliveries.by_id.contains_key(&e.event_id))
                    .count()
            };
            let ready = self.commands.ready().await
                && self.projector.ready().await
                && self.queries.ready().await;
            let projections = client
                .get(self.queries.url("/v1/projections"))
                .bearer_auth(&self.token)
                .send()
                .await
                .ok();
            let projections: Value = match projections {
                Some(r) => r.json().await.unwrap_or(Value::Null),
                None => Value::Null,
            };
            if ready && relayed == head && projected == head && delivered == events.len() {
                return Ok(events);
            }
            let last = format!(
                "head {head}, relayed {relayed}, projected {projected}, delivered {delivered} of {}, all ready: {ready}, projections: {projections}",
                events.len()
            );
            if Instant::now() > deadline {
                return Err(format!("no quiescence within 240 s: {last}").into());
            }
            self.revive_crashed().await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Sends each command whose outcome was unknown once more, with its key: one that went in
    /// must be answered from the idempotency record with the position its events end at; one
    /// that did not may be decided now.
    async fn retry_unknown(
        &self,
        attempts: &[Attempt],
        events: &[StoredEvent],
        findings: &mut Findings,
    ) {
        let mut last_position: BTreeMap<Uuid, i64> = BTreeMap::new();
        for event in events {
            if let Some(c) = checker::correlation_of(event) {
                last_position.insert(c, event.position);
            }
        }
        let client = self.client(Duration::from_secs(30));
        for attempt in attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Unknown { .. }))
        {
            let (outcome, answer) = client
                .send(
                    &attempt.path,
                    &attempt.body,
                    &attempt.idempotency_key,
                    attempt.correlation_id,
                )
                .await;
            let replayed = answer.as_ref().is_some_and(|(headers, _)| {
                headers
                    .get("idempotent-replayed")
                    .is_some_and(|v| v.as_bytes() == b"true")
            });
            let succeeded = matches!(outcome, Outcome::Succeeded { .. });
            let problem = match (last_position.get(&attempt.correlation_id), &outcome) {
                // It went in: the retry must be answered from its record.
                (Some(in_store), Outcome::Succeeded { position, .. })
                    if replayed && position == in_store =>
                {
                    None
                }
                (Some(in_store), _) => Some(format!(
                    "went in (its events end at {in_store}); the retry got {outcome:?}, replayed: {replayed}"
                )),
                // It did not: the retry is decided afresh, or replays a stored refusal; a
                // replayed success would be one with no events.
                (None, Outcome::Succeeded { .. }) if !replayed => None,
                (None, Outcome::Refused { .. }) => None,
                (None, _) => Some(format!(
                    "left nothing in the store; the retry got {outcome:?}, replayed: {replayed} (a success: {succeeded})"
                )),
            };
            if let Some(problem) = problem {
                findings.counts.retry_mismatches += 1;
                findings.problems.push(format!(
                    "{} {} (unknown outcome) {problem}",
                    attempt.kind, attempt.path
                ));
            }
        }
    }

    /// Takes every message off the dead-letter queue.
    async fn drain_dead_letters(&self) -> Result<Vec<Vec<u8>>, BoxError> {
        let connection =
            stockflow_store::amqp::connect(&self.direct_amqp_url, "stockflow-faults-inspector")
                .await?;
        let channel = connection.create_channel().await?;
        let queue = format!("{}.dead-letter", self.names.queue);
        let mut bodies = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await?
        {
            bodies.push(message.delivery.data.clone());
        }
        let _ = connection.close(200, "done".into()).await;
        Ok(bodies)
    }

    async fn get(&self, path: &str, head: i64) -> Result<Value, BoxError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let response = reqwest::Client::new()
            .get(
                self.queries
                    .url(&format!("{path}{separator}min_position={head}")),
            )
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status} {body}").into());
        }
        Ok(body)
    }

    async fn all_items(&self, path: &str, head: i64) -> Result<Vec<Value>, BoxError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match &cursor {
                Some(c) => format!("{path}?limit=500&cursor={c}"),
                None => format!("{path}?limit=500"),
            };
            let body = self.get(&page, head).await?;
            items.extend(body["items"].as_array().cloned().unwrap_or_default());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }

    async fn read_models(&self, truth: &Truth) -> Result<Served, BoxError> {
        let head = truth.head;
        let mut customers = BTreeMap::new();
        for customer in truth.customers.keys() {
            customers.insert(
                customer.clone(),
                self.get(&format!("/v1/customers/{customer}"), head).await?,
            );
        }
        let mut db = self.db().await?;
        let order_lines = sqlx::query_as(
            "SELECT order_id, sku, quantity, reserved, backordered, unit_price_cents \
             FROM read.order_lines ORDER BY order_id, line_no",
        )
        .fetch_all(&mut db)
        .await?;
        Ok(Served {
            products: self.all_items("/v1/products", head).await?,
            orders: self.all_items("/v1/orders", head).await?,
            order_lines,
            customers,
            sales_by_sku: self.get("/v1/analytics/sales?group_by=sku", head).await?["rows"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            replenishments: self.all_items("/v1/replenishments", head).await?,
        })
    }

    async fn shutdown(&mut self) {
        self.commands.stop().await;
        self.projector.stop().await;
        self.queries.stop().await;
        if self.options.keep {
            return;
        }
        if let Ok(connection) =
            stockflow_store::amqp::connect(&self.direct_amqp_url, "stockflow-faults-cleanup").await
            && let Ok(channel) = connection.create_channel().await
        {
            for queue in [
                self.names.queue.clone(),
                format!("{}.dead-letter", self.names.queue),
                self.names.subscriber_queue.clone(),
            ] {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in [
                self.names.exchange.clone(),
                format!("{}.dlx", self.names.queue),
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
