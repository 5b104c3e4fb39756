//! Readiness for orchestrators, open without a token; liveness is the edge's
//! (`stockflow_edge::health`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use stockflow_edge::health::{self, PostgresCheck, ReadyStatus};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::relay::RelaySnapshot;

pub fn router() -> OpenApiRouter<AppState> {
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
    /// The relay's `state` (`disabled`, `starting`, `active`, `standby`, `reconnecting`),
    /// `published_position` and, while reconnecting, `last_error`.
    #[schema(value_type = Object)]
    relay: RelaySnapshot,
}

/// Readiness, for orchestrators.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "PostgreSQL answers and the relay (if it runs here) reaches RabbitMQ", body = Readiness),
        (status = 503, description = "Not ready; `checks` says why", body = Readiness),
    ),
)]
async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let postgres = health::answers(sqlx::query("SELECT 1").execute(&app.pool)).await;
    let relay = app.relay.snapshot();
    let (status, body_status) = ReadyStatus::of(postgres && relay.healthy);
    let body = Readiness {
        status: body_status,
        checks: ReadinessChecks {
            postgres: PostgresCheck::of(postgres),
            relay,
        },
    };
    (status, Json(body))
}
