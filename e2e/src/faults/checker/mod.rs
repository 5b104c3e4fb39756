//! After quiescence: what the clients were told, set against what the store holds, what the
//! subscriber received, what the dead-letter queue holds and what the read models serve.
//! Each finding is counted under the promise it breaks and described in a line.
//!
//! `Counts` and `Findings` here; the checks, one file per thing checked: `commands` (what
//! the clients were told against the store), `messages` (the subscriber's deliveries and the
//! dead letters), `invariants` (the store's own state) and `read_models` (what is served).

mod commands;
mod invariants;
mod messages;
mod read_models;

pub use commands::check_commands;
pub use invariants::check_invariants;
pub use messages::{check_dead_letters, check_deliveries};
pub use read_models::{Served, ServedLine, check_read_models};

use serde::Serialize;
use stockflow_event_store::StoredEvent;
use uuid::Uuid;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub commands: usize,
    pub succeeded: usize,
    pub refused: usize,
    pub not_sent: usize,
    pub unknown: usize,
    /// Unknown outcomes found wholly in the store.
    pub unknown_in: usize,
    /// Unknown outcomes found wholly absent.
    pub unknown_out: usize,
    pub events: usize,
    /// Succeeded commands, or their events, missing from the store, the subscriber's
    /// deliveries or the read models.
    pub lost: usize,
    /// Events of refused commands; events, deliveries or read-model rows no command explains.
    pub unexpected: usize,
    /// Read-model rows or counts that took an event in twice.
    pub duplicated: usize,
    /// Read-model values that differ from the store's otherwise.
    pub mismatched: usize,
    /// Commands whose events are in the store only in part.
    pub partial: usize,
    pub invariant_violations: usize,
    /// Refusals with a code the workload cannot cause.
    pub unexpected_refusals: usize,
    pub poison_published: usize,
    pub dead_letters: usize,
    /// Dead letters that are not the poison published, or poison missing from them.
    pub dead_letter_mismatches: usize,
    /// Deliveries of an event beyond its first (allowed: at least once).
    pub redeliveries: usize,
    /// Unknown outcomes retried with their key whose answer contradicts the store.
    pub retry_mismatches: usize,
}

impl Counts {
    pub fn violations(&self) -> usize {
        self.lost
            + self.unexpected
            + self.duplicated
            + self.mismatched
            + self.partial
            + self.invariant_violations
            + self.unexpected_refusals
            + self.dead_letter_mismatches
            + self.retry_mismatches
    }
}

#[derive(Debug, Default)]
pub struct Findings {
    pub counts: Counts,
    pub problems: Vec<String>,
}

impl Findings {
    fn note(&mut self, problem: String) {
        if self.problems.len() < 200 {
            self.problems.push(problem);
        }
    }
}

/// The correlation id each event carries in its metadata.
pub fn correlation_of(event: &StoredEvent) -> Option<Uuid> {
    event.metadata["correlation_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
}

/// An event of the store, for the checks' tests.
#[cfg(test)]
fn test_event(
    position: i64,
    event_type: &str,
    correlation: Uuid,
    data: serde_json::Value,
) -> StoredEvent {
    StoredEvent {
        position,
        stream_id: "s".into(),
        stream_version: position,
        event_id: Uuid::now_v7(),
        event_type: event_type.into(),
        type_version: 1,
        data,
        metadata: serde_json::json!({"correlation_id": correlation}),
        recorded_at: chrono::Utc::now(),
        commit_position: position,
    }
}
