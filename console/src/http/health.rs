//! Liveness and readiness. The console is ready as soon as it serves: it keeps nothing of its
//! own, and shows the services' readiness on the overview instead.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(stockflow_edge::health::healthz))
        .route("/readyz", get(readyz))
}

async fn readyz() -> Json<Value> {
    Json(json!({ "status": "ready" }))
}
