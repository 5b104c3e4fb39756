//! Prometheus metrics. The recorder is installed once per process (tests start several
//! services in one process; they then share it); each service serves it at `/metrics` and
//! records the latency of its HTTP requests.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets, in seconds, for every latency.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets for batch sizes.
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 5000.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_size".into()), SIZE_BUCKETS))
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Only fails if another recorder is installed, and then that one records.
        let _ = metrics::set_global_recorder(recorder);
        // Histogram samples are kept until they are folded into their buckets, which a scrape
        // does; with nobody scraping they would pile up (tens of bytes a request, for ever).
        // This folds them in every few seconds whether or not anyone scrapes.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

/// `/metrics` in the Prometheus text format, and a latency histogram of every request by
/// route and status, labelled with the service's name.
pub fn instrument(router: Router, service: &'static str) -> Router {
    handle();
    router
        .route(
            "/metrics",
            get(|| async {
                let mut response = handle().render().into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }),
        )
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            record(service, request, next)
        }))
}

async fn record(service: &'static str, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("stockflow_http_request_duration_seconds",
        "service" => service, "method" => method, "route" => route, "status" => status)
    .record(started.elapsed().as_secs_f64());
    response
}
