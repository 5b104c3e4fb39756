//! How far the read models are behind the event store.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::error::ApiError;
use super::params::Params;
use crate::read_models::Projections;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/projections", get(show))
}

async fn show(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Projections>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    Ok(Json(app.read.projections().await?))
}
