//! Operators' routes, behind the `admin` scope: replaying stored events into a queue,
//! following a replay and cancelling it (docs/api.md, "Replaying events into a queue"). Each
//! start and cancel that gets past its body's checks is recorded in the audit log.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use stockflow_audit::{Outcome, Reason, Target};
use stockflow_edge::Caller;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::audit;
use super::error::ApiError;
use super::extract::{JsonBody, Validator};
use crate::replay::{self, CancelError, ReplayRequest, StartError, TypeFilter};
use crate::replies::{FieldError, Refusal};

/// Entries of `types`, at most.
const MAX_TYPES: usize = 64;
/// The longest queue name RabbitMQ takes, in bytes.
const MAX_QUEUE_NAME: usize = 255;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_replay))
        .routes(routes!(replay_status))
        .routes(routes!(cancel_replay))
}

// Fields are read as optional so that a missing one is a `validation_failed` field error.
/// The body of POST /v1/admin/replays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReplayRequest)]
pub(crate) struct ReplayBody {
    /// The queue to publish to, through the default exchange; it must exist. At most 255
    /// bytes (UTF-8), no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$", example = "billing.events")]
    queue: Option<String>,
    /// Replay the events after this position (0, the default: from the first).
    #[schema(value_type = i64, required = false, minimum = 0)]
    after: Option<i64>,
    /// Up to and including this position; the store's head when absent or beyond it.
    #[schema(value_type = i64, required = false, minimum = 0)]
    to: Option<i64>,
    /// Only these routing keys (`order.placed`), or every key of an aggregate (`order.*`).
    #[schema(value_type = Vec<String>, required = false, min_items = 1, max_items = 64, example = json!(["order.*", "product.replenishment_requested"]))]
    types: Option<Vec<String>>,
    /// Why, for the audit log: at most 500 characters, one line.
    #[schema(value_type = String, required = false, max_length = 500, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "billing joined late")]
    reason: Option<String>,
}

/// The body of POST /v1/admin/replays/{replay_id}/cancel, which may also be empty.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CancelReplayRequest)]
pub(crate) struct CancelBody {
    /// Why, for the audit log: at most 500 characters, one line.
    #[schema(value_type = String, required = false, max_length = 500, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "wrong queue")]
    reason: Option<String>,
}

impl CancelBody {
    fn validate(self) -> Result<Option<Reason>, ApiError> {
        let mut v = Validator::default();
        let reason = v.check("reason", Reason::parse(self.reason));
        v.finish(|| reason)
    }
}

impl ReplayBody {
    fn validate(self) -> Result<(ReplayRequest, Option<Reason>), ApiError> {
        let mut v = Validator::default();
        let reason = v.check("reason", Reason::parse(self.reason));
        let queue = v.field("queue", self.queue, |queue| {
            if queue.is_empty() || queue.len() > MAX_QUEUE_NAME {
                Err(format!("must be 1 to {MAX_QUEUE_NAME} bytes"))
            } else if queue.chars().any(char::is_control) {
                Err("must not contain control characters".into())
            } else {
                Ok(queue)
            }
        });
        let not_negative = |value: i64| {
            if value >= 0 {
                Ok(value)
            } else {
                Err("must not be negative".to_owned())
            }
        };
        let after = v.check("after", not_negative(self.after.unwrap_or(0)));
        let to = self.to.and_then(|to| v.check("to", not_negative(to)));
        if let (Some(after), Some(to)) = (after, to)
            && to < after
        {
            v.error("to", format!("must not be below after ({after})"));
        }
        let types = match self.types {
            None => Some(None),
            Some(types) => v.check("types", type_filter(&types)).map(Some),
        };
        v.finish(|| {
            let request = ReplayRequest {
                queue: queue?,
                after: after?,
                to,
                types: types?,
            };
            Some((request, reason?))
        })
    }
}

fn type_filter(types: &[String]) -> Result<TypeFilter, String> {
    if types.is_empty() || types.len() > MAX_TYPES {
        return Err(format!(
            "must name 1 to {MAX_TYPES} routing keys (leave it out for every event)"
        ));
    }
    TypeFilter::parse(types).map_err(|unknown| {
        format!(
            "names no event: {} (a routing key like `order.placed`, or `order.*`)",
            unknown.join(", ")
        )
    })
}

/// 202 of POST /v1/admin/replays.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReplayStarted {
    /// Follow the replay at `/v1/admin/replays/{replay_id}`.
    replay_id: Uuid,
    /// The events after this position are replayed…
    after: i64,
    /// …up to and including this one.
    to: i64,
}

/// Where a replay stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReplayStatus {
    Running,
    Done,
    Failed,
}

/// 200 of GET /v1/admin/replays/{replay_id}.
#[derive(Serialize, ToSchema)]
pub(crate) struct Replay {
    replay_id: Uuid,
    queue: String,
    #[schema(inline)]
    status: ReplayStatus,
    /// Messages the broker confirmed so far.
    published: i64,
    after: i64,
    to: i64,
    /// The `types` asked for; null for every event.
    #[schema(required = true)]
    types: Option<Vec<String>>,
    /// Every event up to this position was examined and, if it matched, confirmed. A
    /// replay that failed resumes with a new one with this as `after`, the same `to` and
    /// `types`.
    last_position: i64,
    /// Why a failed replay stopped; null otherwise.
    #[schema(required = true)]
    error: Option<String>,
}

impl From<replay::Replay> for Replay {
    fn from(replay: replay::Replay) -> Replay {
        let status = match replay.status.as_str() {
            "running" => ReplayStatus::Running,
            "done" => ReplayStatus::Done,
            _ => ReplayStatus::Failed,
        };
        Replay {
            replay_id: replay.replay_id,
            queue: replay.queue,
            status,
            published: replay.published,
            after: replay.after,
            to: replay.to,
            types: replay.types,
            last_position: replay.last_position,
            error: replay.error,
        }
    }
}

impl From<StartError> for ApiError {
    fn from(error: StartError) -> ApiError {
        match error {
            StartError::Busy => ApiError::ReplayLimit(replay::MAX_RUNNING),
            StartError::PastHead(past) => ApiError::Validation(vec![FieldError {
                field: "after".into(),
                message: format!("is past the store's head ({})", past.head),
            }]),
            StartError::QueueNotFound(queue) => ApiError::QueueNotFound(queue),
            StartError::Broker(_) | StartError::Database(_) => unavailable(&error),
        }
    }
}

fn unavailable(cause: &dyn std::fmt::Display) -> ApiError {
    ApiError::Refused(Refusal::Unavailable(cause.to_string()))
}

#[utoipa::path(
    post,
    path = "/v1/admin/replays",
    summary = "Replay stored events into one queue",
    description = "Publishes the stored events with `after` < position ≤ `to`, of the routing \
        keys `types` names, in position order, to `queue` alone (through the default exchange), \
        as the same messages as live ones, with publisher confirms, at most `REPLAY_RATE` per \
        second. It runs in the background: follow it at `/v1/admin/replays/{replay_id}`.",
    request_body = ReplayBody,
    responses(
        (status = 202, description = "Started", body = ReplayStarted,
            headers(("Location" = String, description = "Where to follow the replay"))),
        (status = 400, description = "`malformed_body`: not JSON, not an object, an unknown field or a wrong type; or `validation_failed`: a field breaks a rule (a bad `queue`, a negative position, `to` below `after`, `after` past the store's head, `types` naming no event, a `reason` over 500 characters or with a control character), listed in `errors`", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`queue_not_found`: the broker has no such queue", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`replay_limit`: as many replays as this service runs at once are running; retry when one has ended", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not `application/json`", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn start_replay(
    State(app): State<AppState>,
    caller: Caller,
    body: JsonBody<ReplayBody>,
) -> Result<Response, ApiError> {
    let (request, reason) = body.value.validate()?;
    let target = Target::new("queue", &request.queue);
    let started = app.replays.start(request).await.map_err(ApiError::from);
    let outcome = audit::outcome(&started, Outcome::Accepted);
    audit::record(&app, &caller, "replay.start", target, reason, outcome).await;
    let started = started?;
    let location = format!("/v1/admin/replays/{}", started.replay_id);
    let mut response = (
        StatusCode::ACCEPTED,
        Json(ReplayStarted {
            replay_id: started.replay_id,
            after: started.range.after,
            to: started.range.to,
        }),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/v1/admin/replays/{replay_id}",
    summary = "How far a replay got",
    params(("replay_id" = Uuid, Path, description = "As the replay's start answered")),
    responses(
        (status = 200, description = "The replay", body = Replay),
        (status = 404, description = "`replay_not_found`: no replay with this id", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn replay_status(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Replay>, ApiError> {
    let (raw, replay_id) = replay_id(path)?;
    let replay = app
        .replays
        .get(replay_id)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or(ApiError::ReplayNotFound(raw))?;
    Ok(Json(replay.into()))
}

/// The path's replay id; one that is not a UUID names no replay.
fn replay_id(path: Result<Path<String>, PathRejection>) -> Result<(String, Uuid), ApiError> {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    let replay_id = Uuid::parse_str(&raw).map_err(|_| ApiError::ReplayNotFound(raw.clone()))?;
    Ok((raw, replay_id))
}

#[utoipa::path(
    post,
    path = "/v1/admin/replays/{replay_id}/cancel",
    summary = "Stop a running replay",
    description = "Marks the replay `failed` with the error `cancelled by an operator`, at once, \
        whichever command service runs it; that service stops publishing within a second. What \
        the broker confirmed stays counted in `published` and `last_position`: a new replay \
        with `after` at its `last_position` (once it stopped moving) resumes it.",
    params(("replay_id" = Uuid, Path, description = "As the replay's start answered")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "Cancelled: the replay as it now stands", body = Replay),
        (status = 400, description = "`malformed_body`: not JSON, not an object, an unknown field or a wrong type; or `validation_failed`: a bad `reason`, listed in `errors`", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`replay_not_found`: no replay with this id", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`replay_ended`: the replay is `done` or `failed` already", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 64 KiB", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not `application/json`", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn cancel_replay(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: JsonBody<CancelBody>,
) -> Result<Json<Replay>, ApiError> {
    let reason = body.value.validate()?;
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    let target = Target::new("replay", &raw);
    let cancelled = cancel(&app, raw).await;
    let outcome = audit::outcome(&cancelled, Outcome::Done);
    audit::record(&app, &caller, "replay.cancel", target, reason, outcome).await;
    cancelled.map(Json)
}

async fn cancel(app: &AppState, raw: String) -> Result<Replay, ApiError> {
    let Ok(replay_id) = Uuid::parse_str(&raw) else {
        return Err(ApiError::ReplayNotFound(raw));
    };
    match app.replays.cancel(replay_id).await {
        Ok(replay) => Ok(replay.into()),
        Err(CancelError::NotFound(_)) => Err(ApiError::ReplayNotFound(raw)),
        Err(CancelError::Ended(replay)) => Err(ApiError::ReplayEnded(replay_id, replay.status)),
        Err(CancelError::Database(e)) => Err(unavailable(&e)),
    }
}
