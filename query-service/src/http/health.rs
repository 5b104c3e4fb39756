//! Readiness for orchestrators, open without a token; liveness is the edge's
//! (`stockflow_edge::health`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use stockflow_edge::health::{CHECK_TIMEOUT, PostgresCheck, ReadyStatus};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::read_models::StoppedProjection;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(readyz))
}

/// The body of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    #[schema(inline)]
    status: ReadyStatus,
    /// Why not, when not ready; null when ready.
    #[schema(required = true)]
    reason: Option<String>,
    /// `postgres`: `ok` or `unreachable`; `projections`: `{state: running}`, or
    /// `{state: stopped, stopped: [...]}` with what stopped them, or `{state: unknown}`;
    /// `notifications`: `listening`, `reconnecting`, or `polling` on a standby (a replica,
    /// which is never notified) (informational).
    #[schema(value_type = Object)]
    checks: ReadinessChecks,
}

/// What readiness rests on.
#[derive(Debug, Serialize)]
pub(crate) struct ReadinessChecks {
    postgres: PostgresCheck,
    projections: ProjectionsCheck,
    /// Informational: while it reconnects, positions still advance on a timer; on a standby
    /// they are polled.
    notifications: NotificationsCheck,
}

#[derive(Debug, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum ProjectionsCheck {
    Running,
    Stopped { stopped: Vec<StoppedProjection> },
    Unknown,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NotificationsCheck {
    Listening,
    Reconnecting,
    Polling,
}

/// Readiness, for orchestrators.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "PostgreSQL answers and no projection has stopped", body = Readiness),
        (status = 503, description = "Not ready; `checks` says why", body = Readiness),
    ),
)]
async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    // Ready when PostgreSQL answers and no projection has stopped: answers from a stopped
    // projection would go stale without end, so say why instead of serving them as fresh.
    let stopped = tokio::time::timeout(CHECK_TIMEOUT, app.read.stopped_projections()).await;
    let (postgres, projections) = match stopped {
        Ok(Ok(stopped)) if stopped.is_empty() => (PostgresCheck::Ok, ProjectionsCheck::Running),
        Ok(Ok(stopped)) => (PostgresCheck::Ok, ProjectionsCheck::Stopped { stopped }),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: cannot query PostgreSQL");
            (PostgresCheck::Unreachable, ProjectionsCheck::Unknown)
        }
        Err(_) => (PostgresCheck::Unreachable, ProjectionsCheck::Unknown),
    };
    let ready = matches!(projections, ProjectionsCheck::Running);
    let (status, body_status) = ReadyStatus::of(ready);
    let reason = (!ready).then(|| {
        if postgres != PostgresCheck::Ok {
            "PostgreSQL is unreachable".to_owned()
        } else {
            "a projection has stopped; see checks.projections.stopped".to_owned()
        }
    });
    let notifications = if app.positions.is_listening() {
        NotificationsCheck::Listening
    } else if app.positions.is_polling() {
        NotificationsCheck::Polling
    } else {
        NotificationsCheck::Reconnecting
    };
    let body = Readiness {
        status: body_status,
        reason,
        checks: ReadinessChecks {
            postgres,
            projections,
            notifications,
        },
    };
    (status, Json(body))
}
