//! Operators' routes for the dead letters, behind the `admin` scope (docs/api.md,
//! "Dead letters"): list, read, replay, discard. Each replay and discard that gets past its
//! parameters' and body's checks is recorded in the audit log, with the token's subject.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use stockflow_audit::{Entry, Outcome, Reason, Target};
use stockflow_edge::Caller;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::HttpState;
use super::body;
use super::error::ApiError;
use super::params::{self, ListParams};
use super::views::{
    DeadLetterDetail, DeadLetterPage, DeadLetterSummary, DiscardBody, Discarded, ReplayResult,
};
use crate::dead_letters::replay::{self, ReplayError};
use crate::dead_letters::store;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_dead_letters))
        .routes(routes!(dead_letter))
        .routes(routes!(replay_dead_letter))
        .routes(routes!(discard_dead_letter))
}

#[utoipa::path(
    get,
    path = "/v1/admin/dead-letters",
    summary = "The dead letters, oldest first",
    description = "The messages from the projector's queue that it could not use, waiting for \
        an operator to replay or discard them, with a preview of each body. Paged by an opaque \
        cursor; `total` counts them all.",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Dead letters per page: 1 to 500, 50 by default"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "Opaque: the `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of dead letters", body = DeadLetterPage),
        (status = 400, description = "`invalid_parameter`: `limit` out of range, a `cursor` this listing did not hand out, or an unknown, repeated or empty parameter, named in `parameter`", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_dead_letters(
    State(state): State<HttpState>,
    uri: Uri,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let params = ListParams::parse(uri.query())?;
    let page = store::page(&state.pool, params.limit, params.after).await?;
    Ok(Json(DeadLetterPage {
        items: page
            .items
            .into_iter()
            .map(DeadLetterSummary::from)
            .collect(),
        next_cursor: page.next.map(params::cursor),
        total: page.total,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/admin/dead-letters/{id}",
    summary = "A dead letter, whole",
    description = "The message as it was received: its routing key, AMQP headers and \
        properties, and its body (as text if it is UTF-8, else in base64), with why it is here \
        and what it says of its event.",
    params(("id" = i64, Path, minimum = 1, description = "The dead letter's id")),
    responses(
        (status = 200, description = "The dead letter", body = DeadLetterDetail),
        (status = 400, description = "`invalid_parameter`: `id` is not a positive integer", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`dead_letter_not_found`: no dead letter has this id (any more)", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn dead_letter(
    State(state): State<HttpState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DeadLetterDetail>, ApiError> {
    let id = path_id(id)?;
    let letter = store::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::DeadLetterNotFound(id.to_string()))?;
    Ok(Json(letter.into()))
}

#[utoipa::path(
    post,
    path = "/v1/admin/dead-letters/{id}/replay",
    summary = "Replay a dead letter",
    description = "Reads the message again and applies it through the projector's own path. \
        At or below the checkpoint it is `skipped_duplicate`; right after the checkpoint, and \
        the store's event at that position, it is `applied`; either way the dead letter is \
        gone. Otherwise it is `dead_lettered` and stays, with the new reason and one attempt \
        more: it still cannot be read, or it is ahead of the checkpoint (never applied out of \
        order: replay it once the projector has reached the position before it), or the store \
        has another event at its position. Recorded in the audit log.",
    params(("id" = i64, Path, minimum = 1, description = "The dead letter's id")),
    responses(
        (status = 200, description = "How the replay ended", body = ReplayResult),
        (status = 400, description = "`invalid_parameter`: `id` is not a positive integer", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`dead_letter_not_found`: no dead letter has this id (any more)", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn replay_dead_letter(
    State(state): State<HttpState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ReplayResult>, ApiError> {
    let id = path_id(id)?;
    let result = replay::replay(&state.pool, id, &state.health)
        .await
        .map(ReplayResult::from)
        .map_err(ApiError::from);
    record(&state, &caller, "dead_letter.replay", id, None, &result).await;
    result.map(Json)
}

#[utoipa::path(
    post,
    path = "/v1/admin/dead-letters/{id}/discard",
    summary = "Discard a dead letter",
    description = "Removes the dead letter from the store without applying it. The reason is \
        required, and recorded in the audit log with who discarded it.",
    params(("id" = i64, Path, minimum = 1, description = "The dead letter's id")),
    request_body = DiscardBody,
    responses(
        (status = 200, description = "Discarded", body = Discarded),
        (status = 400, description = "`invalid_parameter`: `id` is not a positive integer; `malformed_body`: not a JSON object of this shape; or `validation_failed`: `reason` is missing, empty, too long or not one line", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`dead_letter_not_found`: no dead letter has this id (any more)", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 16 KiB", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not `application/json`", body = super::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn discard_dead_letter(
    State(state): State<HttpState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Discarded>, ApiError> {
    let id = path_id(id)?;
    let reason = discard_reason(&headers, body)?;
    let result = replay::discard(&state.pool, id)
        .await
        .map(|()| Discarded {
            id,
            reason: reason.as_str().to_owned(),
        })
        .map_err(ApiError::from);
    record(
        &state,
        &caller,
        "dead_letter.discard",
        id,
        Some(reason),
        &result,
    )
    .await;
    result.map(Json)
}

fn path_id(id: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    match id {
        Ok(Path(raw)) => params::dead_letter_id(&raw),
        Err(_) => Err(ApiError::invalid(
            "id",
            "must be a dead letter's id, a positive integer",
        )),
    }
}

/// The reason a discard's body gives, checked: required, 1 to 500 characters, one line.
fn discard_reason(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Reason, ApiError> {
    let body: Option<DiscardBody> = body::optional_json(headers, body)?;
    body::reason(body.and_then(|b| b.reason))?
        .ok_or_else(|| body::required("reason", "say why the dead letter is discarded"))
}

impl From<ReplayError> for ApiError {
    fn from(error: ReplayError) -> ApiError {
        match error {
            ReplayError::NotFound(id) => ApiError::DeadLetterNotFound(id.to_string()),
            ReplayError::Unavailable(cause) => ApiError::Unavailable(cause.to_string()),
        }
    }
}

/// Records what `caller` did to the dead letter `id`. The action has taken effect (or been
/// refused) already, so a log that cannot be written does not change the answer: the entry
/// goes to the projector's log instead, at error level, whole.
async fn record<T>(
    state: &HttpState,
    caller: &Caller,
    action: &'static str,
    id: i64,
    reason: Option<Reason>,
    result: &Result<T, ApiError>,
) {
    let entry = Entry {
        subject: caller.subject.clone(),
        action,
        target: Target::new("dead_letter", &id.to_string()),
        reason,
        outcome: match result {
            Ok(_) => Outcome::Done,
            Err(refusal) => Outcome::Refused(refusal.code()),
        },
    };
    stockflow_audit::record_or_log(&state.pool, &entry).await;
}
