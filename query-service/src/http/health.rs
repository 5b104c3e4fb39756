//! Liveness and readiness for orchestrators.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
}

/// Ready when PostgreSQL answers and no projection has stopped: answers from a stopped
/// projection would go stale without end, so say why instead of serving them as fresh.
async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    let stopped =
        tokio::time::timeout(Duration::from_secs(2), app.read.stopped_projections()).await;
    let (postgres, projections, ready) = match stopped {
        Ok(Ok(stopped)) if stopped.is_empty() => ("ok", json!({"state": "running"}), true),
        Ok(Ok(stopped)) => ("ok", json!({"state": "stopped", "stopped": stopped}), false),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: cannot query PostgreSQL");
            ("unreachable", json!({"state": "unknown"}), false)
        }
        Err(_) => ("unreachable", json!({"state": "unknown"}), false),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let reason = (!ready).then(|| {
        if postgres != "ok" {
            "PostgreSQL is unreachable".to_owned()
        } else {
            "a projection has stopped; see checks.projections.stopped".to_owned()
        }
    });
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "reason": reason,
        "checks": {
            "postgres": postgres,
            "projections": projections,
            // Informational: while it reconnects, positions still advance on a timer.
            "notifications": if app.positions.is_listening() { "listening" } else { "reconnecting" },
        },
    });
    (status, Json(body))
}
