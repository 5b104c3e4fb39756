//! Orders placed without pause by a few clients while a test breaks the cluster: each
//! acknowledged one is recorded with its order and position, so that a test can check that
//! none is lost and tell how long the commands went unanswered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;
use stockflow_e2e::Stack;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The product every order takes one unit of; orders beyond its stock are backordered, never
/// refused.
const SKU: &str = "CLUSTER-1";

/// A command acknowledged by the command service.
#[derive(Debug, Clone)]
pub struct Ack {
    pub at: Instant,
    pub order_id: String,
    /// The position of the command's last event.
    pub position: i64,
}

pub struct Load {
    acks: Arc<Mutex<Vec<Ack>>>,
    failures: Arc<AtomicUsize>,
    stop: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

/// What a load saw, once stopped.
pub struct Record {
    /// In the order they were acknowledged.
    pub acks: Vec<Ack>,
    /// Commands refused or unanswered (their outcome unknown: they may have committed).
    pub failures: usize,
}

impl Load {
    /// Registers the product, then places orders from `clients` clients until stopped.
    pub async fn start(stack: Arc<Stack>, clients: usize) -> Load {
        stack
            .command(
                "/v1/products",
                json!({"sku": SKU, "name": "Cluster", "unit_price_cents": 100, "currency": "EUR",
                       "initial_stock": 1_000, "backorder_policy": "backorder"}),
            )
            .await
            .ok();
        let load = Load {
            acks: Arc::default(),
            failures: Arc::default(),
            stop: CancellationToken::new(),
            workers: Vec::new(),
        };
        let workers = (0..clients)
            .map(|client| {
                tokio::spawn(place_orders(
                    stack.clone(),
                    format!("cluster-{client}"),
                    load.acks.clone(),
                    load.failures.clone(),
                    load.stop.clone(),
                ))
            })
            .collect();
        Load { workers, ..load }
    }

    fn acks(&self) -> MutexGuard<'_, Vec<Ack>> {
        self.acks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The highest position acknowledged so far.
    pub fn latest_position(&self) -> i64 {
        self.acks()
            .iter()
            .map(|ack| ack.position)
            .max()
            .unwrap_or(0)
    }

    /// Waits until `count` commands were acknowledged after `since`; panics after `timeout`.
    pub async fn wait_for_acks_after(&self, since: Instant, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let acked = self.acks().iter().filter(|ack| ack.at > since).count();
            if acked >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{acked} commands acknowledged in {timeout:?}, fewer than {count} ({} failed)",
                self.failures.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) -> Record {
        self.stop.cancel();
        for worker in self.workers {
            worker.await.expect("a client finished");
        }
        let mut acks = std::mem::take(
            &mut *self
                .acks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        acks.sort_by_key(|ack| ack.at);
        Record {
            acks,
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

impl Record {
    /// The longest stretch without an acknowledged command among those that end after
    /// `fault`: from the last acknowledgement before it to the first after, and on.
    pub fn longest_gap_after(&self, fault: Instant) -> Duration {
        let mut previous = self
            .acks
            .iter()
            .rev()
            .find(|ack| ack.at <= fault)
            .map_or(fault, |ack| ack.at);
        let mut longest = Duration::ZERO;
        for ack in self.acks.iter().filter(|ack| ack.at > fault) {
            longest = longest.max(ack.at - previous);
            previous = ack.at;
        }
        longest
    }
}

async fn place_orders(
    stack: Arc<Stack>,
    customer: String,
    acks: Arc<Mutex<Vec<Ack>>>,
    failures: Arc<AtomicUsize>,
    stop: CancellationToken,
) {
    let body = json!({"customer_id": customer, "lines": [{"sku": SKU, "quantity": 1}]});
    while !stop.is_cancelled() {
        let sent = stack
            .client
            .post(stack.command_url("/v1/orders"))
            .timeout(Duration::from_secs(10))
            .json(&body)
            .send()
            .await;
        let acked = match sent {
            Ok(response) if response.status() == 201 => {
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                body["order_id"]
                    .as_str()
                    .zip(body["position"].as_i64())
                    .map(|(order_id, position)| Ack {
                        at: Instant::now(),
                        order_id: order_id.to_owned(),
                        position,
                    })
            }
            _ => None,
        };
        match acked {
            Some(ack) => acks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(ack),
            None => {
                failures.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
