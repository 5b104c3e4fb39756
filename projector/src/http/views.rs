//! The bodies of the dead-letter routes, as the OpenAPI document describes them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::dead_letters::replay::Outcome;
use crate::dead_letters::store::{DeadLetter, Summary};

/// A dead letter in a listing.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeadLetterSummary {
    #[schema(minimum = 1)]
    id: i64,
    /// Why it is a dead letter: `undecodable` (not a stockflow CloudEvent), `unknown_type` (a
    /// type or version this projector does not know), `bad_payload` (its data does not fit its
    /// type), `unapplied` (it decodes, but a replay could not apply it), `skipped` (set aside
    /// by an operator).
    #[schema(example = "bad_payload")]
    reason: String,
    /// The reason's details, for people.
    #[schema(example = "event `product.registered` v1 has an invalid payload: invalid type")]
    detail: String,
    #[schema(example = "product.registered")]
    routing_key: String,
    /// When the projector took it off its queue (or off the dead-letter queue).
    received_at: DateTime<Utc>,
    /// The delivery, then each replay that failed.
    #[schema(minimum = 1)]
    attempts: i32,
    /// The body's first 200 characters, as text (bytes that are not UTF-8 show as U+FFFD).
    body_preview: String,
}

impl From<Summary> for DeadLetterSummary {
    fn from(summary: Summary) -> DeadLetterSummary {
        DeadLetterSummary {
            id: summary.id,
            reason: summary.reason_kind,
            detail: summary.reason,
            routing_key: summary.routing_key,
            received_at: summary.received_at,
            attempts: summary.attempts,
            body_preview: crate::dead_letters::preview(&summary.body_start),
        }
    }
}

/// 200 of GET /v1/admin/dead-letters.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeadLetterPage {
    /// Oldest first.
    pub items: Vec<DeadLetterSummary>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
    /// Dead letters in the store, on every page.
    #[schema(minimum = 0)]
    pub total: i64,
}

/// How `body` is written.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BodyEncoding {
    /// The body was UTF-8, and is that text.
    Utf8,
    /// The body was not UTF-8: its bytes in standard base64.
    Base64,
}

/// 200 of GET /v1/admin/dead-letters/{id}: the message whole.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeadLetterDetail {
    #[schema(minimum = 1)]
    id: i64,
    /// Why it is a dead letter: `undecodable` (not a stockflow CloudEvent), `unknown_type` (a
    /// type or version this projector does not know), `bad_payload` (its data does not fit its
    /// type), `unapplied` (it decodes, but a replay could not apply it), `skipped` (set aside
    /// by an operator).
    #[schema(example = "bad_payload")]
    reason: String,
    /// The reason's details, for people.
    #[schema(example = "event `product.registered` v1 has an invalid payload: invalid type")]
    detail: String,
    routing_key: String,
    received_at: DateTime<Utc>,
    #[schema(minimum = 1)]
    attempts: i32,
    /// The AMQP headers, as JSON.
    #[schema(value_type = Object)]
    headers: Value,
    /// The other AMQP properties that were set (`content_type`, `message_id`, `type`, …).
    #[schema(value_type = Object)]
    properties: Value,
    body: String,
    #[schema(inline)]
    body_encoding: BodyEncoding,
    /// The event id the body names, when it could be read that far; null otherwise.
    #[schema(required = true)]
    event_id: Option<Uuid>,
    /// The position the body names, when it could be read that far; null otherwise.
    #[schema(required = true)]
    position: Option<i64>,
}

impl From<DeadLetter> for DeadLetterDetail {
    fn from(letter: DeadLetter) -> DeadLetterDetail {
        let (body, body_encoding) = match String::from_utf8(letter.body) {
            Ok(text) => (text, BodyEncoding::Utf8),
            Err(bytes) => (STANDARD.encode(bytes.into_bytes()), BodyEncoding::Base64),
        };
        DeadLetterDetail {
            id: letter.id,
            reason: letter.reason_kind,
            detail: letter.reason,
            routing_key: letter.routing_key,
            received_at: letter.received_at,
            attempts: letter.attempts,
            headers: letter.headers,
            properties: letter.properties,
            body,
            body_encoding,
            event_id: letter.event_id,
            position: letter.position,
        }
    }
}

/// How a replay ended.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReplayOutcome {
    /// Applied to the read models; the dead letter is gone.
    Applied,
    /// The read models include its position already; the dead letter is gone.
    SkippedDuplicate,
    /// It failed again; the dead letter stays, with this reason and one attempt more.
    DeadLettered,
}

/// 200 of POST /v1/admin/dead-letters/{id}/replay.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReplayResult {
    #[schema(inline)]
    outcome: ReplayOutcome,
    /// Why it was skipped or failed again; null when applied.
    #[schema(required = true)]
    reason: Option<String>,
}

impl From<Outcome> for ReplayResult {
    fn from(outcome: Outcome) -> ReplayResult {
        let (outcome, reason) = match outcome {
            Outcome::Applied => (ReplayOutcome::Applied, None),
            Outcome::SkippedDuplicate(reason) => (ReplayOutcome::SkippedDuplicate, Some(reason)),
            Outcome::DeadLettered(reason) => (ReplayOutcome::DeadLettered, Some(reason)),
        };
        ReplayResult { outcome, reason }
    }
}

// Fields are read as optional so that a missing one is a `validation_failed` field error.
/// The body of POST /v1/admin/dead-letters/{id}/discard.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DiscardRequest)]
pub(crate) struct DiscardBody {
    /// Why the dead letter is discarded, for the audit log: 1 to 500 characters, one line.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 500, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$", example = "test message published by hand")]
    pub reason: Option<String>,
}

/// 200 of POST /v1/admin/dead-letters/{id}/discard.
#[derive(Serialize, ToSchema)]
pub(crate) struct Discarded {
    /// The dead letter, now gone from the store.
    #[schema(minimum = 1)]
    pub id: i64,
    /// The reason recorded in the audit log.
    pub reason: String,
}
