//! Readiness for orchestrators, open without a token; liveness is the edge's
//! (`stockflow_edge::health`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use stockflow_edge::health::{PostgresCheck, ReadyStatus, answers};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::HttpState;
use crate::health::HealthSnapshot;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new().routes(routes!(readyz))
}

/// The body of `/readyz`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Readiness {
    #[schema(inline)]
    status: ReadyStatus,
    checks: ReadinessChecks,
}

/// What readiness rests on.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReadinessChecks {
    #[schema(inline)]
    postgres: PostgresCheck,
    /// The projector's `broker_connected`, `position` (its checkpoint), `dead_lettered`
    /// (messages set aside since it started) and, once it has stopped, `stopped` (why).
    #[schema(value_type = Object)]
    projector: HealthSnapshot,
}

/// Readiness, for orchestrators.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "PostgreSQL answers, the broker is connected and the projection advances", body = Readiness),
        (status = 503, description = "Not ready; `checks` says why", body = Readiness),
    ),
)]
async fn readyz(State(state): State<HttpState>) -> (StatusCode, Json<Readiness>) {
    let postgres = answers(sqlx::query("SELECT 1").execute(&state.pool)).await;
    let health = state.health.snapshot();
    let ready = postgres && health.broker_connected && health.stopped.is_none();
    let (status, body_status) = ReadyStatus::of(ready);
    let body = Readiness {
        status: body_status,
        checks: ReadinessChecks {
            postgres: PostgresCheck::of(postgres),
            projector: health,
        },
    };
    (status, Json(body))
}
