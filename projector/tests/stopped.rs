//! A projector that meets an event it cannot apply stops, and says so where an operator and
//! an alert look: `/readyz`, and `stockflow_projector_running` and `stockflow_ready` on
//! `/metrics`. A test binary of its own: the metrics registry belongs to the process, so no
//! other test's projector may share it.

use std::time::Duration;

use serde_json::Value;
use stockflow_testkit::{
    BrokerNames, Running, TestDatabase, TestResponse, broker_args, database_args,
};

/// An event of a type no projector knows, appended as a writer appends.
const APPEND_UNKNOWN_EVENT: &str = "SELECT event_store.append(
    ARRAY['probe-1'], ARRAY[0::bigint], ARRAY[1::bigint], ARRAY['{}'::jsonb], ARRAY[1],
    ARRAY['probe-1'], ARRAY[1::bigint], ARRAY[gen_random_uuid()], ARRAY['probe.happened'],
    ARRAY[1], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb],
    ARRAY['probe-key'], ARRAY['\\x00'::bytea], ARRAY[201::smallint], ARRAY['{}'], ARRAY[1])";

/// How long the projector may take to become ready, or to give up on the event (it retries
/// for a few seconds first).
const PATIENCE: Duration = Duration::from_secs(60);

async fn start(database: &TestDatabase, broker: &BrokerNames) -> Running {
    let config = stockflow_projector::Config {
        database: database_args(&database.url, false),
        broker: broker_args(&broker.exchange),
        listen_addr: "127.0.0.1:0".into(),
        projector_queue: broker.queue.clone(),
        web: stockflow_testkit::web_config(),
        ..stockflow_projector::Config::defaults()
    };
    Running::start(
        stockflow_projector::App::build(config)
            .await
            .expect("the projector starts"),
    )
}

async fn get(projector: &Running, path: &str) -> TestResponse {
    stockflow_testkit::send(stockflow_testkit::authorized_client(&[]).get(projector.url(path)))
        .await
}

/// `/readyz`, once `done` holds of it.
async fn readiness_once(projector: &Running, done: impl Fn(&TestResponse) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = get(projector, "/readyz").await;
        if done(&response) {
            return response.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz still answers {}: {}",
            response.status,
            response.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the series `series` on `/metrics`.
async fn gauge(projector: &Running, series: &str) -> f64 {
    let metrics = get(projector, "/metrics").await.text;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("/metrics has no {series}:\n{metrics}"))
        .trim()
        .parse()
        .expect("a number")
}

/// The value of `stockflow_projector_running` on `/metrics`.
async fn running_gauge(projector: &Running) -> f64 {
    gauge(projector, "stockflow_projector_running").await
}

const READY: &str = "stockflow_ready{service=\"projector\"}";

/// Waits until `stockflow_ready` says `value` (the projector asks its `/readyz` every 5 s).
async fn ready_gauge_once(projector: &Running, value: f64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gauge(projector, READY).await != value {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{READY} never became {value}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_projector_stopped_by_an_event_it_cannot_apply_says_so_on_its_metrics() {
    stockflow_testkit::init_logs();
    let database = TestDatabase::migrated().await;
    let broker = BrokerNames::new("stopped");

    let mut projector = start(&database, &broker).await;
    readiness_once(&projector, |r| r.status == 200).await;
    assert_eq!(
        running_gauge(&projector).await,
        1.0,
        "a ready projector runs"
    );
    ready_gauge_once(&projector, 1.0).await;
    projector.stop().await;

    sqlx::query(APPEND_UNKNOWN_EVENT)
        .execute(&mut database.connect().await)
        .await
        .expect("the event is appended");
    let projector = start(&database, &broker).await;
    let readiness = readiness_once(&projector, |r| {
        r.body["checks"]["projector"]["stopped"].is_string()
    })
    .await;
    assert_eq!(readiness["status"], "not_ready", "{readiness}");
    assert_eq!(running_gauge(&projector).await, 0.0, "a stopped projector");
    ready_gauge_once(&projector, 0.0).await;
}
