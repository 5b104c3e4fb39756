//! The fault run's clients: every command kind, concurrently, each command sent with an
//! Idempotency-Key and an X-Correlation-Id of its own, and its outcome written down as the
//! client saw it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

/// The products every run starts with: (sku, backorder policy, currency).
pub const PRODUCTS: [(&str, &str, &str); 6] = [
    ("R-1", "reject", "EUR"),
    ("R-2", "reject", "EUR"),
    ("B-1", "backorder", "EUR"),
    ("B-2", "backorder", "EUR"),
    ("B-3", "backorder", "EUR"),
    ("U-1", "backorder", "USD"),
];

/// Stock count corrections the workload makes.
const DELTAS: [i64; 5] = [-3, -1, 2, 5, 8];

/// Refusals a correct system may give this workload; any other 4xx is a defect.
pub const EXPECTED_REFUSALS: [&str; 13] = [
    "insufficient_stock",
    "currency_mismatch",
    "product_discontinued",
    "already_discontinued",
    "adjustment_below_reserved",
    "order_not_cancellable",
    "order_not_ready",
    "order_cancelled",
    "order_already_shipped",
    // An order or product whose placement or registration did not go in.
    "order_not_found",
    "unknown_product",
    "product_not_found",
    "concurrency_conflict",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx, with the position and version it reported.
    Succeeded { position: i64, version: i64 },
    /// A 4xx with its code.
    Refused { status: u16, code: String },
    /// The connection was refused: the request never reached a service.
    NotSent,
    /// A timeout, a cut connection or a 5xx: the client cannot tell what happened.
    Unknown { why: String },
}

impl Outcome {
    /// A short label, for counting outcomes of the same sort.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Succeeded { .. } => "succeeded".into(),
            Outcome::Refused { status, code } => format!("refused: {status} {code}"),
            Outcome::NotSent => "not sent: connection refused".into(),
            Outcome::Unknown { why } => {
                format!("unknown: {why}")
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub kind: &'static str,
    pub path: String,
    pub body: Value,
    pub idempotency_key: String,
    pub correlation_id: Uuid,
    pub outcome: Outcome,
    /// When the client had its answer (or gave up), for the stretches without a success.
    pub answered_at: Instant,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(base: String, token: String, timeout: Duration) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("an HTTP client"),
            base,
            token,
        }
    }

    /// Sends one command; returns its outcome and the answer's headers and body, if any.
    pub async fn send(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: &str,
        correlation_id: Uuid,
    ) -> (Outcome, Option<(reqwest::header::HeaderMap, Value)>) {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", idempotency_key)
            .header("X-Correlation-Id", correlation_id.to_string())
            .json(body);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return (Outcome::NotSent, None),
            Err(e) => {
                return (
                    Outcome::Unknown {
                        why: if e.is_timeout() {
                            "no answer: timed out".into()
                        } else {
                            "no answer: connection cut".into()
                        },
                    },
                    None,
                );
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body: Value = match response.text().await {
            Ok(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            Err(_) => {
                return (
                    Outcome::Unknown {
                        why: format!("status {status}, body cut"),
                    },
                    None,
                );
            }
        };
        let outcome = match status {
            200..=299 => Outcome::Succeeded {
                position: body["position"].as_i64().unwrap_or(0),
                version: body["version"].as_i64().unwrap_or(0),
            },
            400..=499 => Outcome::Refused {
                status,
                code: body["code"].as_str().unwrap_or("").to_owned(),
            },
            _ => Outcome::Unknown {
                why: format!("status {status}: {}", body["code"].as_str().unwrap_or("")),
            },
        };
        (outcome, Some((headers, body)))
    }
}

/// Registers the starting products; they must go in, faults have not begun.
pub async fn seed(client: &Client) -> Result<Vec<Attempt>, String> {
    let mut attempts = Vec::new();
    for (sku, policy, currency) in PRODUCTS {
        let body = json!({"sku": sku, "name": format!("Product {sku}"), "unit_price_cents": 250,
            "currency": currency, "initial_stock": 40, "backorder_policy": policy});
        let attempt = send(client, "register", "/v1/products".into(), body).await;
        if !matches!(attempt.outcome, Outcome::Succeeded { .. }) {
            return Err(format!("registering {sku}: {:?}", attempt.outcome));
        }
        attempts.push(attempt);
    }
    Ok(attempts)
}

async fn send(client: &Client, kind: &'static str, path: String, body: Value) -> Attempt {
    let idempotency_key = format!("faults-{}", Uuid::now_v7().simple());
    let correlation_id = Uuid::now_v7();
    let (outcome, _) = client
        .send(&path, &body, &idempotency_key, correlation_id)
        .await;
    Attempt {
        kind,
        path,
        body,
        idempotency_key,
        correlation_id,
        outcome,
        answered_at: Instant::now(),
    }
}

/// One client: random commands until `stop`, a short pause between them.
pub async fn worker(
    client: Arc<Client>,
    seed: u64,
    orders: Arc<Mutex<Vec<Uuid>>>,
    stop: Arc<AtomicBool>,
    pause: Duration,
) -> Vec<Attempt> {
    let mut rng = StdRng::seed_from_u64(seed);
    let skus: Vec<&str> = PRODUCTS.iter().map(|(s, _, _)| *s).collect();
    let euro: Vec<&str> = PRODUCTS
        .iter()
        .filter(|(_, _, currency)| *currency == "EUR")
        .map(|(s, _, _)| *s)
        .collect();
    // Products this client registered: orders sometimes name one, and only these are ever
    // discontinued, so that the starting products keep taking orders.
    let mut registered: Vec<String> = Vec::new();
    let mut attempts = Vec::new();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let known_order = orders
            .lock()
            .expect("not poisoned")
            .choose(&mut rng)
            .copied();
        let sku = *skus.choose(&mut rng).expect("skus");
        let roll: u32 = rng.random_range(0..100);
        let mut placed = None;
        let (kind, path, body): (&'static str, String, Value) = match (roll, known_order) {
            (0..40, _) => {
                let mut names: Vec<String> = match rng.random_range(0..100) {
                    // One currency, the dollar product alone.
                    0..15 => vec!["U-1".into()],
                    // Two currencies: refused.
                    15..18 => vec!["U-1".into(), "R-1".into()],
                    _ => {
                        let n = rng.random_range(1..=3);
                        euro.choose_multiple(&mut rng, n)
                            .map(|s| s.to_string())
                            .collect()
                    }
                };
                if rng.random_bool(0.1)
                    && let Some(new) = registered.choose(&mut rng)
                    && !names.contains(new)
                {
                    names.push(new.clone());
                }
                let lines: Vec<Value> = names
                    .iter()
                    .map(|s| json!({"sku": s, "quantity": rng.random_range(1..=6)}))
                    .collect();
                let order_id = Uuid::now_v7();
                // Known before the answer, so that a placement with an unknown outcome
                // may still be cancelled or shipped.
                orders.lock().expect("not poisoned").push(order_id);
                placed = Some(order_id);
                let customer = format!("customer-{}", rng.random_range(0..25));
                (
                    "place",
                    "/v1/orders".into(),
                    json!({"order_id": order_id, "customer_id": customer, "lines": lines}),
                )
            }
            (40..55, _) => (
                "receive",
                format!("/v1/products/{sku}/receipts"),
                json!({"quantity": rng.random_range(1..=25), "reference": format!("delivery {seed}-{i}")}),
            ),
            (55..63, _) => (
                "adjust",
                format!("/v1/products/{sku}/adjustments"),
                json!({"delta": DELTAS[rng.random_range(0..DELTAS.len())], "reason": "count"}),
            ),
            (63..67, _) => (
                "price",
                format!("/v1/products/{sku}/price"),
                json!({"unit_price_cents": rng.random_range(100..=900)}),
            ),
            (67..80, Some(id)) => (
                "cancel",
                format!("/v1/orders/{id}/cancel"),
                json!({"reason": "changed mind"}),
            ),
            (80..95, Some(id)) => (
                "ship",
                format!("/v1/orders/{id}/ship"),
                json!({"carrier": "UPS", "tracking_number": format!("T{seed}-{i}")}),
            ),
            (95..98, _) => {
                let new = format!("N-{seed}-{i}");
                registered.push(new.clone());
                (
                    "register",
                    "/v1/products".into(),
                    json!({"sku": new, "name": "new", "unit_price_cents": 99,
                        "currency": "EUR", "initial_stock": rng.random_range(0..10),
                        "backorder_policy": if rng.random_bool(0.5) { "reject" } else { "backorder" }}),
                )
            }
            (98.., _) => match registered.choose(&mut rng) {
                Some(new) => (
                    "discontinue",
                    format!("/v1/products/{new}/discontinue"),
                    json!({}),
                ),
                None => continue,
            },
            (_, None) => continue,
        };
        let attempt = send(&client, kind, path, body).await;
        if let Some(order_id) = placed
            && matches!(attempt.outcome, Outcome::Refused { .. } | Outcome::NotSent)
        {
            // Never placed: later commands go to orders that may exist.
            orders
                .lock()
                .expect("not poisoned")
                .retain(|id| *id != order_id);
        }
        attempts.push(attempt);
        tokio::time::sleep(pause).await;
    }
    attempts
}
