//! The bodies of the projection and rebuild routes, as the OpenAPI document describes them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rebuild::runs::Run;

/// One projection (a family of read-model tables) and how far it has come.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectionView {
    #[schema(example = "products")]
    pub name: String,
    /// `running`; `paused` by an operator; `stopped` at an event it cannot apply (see
    /// `error` and `failing_position`); `rebuilding` while a rebuild builds fresh tables
    /// beside these (which go on advancing).
    #[schema(example = "running")]
    pub status: String,
    /// The last position applied (the checkpoint).
    #[schema(minimum = 0)]
    pub position: i64,
    /// Events in the store after `position`.
    #[schema(minimum = 0)]
    pub lag_events: i64,
    /// Age of the oldest event not applied yet; 0 when there is none.
    #[schema(minimum = 0)]
    pub lag_seconds: f64,
    /// Why it stopped; null unless `stopped`.
    #[schema(required = true)]
    pub error: Option<String>,
    /// The position of the event it stopped at; null unless `stopped`.
    #[schema(required = true)]
    pub failing_position: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

/// 200 of GET /v1/admin/projections.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectionList {
    /// The position of the store's last committed event.
    #[schema(minimum = 0)]
    pub head: i64,
    pub items: Vec<ProjectionView>,
    /// The last rebuild started, if any.
    #[schema(required = true)]
    pub rebuild: Option<RebuildView>,
}

// Fields are read as optional so that a missing one is a `validation_failed` field error.
/// The body of pause, resume and retry: optional, as is its reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ControlRequest)]
pub(crate) struct ControlBody {
    /// Why, for the audit log: 1 to 500 characters, one line.
    #[schema(value_type = String, min_length = 1, max_length = 500, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$", example = "deploying the fix for the replenishment projection")]
    #[serde(default, deserialize_with = "present")]
    pub reason: Option<String>,
}

/// The body of POST /v1/admin/projections/skip.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SkipRequest)]
pub(crate) struct SkipBody {
    /// The event to skip: the `failing_position` of the stopped projection.
    // A JSON number: an integer written with a fraction of zero (`12.0`) is one too.
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub position: Option<serde_json::Number>,
    /// Why, for the audit log and the dead letter: 1 to 500 characters, one line.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 500, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$", example = "written by the 1.4.0 defect; compensated by hand")]
    pub reason: Option<String>,
}

/// 200 of pause, resume and retry: the projection's status after it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ControlResult {
    #[schema(example = "paused")]
    pub status: String,
}

/// 200 of POST /v1/admin/projections/skip.
#[derive(Serialize, ToSchema)]
pub(crate) struct SkipResult {
    /// The event skipped: never applied, by the live projection or a rebuild.
    #[schema(minimum = 1)]
    pub position: i64,
    /// The dead letter that holds it (reason `skipped`).
    #[schema(required = true)]
    pub dead_letter_id: Option<i64>,
    /// `running`: the projection goes on after it.
    #[schema(example = "running")]
    pub status: String,
}

/// A rebuild, as last written (every half second while it runs).
#[derive(Serialize, ToSchema)]
pub(crate) struct RebuildView {
    pub id: Uuid,
    /// `running`, `done` (swapped in) or `failed` (the live read models are untouched).
    #[schema(example = "running")]
    pub status: String,
    /// The token's subject that started it, or `cli`.
    pub requested_by: String,
    /// The position the fresh tables have reached.
    #[schema(minimum = 0)]
    pub events_done: i64,
    /// The store's head when it started (the final position once done).
    #[schema(minimum = 0)]
    pub events_total: i64,
    #[schema(minimum = 0)]
    pub events_per_second: f64,
    /// Seconds left at the rate so far; null unless running with a rate.
    #[schema(required = true)]
    pub eta_seconds: Option<f64>,
    /// Why it failed; null otherwise.
    #[schema(required = true)]
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Run> for RebuildView {
    fn from(run: Run) -> RebuildView {
        RebuildView {
            id: run.id,
            status: run.status.as_str().to_owned(),
            events_per_second: (run.events_per_second() * 10.0).round() / 10.0,
            eta_seconds: run.eta_seconds().map(|s| s.ceil()),
            requested_by: run.requested_by,
            events_done: run.events_done,
            events_total: run.events_total,
            error: run.error,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

/// The body of POST /v1/admin/rebuilds: optional, as is its reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RebuildRequest)]
pub(crate) struct RebuildBody {
    /// Why, for the audit log: 1 to 500 characters, one line.
    #[schema(value_type = String, min_length = 1, max_length = 500, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$", example = "after the fix to daily_sales")]
    #[serde(default, deserialize_with = "present")]
    pub reason: Option<String>,
}

/// 202 of POST /v1/admin/rebuilds.
#[derive(Serialize, ToSchema)]
pub(crate) struct RebuildStarted {
    pub rebuild_id: Uuid,
}

/// An optional member that, when given, is a string: `null` is refused as the document says.
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<String>, D::Error> {
    <String as Deserialize>::deserialize(value).map(Some)
}
