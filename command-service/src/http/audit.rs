//! The audit log of operators' actions, behind the `admin` scope: recording what the admin
//! handlers did, and `GET /v1/admin/audit`, the log newest first (docs/api.md, "Audit log").

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use chrono::{DateTime, Utc};
use serde::Serialize;
use stockflow_audit::{Cursor, Entry, Outcome};
use stockflow_edge::Caller;
use stockflow_edge::paging::{BAD_CURSOR, Paging};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use crate::replies::Refusal;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_log))
}

/// What an admin handler ended with, as the log says it: `success` when it answered a
/// success, the problem's code when it refused.
pub(super) fn outcome<T>(result: &Result<T, ApiError>, success: Outcome) -> Outcome {
    match result {
        Ok(_) => success,
        Err(refusal) => Outcome::Refused(refusal.code()),
    }
}

/// Records what `caller` did. The action has taken effect (or been refused) already, so a
/// log that cannot be written does not change the answer: the entry goes to the service's
/// log instead, at error level, whole.
pub(super) async fn record(
    app: &AppState,
    caller: &Caller,
    action: &'static str,
    target: stockflow_audit::Target,
    reason: Option<stockflow_audit::Reason>,
    outcome: Outcome,
) {
    let entry = Entry {
        subject: caller.subject.clone(),
        action,
        target,
        reason,
        outcome,
    };
    stockflow_audit::record_or_log(&app.pool, &entry).await;
}

/// 200 of GET /v1/admin/audit.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditPage {
    /// Newest first.
    items: Vec<AuditEntry>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// One action of an operator.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditEntry {
    /// When it was recorded.
    at: DateTime<Utc>,
    /// The `sub` claim of the token that acted (`anonymous` in development mode).
    #[schema(example = "ops-ana")]
    subject: String,
    /// `<thing>.<verb>`: `replay.start`, `replay.cancel`.
    #[schema(example = "replay.start")]
    action: String,
    /// `<kind>:<name>`: `queue:<queue>` for a replay's start, `replay:<replay_id>` for a cancel.
    #[schema(example = "queue:billing.events")]
    target: String,
    /// Why, as the operator said; null when they did not.
    #[schema(required = true)]
    reason: Option<String>,
    /// `accepted` (it goes on in the background), `done`, or `refused: <code>` with the
    /// problem code the operator was answered.
    #[schema(example = "refused: queue_not_found")]
    outcome: String,
}

impl From<stockflow_audit::Record> for AuditEntry {
    fn from(record: stockflow_audit::Record) -> AuditEntry {
        AuditEntry {
            at: record.at,
            subject: record.subject,
            action: record.action,
            target: record.target,
            reason: record.reason,
            outcome: record.outcome,
        }
    }
}

/// `limit` and `cursor`, the only parameters of the listing.
#[derive(Debug, PartialEq)]
struct ListParams {
    limit: i64,
    after: Option<Cursor>,
}

impl ListParams {
    /// Every parameter that is unknown, repeated, empty or out of range is refused, named.
    fn parse(query: Option<&str>) -> Result<ListParams, ApiError> {
        let paging = Paging::parse(query, DEFAULT_LIMIT, MAX_LIMIT)
            .map_err(|refused| ApiError::invalid(refused.name, refused.message))?;
        let after = paging
            .cursor
            .map(|raw| Cursor::parse(&raw).ok_or_else(|| ApiError::invalid("cursor", BAD_CURSOR)))
            .transpose()?;
        Ok(ListParams {
            limit: paging.limit,
            after,
        })
    }
}

#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    summary = "The audit log of operators' actions, newest first",
    description = "Every action an `admin` token took (a replay started or cancelled), refused \
        ones included: who (the token's `sub`), what, to what, when, why and how it ended. \
        Reading (this log, a replay's status) is not recorded, nor requests refused before the \
        action was tried: without a valid token or scope, or with a body that is malformed or \
        breaks a rule on its own. Paged by an opaque cursor.",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Entries per page: 1 to 500, 50 by default"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "Opaque: the `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of the log", body = AuditPage),
        (status = 400, description = "`invalid_parameter`: `limit` out of range, a `cursor` this listing did not hand out, or an unknown, repeated or empty parameter, named in `parameter`", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn audit_log(State(app): State<AppState>, uri: Uri) -> Result<Json<AuditPage>, ApiError> {
    let params = ListParams::parse(uri.query())?;
    let page = stockflow_audit::page(&app.pool, params.limit, params.after.as_ref())
        .await
        .map_err(|e| ApiError::Refused(Refusal::Unavailable(e.to_string())))?;
    Ok(Json(AuditPage {
        items: page.records.into_iter().map(AuditEntry::from).collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_parameter(query: &str) -> String {
        match ListParams::parse(Some(query)) {
            Err(ApiError::InvalidParameter { parameter, .. }) => parameter,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn limit_and_cursor_are_read_and_everything_else_is_refused_by_name() {
        let defaults = ListParams::parse(None).expect("no parameters");
        assert_eq!(
            defaults,
            ListParams {
                limit: 50,
                after: None
            }
        );
        for limit in [1, 500] {
            let query = format!("limit={limit}");
            assert_eq!(ListParams::parse(Some(&query)).expect("valid").limit, limit);
        }
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=-1", "limit"),
            ("limit=%2B5", "limit"),
            ("limit=1.5", "limit"),
            ("limit=ten", "limit"),
            ("limit=", "limit"),
            ("limit=5&limit=6", "limit"),
            ("cursor=nope", "cursor"),
            ("cursor=", "cursor"),
            ("limt=5", "limt"),
        ] {
            assert_eq!(refused_parameter(query), parameter, "{query}");
        }
    }
}
