//! `GET /api/overview`: the sampler's latest figures and series.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::headers::require_console_header;
use super::signed_in;
use crate::overview::Overview;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/overview", get(overview))
}

async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Overview>, ApiError> {
    signed_in(&state, &headers)?;
    require_console_header(&headers)?;
    Ok(Json(state.board.overview()))
}
