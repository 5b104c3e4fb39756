//! The whole benchmark in one run: the baselines, stockflow's scenarios beside them, and the
//! peer, on this box, with each figure set against its SPEC §8 goal.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;
use serde_json::Value;
use sqlx::{Connection as _, PgConnection};

use crate::baselines::{self, Pgbench, Publishing, TableBuild};
use crate::load::{self, Samples, Summary};
use crate::report::{self, Goal};
use crate::system::{BoxError, CpuSnapshot, CpuUse, Service, run_tool};

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

const NAME: &str = "stockflow_bench";
const PEER_DB: &str = "stockflow_bench_peer";
const B1_DB: &str = "stockflow_bench_b1";
const EXCHANGE: &str = "stockflow.bench.events";
const QUEUE: &str = "stockflow.bench.projector";

/// The JSON result of a run.
#[derive(Debug, Serialize)]
pub struct Results {
    pub plan: Plan,
    pub machine: Machine,
    pub baselines: Baselines,
    pub stockflow: Stockflow,
    pub peer: Option<Peer>,
    pub goals: Vec<Goal>,
    /// Failed requests, zero figures and the like: a run with problems is not to be trusted.
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub postgresql: String,
    pub rabbitmq: String,
}

#[derive(Debug, Serialize)]
pub struct Baselines {
    pub b1_place_order_sql: Pgbench,
    pub b1_cpu: CpuUse,
    pub b2_publish: Publishing,
    pub b2_cpu: CpuUse,
    pub b3_primary_key_select: Pgbench,
    pub b3_cpu: CpuUse,
    pub b4_insert_select: TableBuild,
}

#[derive(Debug, Serialize)]
pub struct Stockflow {
    pub max_rate: MaxRate,
    pub half_rate: HalfRate,
    pub product_reads: Summary,
    pub reads_cpu: CpuUse,
    pub hot_product: HotProduct,
    pub rebuild: Value,
    pub peak_rss_mib: Vec<(String, f64)>,
    pub load_generator_cpu_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct MaxRate {
    pub commands: Summary,
    pub events_per_second: f64,
    pub keeps_up: KeepsUp,
    pub cpu: CpuUse,
}

/// Whether the relay and the projector keep up with the commands: how far behind the head
/// each was over the measured stretch, and how long they took to catch up after it.
#[derive(Debug, Default, Serialize)]
pub struct KeepsUp {
    pub relay_lag_max_events: i64,
    pub relay_lag_end_events: i64,
    pub projector_lag_max_events: i64,
    pub projector_lag_end_events: i64,
    /// Lag growth over the stretch, least-squares, in events per second (0 if it keeps up).
    pub projector_lag_growth_per_second: f64,
    pub catch_up_seconds: f64,
    pub verdict: bool,
}

#[derive(Debug, Serialize)]
pub struct HalfRate {
    pub rate: f64,
    pub commands: Summary,
    pub visibility_lag: Summary,
}

#[derive(Debug, Serialize)]
pub struct HotProduct {
    pub seeded_events: u64,
    pub seed_receipts_per_second: f64,
    pub rate: f64,
    pub hot: Summary,
    pub new: Summary,
}

#[derive(Debug, Serialize)]
pub struct Peer {
    pub max_rate: Summary,
    pub half_rate: Summary,
    pub peak_rss_mib: f64,
    pub cpu: CpuUse,
}

pub async fn run(plan: Plan, setup: Setup) -> Result<Results, BoxError> {
    std::fs::create_dir_all(&setup.out)?;
    let mut problems = Vec::new();
    let db_url = |name: &str| format!("{}/{name}", setup.postgres_url);
    let stockflow_db = db_url(NAME);
    let machine = Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        postgresql: server_version(&db_url("postgres")).await?,
        rabbitmq: run_tool("rabbitmqctl", &["version"])
            .await
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into()),
    };

    // Baselines that need nothing of stockflow, on a quiet box.
    eprintln!(
        "B1: place-order SQL via pgbench, {} clients",
        plan.concurrency
    );
    recreate_database(&setup.postgres_url, B1_DB).await?;
    let before = CpuSnapshot::take(&[]);
    let b1 = baselines::b1(&db_url(B1_DB), &setup.out, plan.concurrency, plan.seconds).await?;
    let b1_cpu = CpuSnapshot::take(&[]).since(&before);
    drop_database(&setup.postgres_url, B1_DB).await?;
    eprintln!("B2: {} confirmed persistent publishes", plan.b2_messages);
    let before = CpuSnapshot::take(&[]);
    let b2 = baselines::b2(&setup.amqp_url, "stockflow.bench.b2", plan.b2_messages).await?;
    let b2_cpu = CpuSnapshot::take(&[]).since(&before);

    // stockflow, from an empty store.
    recreate_database(&setup.postgres_url, NAME).await?;
    delete_topology(&setup.amqp_url).await?;
    let secret: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    let ports = [free_port()?, free_port()?, free_port()?];
    let common = vec![
        ("DATABASE_URL", stockflow_db.clone()),
        ("AMQP_URL", setup.amqp_url.clone()),
        ("EVENTS_EXCHANGE", EXCHANGE.to_owned()),
        ("PROJECTOR_QUEUE", QUEUE.to_owned()),
        ("AUTH_JWT_SECRET", secret.clone()),
        ("RATE_LIMIT_PER_SECOND", "0".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
    ];
    let with = |addr: String| {
        let mut env = common.clone();
        env.push(("LISTEN_ADDR", addr));
        env
    };
    let bin = |name: &str| setup.bin_dir.join(name);
    let command_url = format!("http://127.0.0.1:{}", ports[0]);
    let query_url = format!("http://127.0.0.1:{}", ports[1]);
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
        &format!("http://127.0.0.1:{}/readyz", ports[2]),
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
    let services = [&commands, &projector, &queries];
    let token = run_tool_with_env(
        &bin("command-service"),
        &["token", "--scope", "admin", "--subject", "stockflow-bench"],
        &[("AUTH_JWT_SECRET", secret.as_str())],
    )
    .await?
    .trim()
    .to_owned();
    let client = load::client(Some(&token), plan.concurrency * 2);
    let mut db = PgConnection::connect(&stockflow_db).await?;

    register(
        &client,
        &command_url,
        "BENCH",
        plan.products,
        1_000_000_000,
        "reject",
    )
    .await?;
    catch_up(&mut db, Duration::from_secs(60)).await?;

    // 1. The most place-orders the system takes, relay and projector running.
    eprintln!(
        "place-order, closed loop, {} in flight, {} s",
        plan.concurrency, plan.seconds
    );
    let head_before = head(&mut db).await?;
    let cpu_before = CpuSnapshot::take(&services);
    let sampler = tokio::spawn(sample_lag(
        stockflow_db.clone(),
        Duration::from_secs(plan.warmup_seconds),
        Duration::from_secs(plan.seconds),
    ));
    let max = load::closed_loop(
        plan.concurrency,
        Duration::from_secs(plan.warmup_seconds),
        Duration::from_secs(plan.seconds),
        place_order(client.clone(), &command_url, plan.products),
    )
    .await;
    let cpu = CpuSnapshot::take(&services).since(&cpu_before);
    let events = head(&mut db).await? - head_before;
    let lag = sampler.await??;
    let catch_up_seconds = catch_up(&mut db, Duration::from_secs(300)).await?;
    let keeps_up = keeps_up(&lag, catch_up_seconds, max.per_second);
    let max_rate = MaxRate {
        events_per_second: events as f64 / (plan.seconds + plan.warmup_seconds) as f64,
        commands: max,
        keeps_up,
        cpu,
    };
    check(&mut problems, "place-order at the most", &max_rate.commands);

    // 2. Half that rate: latency, and how soon a query sees each command.
    let rate = (max_rate.commands.per_second / 2.0).max(1.0);
    memory_so_far(&services);
    eprintln!("place-order, open loop, {rate:.0}/s, {} s", plan.seconds);
    let half_rate = visibility(&client, &command_url, &query_url, &plan, rate).await;
    check(
        &mut problems,
        "place-order at half rate",
        &half_rate.commands,
    );
    check(&mut problems, "visibility", &half_rate.visibility_lag);
    catch_up(&mut db, Duration::from_secs(60)).await?;

    // 3. Reads, and B3 right after on the same table.
    memory_so_far(&services);
    eprintln!("GET /v1/products/{{sku}}, closed loop, {} s", plan.seconds);
    let products = plan.products;
    let reads_client = client.clone();
    let reads_url = query_url.clone();
    let before = CpuSnapshot::take(&services);
    let product_reads = load::closed_loop(
        plan.concurrency,
        Duration::from_secs(plan.warmup_seconds),
        Duration::from_secs(plan.seconds),
        move |n| {
            reads_client.get(format!(
                "{reads_url}/v1/products/BENCH-{}",
                n as usize % products
            ))
        },
    )
    .await;
    let reads_cpu = CpuSnapshot::take(&services).since(&before);
    check(&mut problems, "product reads", &product_reads);
    eprintln!("B3: primary-key SELECT via pgbench");
    let before = CpuSnapshot::take(&services);
    let b3 = baselines::b3(
        &stockflow_db,
        &setup.out,
        plan.concurrency,
        plan.seconds,
        plan.products,
    )
    .await?;
    let b3_cpu = CpuSnapshot::take(&services).since(&before);

    // 4. A product with a long history against a new one.
    memory_so_far(&services);
    eprintln!("seeding a product with {} events", plan.hot_product_events);
    register(&client, &command_url, "HOT", 1, 1_000_000_000, "reject").await?;
    register(&client, &command_url, "NEW", 1, 1_000_000_000, "reject").await?;
    let seeded = Instant::now();
    seed_receipts(
        &client,
        &command_url,
        "HOT-0",
        plan.hot_product_events - 1,
        plan.concurrency * 2,
    )
    .await?;
    let seed_receipts_per_second =
        (plan.hot_product_events - 1) as f64 / seeded.elapsed().as_secs_f64();
    catch_up(&mut db, Duration::from_secs(600)).await?;
    let hot_rate = (rate / 4.0).clamp(1.0, 400.0);
    memory_so_far(&services);
    eprintln!("hot against new product, open loop, {hot_rate:.0}/s");
    let (hot, new) = hot_and_new(&client, &command_url, &plan, hot_rate).await;
    check(&mut problems, "orders on the hot product", &hot);
    check(&mut problems, "orders on a new product", &new);
    catch_up(&mut db, Duration::from_secs(60)).await?;
    let hot_product = HotProduct {
        seeded_events: plan.hot_product_events,
        seed_receipts_per_second,
        rate: hot_rate,
        hot,
        new,
    };

    // 5. A rebuild of every read model over the whole store, with B4 on the same events.
    memory_so_far(&services);
    eprintln!("rebuild, and B4 on the same events");
    let b4 = baselines::b4(&stockflow_db).await?;
    let mut rebuild_env = common.clone();
    rebuild_env.push(("LOG_FORMAT", "json".to_owned()));
    let rebuild_output = run_tool_with_env(
        &bin("projector"),
        &["rebuild"],
        &rebuild_env
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await?;
    let rebuild: Value = rebuild_output
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("the rebuild printed no report: {rebuild_output}"))?;

    let peak_rss_mib: Vec<(String, f64)> = services
        .iter()
        .map(|s| (s.name.to_owned(), s.peak_rss_mib()))
        .collect();
    let load_generator_cpu_seconds = CpuSnapshot::take(&[]).parts["load generator"];
    drop(db);
    for service in [commands, projector, queries] {
        if let Err(e) = service.stop().await {
            problems.push(e.to_string());
        }
    }

    let peer = if setup.with_peer {
        Some(peer(&plan, &setup, &mut problems).await?)
    } else {
        None
    };
    delete_topology(&setup.amqp_url).await?;

    let stockflow = Stockflow {
        max_rate,
        half_rate,
        product_reads,
        reads_cpu,
        hot_product,
        rebuild,
        peak_rss_mib,
        load_generator_cpu_seconds,
    };
    let baselines = Baselines {
        b1_place_order_sql: b1,
        b1_cpu,
        b2_publish: b2,
        b2_cpu,
        b3_primary_key_select: b3,
        b3_cpu,
        b4_insert_select: b4,
    };
    let goals = report::goals(&stockflow, &baselines);
    for figure in report::figures(&stockflow, &baselines) {
        if figure.1.is_nan() || figure.1 <= 0.0 {
            problems.push(format!("{} is {}", figure.0, figure.1));
        }
    }
    Ok(Results {
        plan,
        machine,
        baselines,
        stockflow,
        peer,
        goals,
        problems,
    })
}

/// Peak memory of each service so far: which stretch of load raised it.
fn memory_so_far(services: &[&Service]) {
    let peaks: Vec<String> = services
        .iter()
        .map(|s| format!("{} {:.0} MiB", s.name, s.peak_rss_mib()))
        .collect();
    eprintln!("  peak memory so far: {}", peaks.join(", "));
}

fn check(problems: &mut Vec<String>, what: &str, summary: &Summary) {
    if summary.errors > 0 {
        problems.push(format!(
            "{what}: {} requests failed, the first with {}",
            summary.errors,
            summary.first_error.as_deref().unwrap_or("?")
        ));
    }
    if summary.requests == 0 {
        problems.push(format!("{what}: no request succeeded"));
    }
}

/// A closed-loop request maker: single-line orders of one unit on a random product.
pub fn place_order(
    client: reqwest::Client,
    url: &str,
    products: usize,
) -> impl Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static {
    let url = format!("{url}/v1/orders");
    move |n| {
        let sku = rand::rng().random_range(0..products);
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"customer_id":"bench-{}","lines":[{{"sku":"BENCH-{sku}","quantity":1}}]}}"#,
                n % 1_000
            ))
    }
}

pub async fn register(
    client: &reqwest::Client,
    url: &str,
    prefix: &str,
    count: usize,
    initial_stock: i64,
    policy: &str,
) -> Result<(), BoxError> {
    let (next, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, next, failed) = (client.clone(), next.clone(), failed.clone());
            let (url, prefix, policy) = (url.to_owned(), prefix.to_owned(), policy.to_owned());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count as u64 {
                        return None;
                    }
                    let body = serde_json::json!({
                        "sku": format!("{prefix}-{i}"), "name": "benchmark product",
                        "unit_price_cents": 100, "currency": "EUR",
                        "initial_stock": initial_stock, "backorder_policy": policy,
                    });
                    let request = client.post(format!("{url}/v1/products")).json(&body);
                    if let Err(e) = load::send(request).await {
                        failed.fetch_add(1, Ordering::Relaxed);
                        return Some(e);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        if let Some(error) = worker.await? {
            return Err(format!("cannot register the benchmark's products: {error}").into());
        }
    }
    Ok(())
}

/// `count` receipts of one unit each on `sku`, `concurrency` at a time.
async fn seed_receipts(
    client: &reqwest::Client,
    url: &str,
    sku: &str,
    count: u64,
    concurrency: usize,
) -> Result<(), BoxError> {
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            let url = format!("{url}/v1/products/{sku}/receipts");
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let request = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(r#"{"quantity":1}"#);
                    load::send(request).await?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await?.map_err(|e| format!("seeding failed: {e}"))?;
    }
    Ok(())
}

pub async fn visibility(
    client: &reqwest::Client,
    command_url: &str,
    query_url: &str,
    plan: &Plan,
    rate: f64,
) -> HalfRate {
    let products = plan.products;
    let outcomes = load::open_loop(rate, Duration::from_secs(plan.seconds), |n, due| {
        let client = client.clone();
        let (command_url, query_url) = (command_url.to_owned(), query_url.to_owned());
        async move {
            let sku = rand::rng().random_range(0..products);
            let request = client
                .post(format!("{command_url}/v1/orders"))
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"customer_id":"bench-{}","lines":[{{"sku":"BENCH-{sku}","quantity":1}}]}}"#,
                    n % 1_000
                ));
            let body = load::send(request).await?;
            let answered = Instant::now();
            let body: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            let (Some(id), Some(position)) = (body["order_id"].as_str(), body["position"].as_i64())
            else {
                return Err(format!("an order answer without order_id and position: {body}"));
            };
            let query = client.get(format!(
                "{query_url}/v1/orders/{id}?min_position={position}"
            ));
            load::send(query).await?;
            Ok((answered - due, answered.elapsed()))
        }
    })
    .await;
    let (mut commands, mut lags) = (Samples::default(), Samples::default());
    for outcome in outcomes {
        match outcome {
            Ok((command, lag)) => {
                commands.latencies.push(command);
                lags.latencies.push(lag);
            }
            Err(e) => commands.fail(e),
        }
    }
    let measured = Duration::from_secs(plan.seconds);
    HalfRate {
        rate,
        commands: commands.summary(measured),
        visibility_lag: lags.summary(measured),
    }
}

/// Orders alternate between the hot product and a new one, so that whatever else the box
/// does weighs on both alike.
async fn hot_and_new(
    client: &reqwest::Client,
    url: &str,
    plan: &Plan,
    rate: f64,
) -> (Summary, Summary) {
    let outcomes = load::open_loop(rate, Duration::from_secs(plan.seconds), |n, due| {
        let client = client.clone();
        let url = url.to_owned();
        async move {
            let sku = if n % 2 == 0 { "HOT-0" } else { "NEW-0" };
            let request = client
                .post(format!("{url}/v1/orders"))
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"customer_id":"bench-hot","lines":[{{"sku":"{sku}","quantity":1}}]}}"#
                ));
            (n % 2 == 0, load::send(request).await.map(|_| due.elapsed()))
        }
    })
    .await;
    let (mut hot, mut new) = (Samples::default(), Samples::default());
    for (is_hot, outcome) in outcomes {
        let samples = if is_hot { &mut hot } else { &mut new };
        match outcome {
            Ok(latency) => samples.latencies.push(latency),
            Err(e) => samples.fail(e),
        }
    }
    let measured = Duration::from_secs(plan.seconds);
    (hot.summary(measured), new.summary(measured))
}

async fn peer(plan: &Plan, setup: &Setup, problems: &mut Vec<String>) -> Result<Peer, BoxError> {
    recreate_database(&setup.postgres_url, PEER_DB).await?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let peer = Service::start(
        "stockflow-peer",
        &setup.bin_dir.join("stockflow-peer"),
        &[
            ("DATABASE_URL", format!("{}/{PEER_DB}", setup.postgres_url)),
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
        ],
        &setup.out.join("stockflow-peer.log"),
        &url,
    )
    .await?;
    let client = load::client(None, plan.concurrency * 2);
    register(
        &client,
        &url,
        "BENCH",
        plan.products,
        1_000_000_000,
        "reject",
    )
    .await?;
    eprintln!(
        "peer: place-order, closed loop, {} in flight, {} s",
        plan.concurrency, plan.seconds
    );
    let before = CpuSnapshot::take(&[&peer]);
    let max_rate = load::closed_loop(
        plan.concurrency,
        Duration::from_secs(plan.warmup_seconds),
        Duration::from_secs(plan.seconds),
        place_order(client.clone(), &url, plan.products),
    )
    .await;
    let cpu = CpuSnapshot::take(&[&peer]).since(&before);
    check(problems, "peer place-order at the most", &max_rate);
    let rate = (max_rate.per_second / 2.0).max(1.0);
    eprintln!("peer: place-order, open loop, {rate:.0}/s");
    let products = plan.products;
    let outcomes = load::open_loop(rate, Duration::from_secs(plan.seconds), |n, due| {
        let request = place_order(client.clone(), &url, products)(n);
        async move { load::send(request).await.map(|_| due.elapsed()) }
    })
    .await;
    let mut samples = Samples::default();
    for outcome in outcomes {
        match outcome {
            Ok(latency) => samples.latencies.push(latency),
            Err(e) => samples.fail(e),
        }
    }
    let half_rate = samples.summary(Duration::from_secs(plan.seconds));
    check(problems, "peer place-order at half rate", &half_rate);
    let peak_rss_mib = peer.peak_rss_mib();
    if let Err(e) = peer.stop().await {
        problems.push(e.to_string());
    }
    drop_database(&setup.postgres_url, PEER_DB).await?;
    Ok(Peer {
        max_rate,
        half_rate,
        peak_rss_mib,
        cpu,
    })
}

/// Lag samples: seconds since the measured stretch began, the head, the relay's and the
/// projector's positions.
type LagSample = (f64, i64, i64, i64);

async fn sample_lag(
    database_url: String,
    warmup: Duration,
    measure: Duration,
) -> Result<Vec<LagSample>, BoxError> {
    let mut db = PgConnection::connect(&database_url).await?;
    tokio::time::sleep(warmup).await;
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < measure {
        let (head, relay, projector): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT position FROM event_store.head),
                    coalesce((SELECT position FROM event_store.relay_checkpoints WHERE name = $1), 0),
                    (SELECT min(position) FROM read.projections)",
        )
        .bind(EXCHANGE)
        .fetch_one(&mut db)
        .await?;
        samples.push((start.elapsed().as_secs_f64(), head, relay, projector));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(samples)
}

/// The relay and projector keep up if, over the stretch, the projector's lag did not grow
/// (least-squares slope under 2 % of the command rate) and they caught up within 5 s after.
fn keeps_up(samples: &[LagSample], catch_up_seconds: f64, commands_per_second: f64) -> KeepsUp {
    let relay: Vec<i64> = samples.iter().map(|s| s.1 - s.2).collect();
    let projector: Vec<(f64, f64)> = samples.iter().map(|s| (s.0, (s.1 - s.3) as f64)).collect();
    let n = projector.len() as f64;
    let growth = if projector.len() >= 2 {
        let (mean_t, mean_l) = (
            projector.iter().map(|p| p.0).sum::<f64>() / n,
            projector.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let covariance: f64 = projector
            .iter()
            .map(|p| (p.0 - mean_t) * (p.1 - mean_l))
            .sum();
        let variance: f64 = projector.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
        if variance > 0.0 {
            covariance / variance
        } else {
            0.0
        }
    } else {
        0.0
    };
    KeepsUp {
        relay_lag_max_events: relay.iter().copied().max().unwrap_or(0),
        relay_lag_end_events: relay.last().copied().unwrap_or(0),
        projector_lag_max_events: projector.iter().map(|p| p.1 as i64).max().unwrap_or(0),
        projector_lag_end_events: projector.last().map_or(0, |p| p.1 as i64),
        projector_lag_growth_per_second: growth,
        catch_up_seconds,
        verdict: growth < 0.02 * commands_per_second.max(1.0) && catch_up_seconds < 5.0,
    }
}

async fn head(db: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT position FROM event_store.head")
        .fetch_one(db)
        .await
}

/// Waits until the relay and the projector have everything; returns how long that took.
async fn catch_up(db: &mut PgConnection, timeout: Duration) -> Result<f64, BoxError> {
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

async fn server_version(url: &str) -> Result<String, BoxError> {
    let mut db = PgConnection::connect(url).await?;
    Ok(sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut db)
        .await?)
}

async fn recreate_database(server: &str, name: &str) -> Result<(), BoxError> {
    drop_database(server, name).await?;
    let mut db = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut db)
        .await?;
    Ok(())
}

async fn drop_database(server: &str, name: &str) -> Result<(), BoxError> {
    let mut db = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut db)
    .await?;
    Ok(())
}

/// Removes the benchmark's exchange and queues, so each run starts empty.
async fn delete_topology(amqp_url: &str) -> Result<(), BoxError> {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let connection =
        lapin::Connection::connect(amqp_url, lapin::ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    for queue in [QUEUE.to_owned(), format!("{QUEUE}.dead-letter")] {
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    for exchange in [EXCHANGE.to_owned(), format!("{QUEUE}.dlx")] {
        channel
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await?;
    }
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}

fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn run_tool_with_env(
    program: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<String, BoxError> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
