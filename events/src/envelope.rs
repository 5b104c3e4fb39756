//! An event as stored and delivered: the payload with its identity, stream and global position.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Event;

/// Tracing context recorded with every event of a command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Shared by everything one client interaction caused.
    pub correlation_id: Option<Uuid>,
    /// The command (request) that produced the event.
    pub causation_id: Option<Uuid>,
    /// W3C trace context, when the request carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// UUID v7, unique per event; subscribers deduplicate on it.
    pub id: Uuid,
    pub stream_id: String,
    /// The version of its stream this event made (the first event is 1).
    pub stream_version: i64,
    /// Global, gap-free, in commit order.
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
    pub metadata: Metadata,
    pub event: Event,
}
