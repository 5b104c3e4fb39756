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

#[utoipa::path(
    get,
    path = "/v1/projections",
    tag = "projections",
    operation_id = "projections",
    summary = "How far the read models are behind the event store",
    responses(
        (status = 200, description = "The projections", body = crate::openapi::Projections),
    ),
    security(("bearer" = ["queries:read"]))
)]
async fn show(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Projections>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    Ok(Json(app.read.projections().await?))
}
