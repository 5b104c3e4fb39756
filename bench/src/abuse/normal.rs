//! The normal client: an open loop from 127.0.0.1 with a valid token, alternating
//! `GET /v1/products/{sku}` on the query service and a place-order on the command service,
//! each latency counted from when the request was due. One loop keeps its connections alive
//! (as any real client with a pool does); a slower one opens a new connection for every
//! request, to show whether a newcomer gets in while an attack holds the listener.
//!
//! It runs on a thread and runtime of its own, so that the attackers' work in this process
//! cannot delay its requests and pass for the services' latency.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::raw::problem_code;
use super::windows::{CAP_REFUSAL, Sample};
use crate::load::open_loop_until;
use crate::scenarios::place_order;

/// Where the normal client sends its requests, and how.
#[derive(Clone)]
pub struct Targets {
    pub query_url: String,
    pub command_url: String,
    pub products: usize,
    pub token: String,
    /// Requests per second on kept-alive connections, and on a new connection each.
    pub rate: f64,
    pub new_connection_rate: f64,
    /// How long the pool keeps an idle connection: less than the server's idle limit.
    pub idle: Duration,
}

/// The requests of both loops, once `stop` is set and the last has its answer.
pub struct Record {
    pub kept_alive: Vec<Sample>,
    pub new_connections: Vec<Sample>,
}

/// Starts both loops on a thread of their own; the record comes once `stop` is set.
pub fn start(targets: Targets, start: Instant, stop: Arc<AtomicBool>) -> oneshot::Receiver<Record> {
    let (sender, receiver) = oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the normal client");
        let record = runtime.block_on(async {
            let kept = run(&targets, targets.rate, true, start, &stop);
            let fresh = run(&targets, targets.new_connection_rate, false, start, &stop);
            let (kept_alive, new_connections) = tokio::join!(kept, fresh);
            Record {
                kept_alive,
                new_connections,
            }
        });
        let _ = sender.send(record);
    });
    receiver
}

/// An HTTP client from 127.0.0.1 with `token`. With `keep_alive`, idle connections are let
/// go after `idle`, before the server would close them (its header time is also its idle
/// limit), so that the pool never hands out a connection the server is closing; without it,
/// every request has a connection of its own.
fn client(token: &str, keep_alive: bool, idle: Duration) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}")
        .parse()
        .expect("a token is a valid header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .default_headers(headers)
        .pool_max_idle_per_host(if keep_alive { 16 } else { 0 })
        .pool_idle_timeout(idle)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// Sends at `rate` per second until `stop`, each request timed from `start`.
async fn run(
    targets: &Targets,
    rate: f64,
    keep_alive: bool,
    start: Instant,
    stop: &AtomicBool,
) -> Vec<Sample> {
    let client = client(&targets.token, keep_alive, targets.idle);
    let order = place_order(client.clone(), &targets.command_url, targets.products);
    let (query_url, products) = (&targets.query_url, targets.products);
    let day = Duration::from_secs(86_400);
    let (samples, _) = open_loop_until(rate, day, stop, move |n, due| {
        let (what, request) = if n % 2 == 0 {
            let sku = (n / 2) as usize % products;
            let url = format!("{query_url}/v1/products/BENCH-{sku}");
            ("read", client.get(url))
        } else {
            ("order", order(n))
        };
        async move {
            let outcome = match outcome(request).await {
                Ok(()) => Ok(due.elapsed()),
                Err(failure) => Err(failure),
            };
            Sample {
                due: due.saturating_duration_since(start).as_secs_f64(),
                what,
                outcome,
            }
        }
    })
    .await;
    samples
}

/// A 2xx, or what else came: the status and problem code, or how the connection failed.
async fn outcome(request: reqwest::RequestBuilder) -> Result<(), String> {
    let response = request.send().await.map_err(|e| transport(&e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| transport(&e))?;
    if status.is_success() {
        return Ok(());
    }
    let detail = String::from_utf8_lossy(&body);
    Err(match problem_code(&body) {
        Some(code) if code == "overloaded" && detail.contains("connections") => {
            CAP_REFUSAL.to_owned()
        }
        Some(code) => format!("{} {code}", status.as_u16()),
        None => status.as_u16().to_string(),
    })
}

/// A transport failure by its innermost cause (`connection reset by peer`), which says more
/// than reqwest's `error sending request`.
fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let cause = cause.to_string();
    // hyper's words for an answer that came before the request was written: only a refusal
    // by the connection cap (503 `overloaded`, sent without reading) does that.
    if cause.contains("unexpected message") {
        return CAP_REFUSAL.to_owned();
    }
    let kind = if error.is_connect() {
        "connect"
    } else {
        "transport"
    };
    format!("{kind}: {cause}")
}
