//! Liveness and the shape of readiness, alike in every service and open without a token.
//! Each service says itself what its readiness rests on.

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long a readiness check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether a readiness check (a query, a ping) succeeds within [`CHECK_TIMEOUT`].
pub async fn answers<T, E>(check: impl Future<Output = Result<T, E>>) -> bool {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .is_ok_and(|r| r.is_ok())
}

/// `/healthz`, documented; a service adds its own `/readyz` after it.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new().routes(routes!(healthz))
}

/// The body of `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(inline)]
    status: HealthOk,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthOk {
    Ok,
}

/// Liveness, for orchestrators.
#[utoipa::path(
    get,
    path = "/healthz",
    responses((status = 200, description = "The process serves HTTP", body = Health)),
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: HealthOk::Ok,
    })
}

// The `status` of a `/readyz` body (no doc comment: it would describe the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    NotReady,
}

impl ReadyStatus {
    /// The status of a service that is `ready` or not, with the HTTP status `/readyz` answers.
    pub fn of(ready: bool) -> (StatusCode, ReadyStatus) {
        if ready {
            (StatusCode::OK, ReadyStatus::Ready)
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, ReadyStatus::NotReady)
        }
    }
}

// Whether PostgreSQL answered the readiness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostgresCheck {
    Ok,
    Unreachable,
}

impl PostgresCheck {
    pub fn of(answered: bool) -> PostgresCheck {
        if answered {
            PostgresCheck::Ok
        } else {
            PostgresCheck::Unreachable
        }
    }
}
