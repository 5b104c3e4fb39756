//! Telemetry (docs/api.md): request context travels from HTTP into the events and what is
//! published, the pipeline's metrics are exported, and logs can be JSON lines.

use std::time::Duration;

use serde_json::json;
use stockflow_e2e::Stack;
use stockflow_edge::metrics::Kind;

#[tokio::test]
async fn request_context_travels_into_events_and_the_published_form() {
    let stack = Stack::spawn().await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let correlation = "0190f3a2-7c1e-7d4a-9b2f-3a1c5e7d9b00";
    let response = stack
        .client
        .post(stack.command_url("/v1/products"))
        .header("traceparent", traceparent)
        .header("x-correlation-id", correlation)
        .json(&json!({"sku": "TEL-1", "name": "n", "unit_price_cents": 10, "currency": "EUR"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 201);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let event = stack.events().await.remove(0);
    assert_eq!(event.metadata["traceparent"], traceparent);
    assert_eq!(event.metadata["correlation_id"], correlation);
    assert_eq!(event.metadata["causation_id"], request_id.as_str());
    let published = serde_json::to_value(event.to_cloud_event()).expect("serializes");
    assert_eq!(published["traceparent"], traceparent);
    assert_eq!(published["correlationid"], correlation);
    assert_eq!(published["causationid"], request_id.as_str());
}

#[tokio::test]
async fn the_pipeline_exports_its_metrics() {
    let stack = Stack::spawn().await;
    let registered = stack
        .command("/v1/products", json!({"sku": "TEL-2", "name": "n", "unit_price_cents": 10, "currency": "EUR", "initial_stock": 5}))
        .await;
    let placed = stack
        .command(
            "/v1/orders",
            json!({"customer_id": "t", "lines": [{"sku": "TEL-2", "quantity": 1}]}),
        )
        .await;
    assert!(registered.status == 201 && placed.status == 201);
    stack
        .wait_for_projection(placed.position(), Duration::from_secs(10))
        .await;
    stack
        .query_at("/v1/products/TEL-2", placed.position())
        .await
        .ok();

    // The services of a test share one process, and so one registry.
    let metrics = scrape(&stack).await;
    for name in [
        "stockflow_commands_total",
        "stockflow_command_duration_seconds_bucket",
        "stockflow_append_batch_size_bucket",
        "stockflow_append_batch_events_size_bucket",
        "stockflow_relay_published_position",
        "stockflow_relay_confirms_total",
        "stockflow_projector_position",
        "stockflow_projector_lag_events",
        "stockflow_projector_lag_seconds",
        "stockflow_projector_batch_events_size_bucket",
        "stockflow_http_request_duration_seconds_bucket{service=\"query-service\"",
    ] {
        assert!(metrics.contains(name), "/metrics has no {name}");
    }
}

/// A dashboard or an alert must see every series before the first event: each metric of the
/// services' catalogs is described and present on a pipeline that has done nothing yet.
#[tokio::test]
async fn every_metric_is_described_and_present_before_the_first_event() {
    let stack = Stack::spawn().await;
    let metrics = scrape(&stack).await;
    let catalog = stockflow_command_service::metrics::CATALOG
        .iter()
        .chain(stockflow_projector::metrics::CATALOG);
    for metric in catalog {
        for header in ["# HELP", "# TYPE"] {
            assert!(
                metrics.contains(&format!("{header} {} ", metric.name)),
                "/metrics has no {header} for {}",
                metric.name
            );
        }
        for labels in metric.series {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            let series = match (metric.kind, labels.is_empty()) {
                (Kind::Histogram, true) => format!("{}_count ", metric.name),
                (Kind::Histogram, false) => {
                    format!("{}_count{{{}}} ", metric.name, labels.join(","))
                }
                (_, true) => format!("{} ", metric.name),
                (_, false) => format!("{}{{{}}} ", metric.name, labels.join(",")),
            };
            assert!(
                metrics.lines().any(|line| line.starts_with(&series)),
                "/metrics has no series {series}"
            );
        }
    }
    // Nothing was dead-lettered, and the counter says so rather than being absent (other
    // tests of a `cargo test` process share the registry; nextest gives each its own).
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("stockflow_dead_lettered_total ")),
        "{metrics}"
    );
}

#[tokio::test]
async fn logs_can_be_json_lines() {
    // A projector that cannot reach its database logs why and exits: in JSON when asked.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_e2e-projector"))
        .env("LOG_FORMAT", "json")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .output()
        .await
        .expect("the projector runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in lines {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
        assert!(!line.contains("password"), "{line}");
    }
}

/// The Prometheus text the stack's services export (they share one process's registry).
async fn scrape(stack: &Stack) -> String {
    reqwest::get(stack.command_url("/metrics"))
        .await
        .expect("answers")
        .text()
        .await
        .expect("text")
}
