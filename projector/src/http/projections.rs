//! Operators' routes for the live projection, behind the `admin` scope (docs/api.md,
//! "Projections"): where it stands, pause and resume, retry after a stop, skip the event it
//! stopped at. Each action that gets past its body's checks is recorded in the audit log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use stockflow_audit::{Entry, Outcome, Reason, Target};
use stockflow_edge::Caller;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::HttpState;
use super::body;
use super::error::ApiError;
use super::projection_views::{
    ControlBody, ControlResult, ProjectionList, ProjectionView, SkipBody, SkipResult,
};
use crate::control::{self, Status};
use crate::rebuild::runs;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_projections))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(retry))
        .routes(routes!(skip))
}

#[utoipa::path(
    get,
    path = "/v1/admin/projections",
    summary = "The projections, where they stand",
    description = "Each read-model projection with its status, checkpoint and lag behind the \
        store (in events, and the age of the oldest event not applied), the error and failing \
        position of a stopped one, and the last rebuild. Every projection moves with the \
        others: they share one status.",
    responses((status = 200, description = "The projections", body = ProjectionList)),
)]
async fn list_projections(
    State(state): State<HttpState>,
) -> Result<Json<ProjectionList>, ApiError> {
    let standing = control::standing(&state.pool).await?;
    let live = control::read(&state.pool).await?;
    let rebuild = runs::latest(&state.pool).await?;
    let rebuilding = rebuild
        .as_ref()
        .is_some_and(|run| run.status == runs::Status::Running);
    let status = match live.status {
        Status::Running if rebuilding => "rebuilding",
        status => status.as_str(),
    };
    let now = chrono::Utc::now();
    let items = standing
        .projections
        .into_iter()
        .map(|p| ProjectionView {
            status: status.to_owned(),
            lag_events: (standing.head - p.position).max(0),
            lag_seconds: p.oldest_unapplied.map_or(0.0, |at| {
                ((now - at).num_milliseconds().max(0) as f64 / 1000.0 * 10.0).round() / 10.0
            }),
            error: live.error.clone(),
            failing_position: live.failing_position,
            name: p.name,
            position: p.position,
            updated_at: p.updated_at,
        })
        .collect();
    Ok(Json(ProjectionList {
        head: standing.head,
        items,
        rebuild: rebuild.map(Into::into),
    }))
}

#[utoipa::path(
    post,
    path = "/v1/admin/projections/pause",
    summary = "Pause the projections",
    description = "Once this answers, nothing more is applied (a batch in hand commits first): \
        messages wait in the queue, and queries go on from the read models as they stand, \
        with their `X-Projection-Position`. Pausing a paused projection changes nothing. \
        Recorded in the audit log.",
    request_body(content = Option<ControlBody>, description = "Optional: why"),
    responses(
        (status = 200, description = "Paused", body = ControlResult),
        (status = 400, description = "`malformed_body`: not a JSON object of this shape; or `validation_failed`: `reason` empty, too long or not one line", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 16 KiB", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not `application/json`", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`projection_stopped`: an event stopped it; retry or skip instead", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn pause(
    State(state): State<HttpState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ControlResult>, ApiError> {
    let reason = optional_reason(&headers, body)?;
    let result = control::pause(&state.pool).await.map_err(ApiError::from);
    settle(
        &state,
        &caller,
        "projection.pause",
        reason,
        Status::Paused,
        result,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/admin/projections/resume",
    summary = "Resume paused projections",
    description = "The projector takes the messages that waited and catches up. Resuming a \
        running projection changes nothing. Recorded in the audit log.",
    request_body(content = Option<ControlBody>, description = "Optional: why"),
    responses(
        (status = 200, description = "Running", body = ControlResult),
        (status = 400, description = "`malformed_body`: not a JSON object of this shape; or `validation_failed`: `reason` empty, too long or not one line", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 16 KiB", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not `application/json`", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`projection_stopped`: an event stopped it; retry or skip instead", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn resume(
    State(state): State<HttpState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ControlResult>, ApiError> {
    let reason = optional_reason(&headers, body)?;
    let result = control::resume(&state.pool).await.map_err(ApiError::from);
    settle(
        &state,
        &caller,
        "projection.resume",
        reason,
        Status::Running,
        result,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/admin/projections/retry",
    summary = "Retry a stopped projection",
    description = "The projector tries the event it stopped at again, now (after a fix was \
        deployed, or a cause outside stockflow went away); if it still cannot apply it, it \
        stops again with the new error. Recorded in the audit log.",
    request_body(content = Option<ControlBody>, description = "Optional: why"),
    responses(
        (status = 200, description = "Running again", body = ControlResult),
        (status = 400, description = "`malformed_body`: not a JSON object of this shape; or `validation_failed`: `reason` empty, too long or not one line", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 16 KiB", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not `application/json`", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`projection_not_stopped`: it is running or paused", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn retry(
    State(state): State<HttpState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ControlResult>, ApiError> {
    let reason = optional_reason(&headers, body)?;
    let result = control::retry(&state.pool).await.map_err(ApiError::from);
    settle(
        &state,
        &caller,
        "projection.retry",
        reason,
        Status::Running,
        result,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/admin/projections/skip",
    summary = "Skip the event a projection stopped at",
    description = "The only way an event is ever left out of the read models: the event at \
        `position`, which must be the `failing_position` of the stopped projection, is never \
        applied (by the live projection or any rebuild after), the projection goes on with the \
        events after it, and a dead letter with reason `skipped` holds the event as it was \
        published. The reason is required. Recorded in the audit log.",
    request_body = SkipBody,
    responses(
        (status = 200, description = "Skipped; the projection runs again", body = SkipResult),
        (status = 400, description = "`malformed_body`, or `validation_failed`: `position` or `reason` missing or invalid", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`event_not_found`: the store has no event at `position`", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`projection_not_stopped`, or `not_the_failing_event`: `position` is not the event it stopped at", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 16 KiB", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn skip(
    State(state): State<HttpState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SkipResult>, ApiError> {
    let body: Option<SkipBody> = body::optional_json(&headers, body)?;
    let (position, reason) = body.map_or((None, None), |b| (b.position, b.reason));
    let reason = body::reason(reason)?
        .ok_or_else(|| body::required("reason", "say why the event is skipped"))?;
    let whole = |n: &serde_json::Number| {
        n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.0e18)
                .map(|f| f as i64)
        })
    };
    let position = match position.as_ref().map(whole) {
        Some(Some(position)) if position >= 1 => position,
        Some(_) => {
            return Err(body::invalid_field(
                "position",
                "must be a position, 1 or more",
            ));
        }
        None => return Err(body::required("position", "the failing_position to skip")),
    };
    let result = crate::repair::skip(&state.pool, position, &caller.subject, reason.as_str())
        .await
        .map_err(ApiError::from);
    if result.is_ok() {
        state.control.set(Status::Running);
    }
    let entry = Entry {
        subject: caller.subject.clone(),
        action: "projection.skip",
        target: Target::new("event", &position.to_string()),
        reason: Some(reason),
        outcome: outcome(&result),
    };
    stockflow_audit::record_or_log(&state.pool, &entry).await;
    let skipped = result?;
    Ok(Json(SkipResult {
        position: skipped.position,
        dead_letter_id: skipped.dead_letter_id,
        status: Status::Running.as_str().to_owned(),
    }))
}

fn optional_reason(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Option<Reason>, ApiError> {
    let body: Option<ControlBody> = body::optional_json(headers, body)?;
    body::reason(body.and_then(|b| b.reason))
}

/// Records a pause, resume or retry and answers with the status it led to; this projector
/// follows it at once (the others within their next read of the state).
async fn settle(
    state: &HttpState,
    caller: &Caller,
    action: &'static str,
    reason: Option<Reason>,
    after: Status,
    result: Result<(), ApiError>,
) -> Result<Json<ControlResult>, ApiError> {
    if result.is_ok() {
        state.control.set(after);
    }
    let entry = Entry {
        subject: caller.subject.clone(),
        action,
        target: Target::new("projections", "live"),
        reason,
        outcome: outcome(&result),
    };
    stockflow_audit::record_or_log(&state.pool, &entry).await;
    result.map(|()| {
        Json(ControlResult {
            status: after.as_str().to_owned(),
        })
    })
}

fn outcome<T>(result: &Result<T, ApiError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Done,
        Err(refusal) => Outcome::Refused(refusal.code()),
    }
}
