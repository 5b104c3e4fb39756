//! The projector's own HTTP surface: liveness and readiness.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;

use crate::health::Health;

#[derive(Clone)]
pub struct HttpState {
    pub pool: PgPool,
    pub health: Arc<Health>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"code": "not_found"}))) })
        .with_state(state)
}

/// Ready when PostgreSQL answers, the broker is connected and the projection advances.
async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    let postgres = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&state.pool),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let health = state.health.snapshot();
    let ready = postgres && health.broker_connected && health.stopped.is_none();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "postgres": if postgres { "ok" } else { "unreachable" },
            "projector": health,
        },
    });
    (status, Json(body))
}
