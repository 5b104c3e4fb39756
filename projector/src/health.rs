//! What the projector reports about itself: `/readyz` and logs read it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Health {
    broker: AtomicBool,
    position: AtomicI64,
    dead_lettered: AtomicU64,
    stopped: Mutex<Option<String>>,
}

#[derive(Debug, Serialize)]
pub struct HealthSnapshot {
    pub broker_connected: bool,
    pub position: i64,
    pub dead_lettered: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Health {
    pub fn set_broker(&self, connected: bool) {
        self.broker.store(connected, Ordering::Relaxed);
    }

    pub fn set_position(&self, position: i64) {
        self.position.store(position, Ordering::Relaxed);
    }

    pub fn dead_lettered(&self) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    /// The projector no longer advances, for this reason, until an operator retries or skips.
    pub fn stop(&self, reason: String) {
        if let Ok(mut stopped) = self.stopped.lock() {
            *stopped = Some(reason);
        }
    }

    /// An operator retried or skipped: the projector advances again.
    pub fn resume(&self) {
        if let Ok(mut stopped) = self.stopped.lock() {
            *stopped = None;
        }
    }

    pub fn stopped(&self) -> bool {
        self.stopped.lock().map(|s| s.is_some()).unwrap_or(true)
    }

    pub fn snapshot(&self) -> HealthSnapshot {
        HealthSnapshot {
            broker_connected: self.broker.load(Ordering::Relaxed),
            position: self.position.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            stopped: self.stopped.lock().ok().and_then(|s| s.clone()),
        }
    }
}
