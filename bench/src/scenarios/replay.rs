//! Live latency during a replay: place-orders at one rate in an open loop, first alone, then
//! while the command service replays the whole store into a queue of the benchmark's own,
//! which an ack-only subscriber drains; then the replay alone for a while, to see the rate it
//! keeps when nothing else runs, and a cancel (a whole store takes longer than a benchmark).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use serde_json::Value;
use sqlx::PgConnection;
use tokio::task::JoinHandle;

use super::{check, place_order};
use crate::load::{self, Samples, Summary};
use crate::plan::{Plan, Setup};
use crate::results::{ReplayLatency, ReplayRun};
use crate::stack::{REPLAY_RATE, Stack, catch_up};
use crate::system::BoxError;

/// The queue the replay goes to; nothing else is bound to it.
const QUEUE: &str = "stockflow.bench.replay";
/// Deliveries the subscriber holds unacknowledged at most.
const PREFETCH: u16 = 1_000;
/// The error a cancelled replay reports (docs/api.md).
const CANCELLED: &str = "cancelled by an operator";
/// How long a replay takes to speed up to its rate once the commands stop, at most.
const RAMP: Duration = Duration::from_secs(5);
/// How often the replay's progress is read.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Place-orders at `rate`, alone for three of the plan's stretches, then for as long again
/// while a replay of the whole store runs (less if it ends sooner): p99s of stretches of one
/// length compare fairly. Then the replay alone, and a cancel if it is still running.
pub async fn replay_latency(
    plan: &Plan,
    setup: &Setup,
    stack: &Stack,
    db: &mut PgConnection,
    rate: f64,
    problems: &mut Vec<String>,
) -> Result<ReplayLatency, BoxError> {
    let subscriber = Subscriber::start(&setup.amqp_url).await?;
    stack.memory_so_far();
    eprintln!(
        "place-order, open loop, {rate:.0}/s, {} s alone",
        3 * plan.seconds
    );
    let stretch = Duration::from_secs(plan.seconds);
    let (alone, alone_for) = orders(stack, plan, rate, 3 * stretch, &AtomicBool::new(false)).await;
    check(problems, "place-order before the replay", &alone);
    catch_up(db, Duration::from_secs(60)).await?;

    let (id, to) = start_replay(stack).await?;
    let url = replay_url(stack, &id);
    eprintln!(
        "place-order, open loop, {rate:.0}/s, for {} s while {to} events are replayed",
        3 * plan.seconds
    );
    let ended = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch(stack.client.clone(), url.clone(), ended.clone()));
    let (during, during_for) = orders(stack, plan, rate, 3 * stretch, &ended).await;
    check(problems, "place-order during a replay", &during);
    let with_commands = progress(stack, &url).await?;

    // The replay alone: it speeds up to its rate within a few seconds, then is measured for
    // two stretches (its progress is written once a second, so a longer stretch reads it
    // closer).
    eprintln!(
        "the replay alone for {} s, then {} s measured",
        RAMP.as_secs(),
        2 * plan.seconds
    );
    wait_unless(&ended, RAMP).await;
    let ramped = progress(stack, &url).await?;
    let quiet_from = Instant::now();
    wait_unless(&ended, 2 * stretch).await;
    let quiet = progress(stack, &url).await?;
    let quiet_for = quiet_from.elapsed();
    ended.store(true, Ordering::Relaxed);
    let _ = watcher.await;
    let last = if quiet.status == "running" {
        cancel(stack, &url).await?;
        // It stops within a second of the cancel, then writes what it published last.
        tokio::time::sleep(Duration::from_secs(2)).await;
        progress(stack, &url).await?
    } else {
        quiet.clone()
    };
    let (status, completed) = match (last.status.as_str(), last.error.as_deref()) {
        ("done", _) => ("done".to_owned(), true),
        ("failed", Some(CANCELLED)) => ("cancelled".to_owned(), false),
        (state, error) => {
            problems.push(format!("the replay ended {state}: {error:?}"));
            (format!("{state}: {error:?}"), false)
        }
    };
    let delivered = subscriber.stop(last.published).await?;
    stack.memory_so_far();
    catch_up(db, Duration::from_secs(60)).await?;
    Ok(ReplayLatency {
        rate,
        alone,
        alone_seconds: alone_for.as_secs_f64(),
        during,
        during_seconds: during_for.as_secs_f64(),
        replay: ReplayRun {
            rate_limit: REPLAY_RATE,
            to,
            with_commands: with_commands.published,
            with_commands_per_second: with_commands.published as f64
                / during_for.as_secs_f64().max(1e-9),
            quiet_per_second: (quiet.published - ramped.published) as f64
                / quiet_for.as_secs_f64().max(1e-9),
            quiet_seconds: quiet_for.as_secs_f64(),
            published: last.published,
            status,
            completed,
            delivered,
        },
    })
}

/// Single-line place-orders at `rate`, each timed from its due time, until `stop` is set or
/// `limit` has passed; how long they were sent for.
async fn orders(
    stack: &Stack,
    plan: &Plan,
    rate: f64,
    limit: Duration,
    stop: &AtomicBool,
) -> (Summary, Duration) {
    let request = place_order(stack.client.clone(), &stack.command_url, plan.products);
    let (outcomes, sent_for) = load::open_loop_until(rate, limit, stop, |n, due| {
        let request = request(n);
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
    (samples.summary(sent_for), sent_for)
}

/// Asks for a replay of every stored event into the benchmark's queue: its id and the
/// last position it covers.
async fn start_replay(stack: &Stack) -> Result<(String, i64), BoxError> {
    let request = stack
        .client
        .post(format!("{}/v1/admin/replays", stack.command_url))
        .json(&serde_json::json!({ "queue": QUEUE }));
    let body = load::send(request)
        .await
        .map_err(|e| format!("cannot start a replay: {e}"))?;
    let started: Value = serde_json::from_slice(&body)?;
    match (started["replay_id"].as_str(), started["to"].as_i64()) {
        (Some(id), Some(to)) => Ok((id.to_owned(), to)),
        _ => Err(format!("a replay's start answered {started}").into()),
    }
}

/// Waits for `time`, or less if `ended` is set.
async fn wait_unless(ended: &AtomicBool, time: Duration) {
    let from = Instant::now();
    while from.elapsed() < time && !ended.load(Ordering::Relaxed) {
        tokio::time::sleep(POLL_EVERY).await;
    }
}

fn replay_url(stack: &Stack, id: &str) -> String {
    format!("{}/v1/admin/replays/{id}", stack.command_url)
}

/// A replay as its `GET /v1/admin/replays/{id}` (or its cancel) answered.
#[derive(Debug, Clone)]
struct Progress {
    status: String,
    error: Option<String>,
    published: i64,
}

impl Progress {
    fn read(body: &[u8]) -> Result<Progress, BoxError> {
        let status: Value = serde_json::from_slice(body)?;
        Ok(Progress {
            status: status["status"].as_str().unwrap_or("?").to_owned(),
            error: status["error"].as_str().map(str::to_owned),
            published: status["published"].as_i64().unwrap_or(0),
        })
    }
}

async fn progress(stack: &Stack, url: &str) -> Result<Progress, BoxError> {
    Progress::read(&load::send(stack.client.get(url)).await?)
}

async fn cancel(stack: &Stack, url: &str) -> Result<Progress, BoxError> {
    let request = stack.client.post(format!("{url}/cancel"));
    let body = load::send(request)
        .await
        .map_err(|e| format!("cannot cancel the replay: {e}"))?;
    Progress::read(&body)
}

/// Reads the replay's progress until it ends (and then sets `ended`) or `ended` is set.
async fn watch(client: reqwest::Client, url: String, ended: Arc<AtomicBool>) {
    while !ended.load(Ordering::Relaxed) {
        if let Ok(body) = load::send(client.get(&url)).await
            && let Ok(status) = Progress::read(&body)
            && status.status != "running"
        {
            ended.store(true, Ordering::Relaxed);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The replay's queue, declared afresh, and a subscriber that acknowledges every delivery.
struct Subscriber {
    connection: Connection,
    channel: Channel,
    delivered: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Subscriber {
    async fn start(amqp_url: &str) -> Result<Subscriber, BoxError> {
        let properties = ConnectionProperties::default().with_connection_name(QUEUE.into());
        let connection = Connection::connect(amqp_url, properties).await?;
        let channel = connection.create_channel().await?;
        channel
            .queue_delete(QUEUE.into(), QueueDeleteOptions::default())
            .await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(QUEUE.into(), durable, FieldTable::default())
            .await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                QUEUE.into(),
                "stockflow-bench".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let delivered = Arc::new(AtomicU64::new(0));
        let counter = delivered.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                if delivery.ack(BasicAckOptions::default()).await.is_err() {
                    return;
                }
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(Subscriber {
            connection,
            channel,
            delivered,
            task,
        })
    }

    /// Waits up to 10 s for `published` deliveries, deletes the queue and says how many
    /// deliveries it took.
    async fn stop(self, published: i64) -> Result<u64, BoxError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.delivered.load(Ordering::Relaxed) < published.max(0) as u64
            && Instant::now() < deadline
        {
            tokio::time::sleep(POLL_EVERY).await;
        }
        self.channel
            .queue_delete(QUEUE.into(), QueueDeleteOptions::default())
            .await?;
        self.task.abort();
        let _ = self.connection.close(200, "done".into()).await;
        Ok(self.delivered.load(Ordering::Relaxed))
    }
}
