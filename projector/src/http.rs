//! The projector's own HTTP surface: liveness and readiness.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;
use stockflow_edge::health::{PostgresCheck, ReadyStatus, answers, healthz};

use crate::health::Health;

#[derive(Clone)]
pub struct HttpState {
    pub pool: PgPool,
    pub health: Arc<Health>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"code": "not_found"}))) })
        .with_state(state)
}

/// Ready when PostgreSQL answers, the broker is connected and the projection advances.
async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    let postgres = answers(sqlx::query("SELECT 1").execute(&state.pool)).await;
    let health = state.health.snapshot();
    let ready = postgres && health.broker_connected && health.stopped.is_none();
    let (status, body_status) = ReadyStatus::of(ready);
    let body = json!({
        "status": body_status,
        "checks": {
            "postgres": PostgresCheck::of(postgres),
            "projector": health,
        },
    });
    (status, Json(body))
}
