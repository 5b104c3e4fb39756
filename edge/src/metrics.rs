//! Prometheus metrics. The recorder is installed once per process (tests start several
//! services in one process; they then share it); each service serves it at `/metrics`,
//! records the latency of its HTTP requests, and declares its own metrics in a catalog of
//! [`Metric`]s: each is described (`# HELP`, `# TYPE`) and exists from start-up, counters
//! at 0, so that a dashboard or an alert sees it before the first event.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{Label, Unit};
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

/// What a metric counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric of a service's catalog.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Option<Unit>,
    pub help: &'static str,
    /// The label sets whose series exist from start-up (none: the series without labels).
    pub series: &'static [&'static [(&'static str, &'static str)]],
}

impl Metric {
    pub const fn counter(name: &'static str, help: &'static str) -> Metric {
        Metric {
            name,
            kind: Kind::Counter,
            unit: None,
            help,
            series: &[&[]],
        }
    }

    pub const fn gauge(name: &'static str, help: &'static str) -> Metric {
        Metric {
            name,
            kind: Kind::Gauge,
            unit: None,
            help,
            series: &[&[]],
        }
    }

    pub const fn histogram(name: &'static str, unit: Unit, help: &'static str) -> Metric {
        Metric {
            name,
            kind: Kind::Histogram,
            unit: Some(unit),
            help,
            series: &[&[]],
        }
    }

    /// The same metric, with these label sets existing from start-up instead.
    pub const fn with_series(
        self,
        series: &'static [&'static [(&'static str, &'static str)]],
    ) -> Metric {
        Metric { series, ..self }
    }
}

/// Latency of every HTTP request, by service, method, route and status.
pub const HTTP_REQUEST_DURATION: &str = "stockflow_http_request_duration_seconds";
/// 1 while the service's `/readyz` answers 2xx, by service (see [`crate::Server::report_readiness`]).
pub const READY: &str = "stockflow_ready";

/// Describes every metric of the catalog and makes each of its series exist: counters and
/// gauges at 0, histograms empty.
pub fn register(catalog: &[Metric]) {
    handle();
    for metric in catalog {
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
            Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            Kind::Histogram => match metric.unit {
                Some(unit) => metrics::describe_histogram!(metric.name, unit, metric.help),
                None => metrics::describe_histogram!(metric.name, metric.help),
            },
        }
        for labels in metric.series {
            let labels: Vec<Label> = labels.iter().map(|(k, v)| Label::new(*k, *v)).collect();
            match metric.kind {
                Kind::Counter => metrics::counter!(metric.name, labels).increment(0),
                Kind::Gauge => metrics::gauge!(metric.name, labels).increment(0.0),
                Kind::Histogram => {
                    let _ = metrics::histogram!(metric.name, labels);
                }
            }
        }
    }
}

/// `/metrics` in the Prometheus text format with the service's catalog registered, and a
/// latency histogram of every request by route and status, labelled with the service's name.
pub fn instrument(router: Router, service: &'static str, catalog: &[Metric]) -> Router {
    register(catalog);
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by service, method, route and status."
    );
    metrics::describe_gauge!(
        READY,
        "1 while the service's /readyz answers 2xx (checked every 5 s), 0 otherwise, by service."
    );
    // From start-up, at 0 until the first check (as the server starts serving).
    metrics::gauge!(READY, "service" => service).set(0.0);
    router
        .route("/metrics", get(render))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            record(service, request, next)
        }))
}

/// `/metrics` alone, for a listener of its own (`METRICS_ADDR`).
pub fn router() -> Router {
    Router::new().route("/metrics", get(render))
}

async fn render() -> Response {
    let mut response = handle().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
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
    metrics::histogram!(HTTP_REQUEST_DURATION,
        "service" => service, "method" => method, "route" => route, "status" => status)
    .record(started.elapsed().as_secs_f64());
    response
}
