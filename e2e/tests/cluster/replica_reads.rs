//! The query service on the replica alone (its `DATABASE_URL` names only the replica), the
//! other services on the primary: every order is read right back with `min_position` and
//! found, none answered 503; the replica is polled, not notified; and while the replica's
//! replay is paused, its replay lag shows in `/metrics` and a read of what it has not
//! replayed waits, then answers once replay resumes.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use stockflow_e2e::{Options, Stack};
use tokio::time::Instant;

use crate::cluster::Cluster;

const SKU: &str = "REPLICA-1";
const LAG_SECONDS: &str = "stockflow_replica_replay_lag_seconds";
const LAG_BYTES: &str = "stockflow_replica_replay_lag_bytes";
const ORDERS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_query_service_on_the_replica_reads_its_writes() {
    let cluster = Cluster::take().await;
    let database = stockflow_testkit::unique("stockflow_cluster_");
    let database_url = cluster.database_url(&database);
    // The primary is listed first, the replica second.
    let replica_url = stockflow_event_store::database::addresses(&database_url)[1].to_owned();
    let stack = Stack::on(
        Options {
            query_database_url: Some(replica_url.clone()),
            ..Options::default()
        },
        &database_url,
        &cluster.amqp_url(),
    )
    .await;
    let mut replica = PgConnection::connect(&replica_url)
        .await
        .expect("the replica answers");
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut replica)
        .await
        .expect("the replica answers");
    assert!(in_recovery, "{replica_url} is a standby");

    stack
        .command(
            "/v1/products",
            json!({"sku": SKU, "name": "Replica", "unit_price_cents": 250, "currency": "EUR",
                   "initial_stock": 1_000, "backorder_policy": "backorder"}),
        )
        .await
        .assert_status(201);
    let mut reads = Vec::new();
    for n in 0..ORDERS {
        let (order_id, position) = place_order(&stack, &format!("replica-{n}")).await;
        let asked = Instant::now();
        let read = stack
            .query_at(&format!("/v1/orders/{order_id}"), position)
            .await;
        reads.push(asked.elapsed());
        let order = read.assert_ok();
        assert_eq!(order["order_id"], order_id.as_str(), "order {n}");
        assert_eq!(order["customer_id"], format!("replica-{n}"), "order {n}");
        let reflected: i64 = read
            .header("x-projection-position")
            .and_then(|p| p.parse().ok())
            .expect("the position the answer reflects");
        assert!(reflected >= position, "order {n}: {reflected} < {position}");
    }
    let ready = wait_for_readiness(&stack, "polling").await;
    assert_eq!(ready["checks"]["notifications"], "polling", "{ready}");
    let metrics = scrape(&stack).await;
    assert!(
        metrics.contains(&format!("# TYPE {LAG_SECONDS} gauge")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("# TYPE {LAG_BYTES} gauge")),
        "{metrics}"
    );

    // Replay paused: the primary's commits wait for the replica (synchronous, remote_apply),
    // so the order is placed in the background and acknowledged once replay resumes.
    let paused = Paused::pause(&replica_url).await;
    let placing = tokio::spawn({
        let client = stack.client.clone();
        let url = stack.command_url("/v1/orders");
        async move { stockflow_testkit::send(client.post(url).json(&order_body("paused"))).await }
    });
    let lag = wait_for_metric(&stack, LAG_SECONDS, |lag| lag > 0.0).await;
    let bytes = wait_for_metric(&stack, LAG_BYTES, |bytes| bytes > 0.0).await;
    drop(paused);
    let placed = placing.await.expect("the order was sent");
    let body = placed.assert_status(201);
    let order_id = body["order_id"].as_str().expect("an order id").to_owned();
    let position = body["position"].as_i64().expect("a position");
    stack
        .query_at(&format!("/v1/orders/{order_id}"), position)
        .await
        .assert_ok();
    wait_for_metric(&stack, LAG_SECONDS, |lag| lag == 0.0).await;
    reads.sort();
    eprintln!(
        "{ORDERS} orders read back from the replica with min_position: median {:?}, slowest \
         {:?}; with replay paused the replica's lag reached {lag} s and {bytes} bytes, and went \
         back to 0 when it resumed",
        reads[reads.len() / 2],
        reads[reads.len() - 1],
    );
}

fn order_body(customer: &str) -> Value {
    json!({"customer_id": customer, "lines": [{"sku": SKU, "quantity": 1}]})
}

/// Places an order; its id and the position of its last event.
async fn place_order(stack: &Stack, customer: &str) -> (String, i64) {
    let placed = stack.command("/v1/orders", order_body(customer)).await;
    let body = placed.assert_status(201);
    (
        body["order_id"].as_str().expect("an order id").to_owned(),
        body["position"].as_i64().expect("a position"),
    )
}

async fn scrape(stack: &Stack) -> String {
    reqwest::get(stack.query_url("/metrics"))
        .await
        .expect("the query service answers")
        .text()
        .await
        .expect("a body")
}

/// The value of the unlabelled series `name` in the query service's `/metrics`.
fn value(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// Scrapes until `name` passes `check` (sampled every second); its value then.
async fn wait_for_metric(stack: &Stack, name: &str, check: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = scrape(stack).await;
        let seen = value(&metrics, name);
        if let Some(value) = seen.filter(|value| check(*value)) {
            return value;
        }
        assert!(Instant::now() < deadline, "{name} stayed at {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `/readyz` once its `notifications` check says `state` (the listener finds out at start).
async fn wait_for_readiness(stack: &Stack, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = stack.query("/readyz").await;
        if ready.body["checks"]["notifications"] == state || Instant::now() >= deadline {
            return ready.assert_status(200).clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The replica's replay, paused until this is dropped (a failing test included: every commit
/// on the primary would wait for it otherwise).
struct Paused {
    url: String,
}

impl Paused {
    async fn pause(url: &str) -> Paused {
        let mut replica = PgConnection::connect(url)
            .await
            .expect("the replica answers");
        sqlx::query("SELECT pg_wal_replay_pause()")
            .execute(&mut replica)
            .await
            .expect("replay pauses");
        Paused {
            url: url.to_owned(),
        }
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let url = self.url.clone();
        let resumed = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async move {
                    let mut replica = PgConnection::connect(&url).await?;
                    sqlx::query("SELECT pg_wal_replay_resume()")
                        .execute(&mut replica)
                        .await
                        .map(|_| ())
                })
        })
        .join();
        if !matches!(resumed, Ok(Ok(()))) {
            eprintln!("the replica's replay did not resume: {resumed:?}");
        }
    }
}
