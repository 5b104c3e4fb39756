//! HTTP load. A closed loop keeps a fixed number of requests in flight and finds the most a
//! service takes; an open loop sends at a fixed rate and counts each latency from the moment
//! its request was due, so a stalled service cannot hide its stall by slowing the sender.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// An HTTP client for load: the token, if any, goes with every request.
pub fn client(token: Option<&str>, pool: usize) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .expect("a token is a valid header value");
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .default_headers(headers)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Latencies and failures of one stretch of load.
#[derive(Debug, Default)]
pub struct Samples {
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Samples {
    pub fn fail(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }

    pub fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn summary(mut self, measured: Duration) -> Summary {
        self.latencies.sort_unstable();
        let ms = |p: f64| percentile(&self.latencies, p);
        Summary {
            requests: self.latencies.len() as u64,
            errors: self.errors,
            per_second: self.latencies.len() as f64 / measured.as_secs_f64().max(1e-9),
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            max_ms: ms(1.0),
            first_error: self.first_error,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Requests that succeeded within the measured time.
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// The nearest-rank percentile of sorted latencies, in milliseconds.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() as f64 * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// Sends one request and reads its whole answer; a non-2xx status is an error.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Vec<u8>, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body.to_vec())
    } else {
        Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        ))
    }
}

/// `concurrency` workers each send `request(n)` back to back (n counts every request of the
/// loop); only what completes in the `measure` after `warmup` counts.
pub async fn closed_loop<F>(
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
    request: F,
) -> Summary
where
    F: Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let (measure_from, end) = (start + warmup, start + warmup + measure);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, counter) = (request.clone(), counter.clone());
            tokio::spawn(async move {
                let mut samples = Samples::default();
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let outcome = send(request(counter.fetch_add(1, Ordering::Relaxed))).await;
                    let done = Instant::now();
                    if sent < measure_from || done > end {
                        continue;
                    }
                    match outcome {
                        Ok(_) => samples.latencies.push(done - sent),
                        Err(error) => samples.fail(error),
                    }
                }
                samples
            })
        })
        .collect();
    let mut samples = Samples::default();
    for worker in workers {
        samples.merge(worker.await.expect("a load worker never panics"));
    }
    samples.summary(measure)
}

/// Starts `task(n, due)` at `rate` per second for `measure`, each at its due time whatever
/// the others are doing, and collects what they return.
pub async fn open_loop<F, Fut, T>(rate: f64, measure: Duration, task: F) -> Vec<T>
where
    F: Fn(u64, Instant) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    open_loop_until(rate, measure, &AtomicBool::new(false), task)
        .await
        .0
}

/// As [`open_loop`], but sends nothing more once `stop` is set (or `limit` has passed);
/// also returns how long it was sending.
pub async fn open_loop_until<F, Fut, T>(
    rate: f64,
    limit: Duration,
    stop: &AtomicBool,
    task: F,
) -> (Vec<T>, Duration)
where
    F: Fn(u64, Instant) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let start = Instant::now();
    let mut tasks = Vec::new();
    let mut sent_for = limit;
    for n in 0.. {
        let due = start + interval.mul_f64(n as f64);
        if due >= start + limit {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        if stop.load(Ordering::Relaxed) {
            sent_for = due - start;
            break;
        }
        tasks.push(tokio::spawn(task(n, due)));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("a load task never panics"));
    }
    (results, sent_for)
}
