//! Liveness and readiness for orchestrators, open without a token.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::relay::RelaySnapshot;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// The body of `/healthz`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    #[schema(inline)]
    status: HealthOk,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HealthOk {
    Ok,
}

/// The body of `/readyz`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Readiness {
    #[schema(inline)]
    status: ReadyStatus,
    checks: ReadinessChecks,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReadyStatus {
    Ready,
    NotReady,
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PostgresCheck {
    Ok,
    Unreachable,
}

/// Liveness, for orchestrators.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "healthz",
    responses((status = 200, description = "The process serves HTTP", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: HealthOk::Ok,
    })
}

/// Readiness, for orchestrators.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "readyz",
    responses(
        (status = 200, description = "PostgreSQL answers and the relay (if it runs here) reaches RabbitMQ", body = Readiness),
        (status = 503, description = "Not ready; `checks` says why", body = Readiness),
    ),
)]
async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let postgres = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&app.pool),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let relay = app.relay.snapshot();
    let ready = postgres && relay.healthy;
    let (status, body_status) = if ready {
        (StatusCode::OK, ReadyStatus::Ready)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, ReadyStatus::NotReady)
    };
    let body = Readiness {
        status: body_status,
        checks: ReadinessChecks {
            postgres: if postgres {
                PostgresCheck::Ok
            } else {
                PostgresCheck::Unreachable
            },
            relay,
        },
    };
    (status, Json(body))
}
