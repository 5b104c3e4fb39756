//! Operators' routes for rebuilds, behind the `admin` scope (docs/api.md, "Rebuilds"): start
//! one (the same engine as `projector rebuild`), and follow its progress. One at a time.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use stockflow_audit::{Entry, Outcome, Target};
use stockflow_edge::Caller;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::HttpState;
use super::body;
use super::error::ApiError;
use super::projection_views::{RebuildBody, RebuildStarted, RebuildView};
use crate::rebuild::runs;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(start_rebuild))
        .routes(routes!(rebuild))
}

#[utoipa::path(
    post,
    path = "/v1/admin/rebuilds",
    summary = "Rebuild the read models",
    description = "Replays the whole store into fresh tables beside the live ones, then swaps \
        them in, in one transaction: queries go on throughout, from the old tables until the \
        swap and the new ones after; the live projection goes on too. The events operators \
        skipped stay out. Answers at once; follow it at `/v1/admin/rebuilds/{id}`. One at a \
        time, whichever projector or command runs it. Recorded in the audit log.",
    request_body(content = Option<RebuildBody>, description = "Optional: why"),
    responses(
        (status = 202, description = "Started", body = RebuildStarted),
        (status = 400, description = "`malformed_body`: not a JSON object of this shape; or `validation_failed`: `reason` empty, too long or not one line", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 16 KiB", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not `application/json`", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`rebuild_running`: a rebuild is running; wait for it", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn start_rebuild(
    State(state): State<HttpState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<RebuildStarted>), ApiError> {
    let body: Option<RebuildBody> = body::optional_json(&headers, body)?;
    let reason = body::reason(body.and_then(|b| b.reason))?;
    let result = runs::start(&state.pool, &caller.subject)
        .await
        .map_err(ApiError::from);
    let entry = Entry {
        subject: caller.subject.clone(),
        action: "rebuild.start",
        target: match &result {
            Ok(id) => Target::new("rebuild", &id.to_string()),
            Err(_) => Target::new("projections", "live"),
        },
        reason,
        outcome: match &result {
            Ok(_) => Outcome::Accepted,
            Err(refusal) => Outcome::Refused(refusal.code()),
        },
    };
    stockflow_audit::record_or_log(&state.pool, &entry).await;
    let id = result?;
    let pool = state.pool.clone();
    tokio::spawn(async move {
        match runs::run(&pool, id, runs::BATCH).await {
            Ok(report) => tracing::info!(
                %id,
                events = report.events,
                seconds = report.seconds,
                "read models rebuilt and swapped in"
            ),
            Err(error) => {
                tracing::error!(%id, %error, "rebuild failed; the live read models are untouched");
            }
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(RebuildStarted { rebuild_id: id }),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/admin/rebuilds/{id}",
    summary = "A rebuild's progress",
    description = "How far it has come (written every half second while it runs), its rate \
        and the time left at that rate, and how it ended.",
    params(("id" = Uuid, Path, description = "The `rebuild_id` its start answered")),
    responses(
        (status = 200, description = "The rebuild", body = RebuildView),
        (status = 400, description = "`invalid_parameter`: `id` is not a UUID", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`rebuild_not_found`: no rebuild has this id", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn rebuild(
    State(state): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<RebuildView>, ApiError> {
    let id = id
        .ok()
        .and_then(|Path(raw)| Uuid::parse_str(&raw).ok())
        .ok_or_else(|| ApiError::invalid("id", "must be a rebuild's id, a UUID"))?;
    let run = runs::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::RebuildNotFound(id.to_string()))?;
    Ok(Json(run.into()))
}
