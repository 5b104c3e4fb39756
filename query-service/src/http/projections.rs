//! How far the read models are behind the event store.

use axum::Json;
use axum::extract::{RawQuery, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::params::Params;
use crate::read_models::Projections;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(projections))
}

#[utoipa::path(
    get,
    path = "/v1/projections",
    summary = "How far the read models are behind the event store",
    responses(
        (status = 200, description = "The projections", body = Projections),
    ),
)]
async fn projections(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Projections>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    Ok(Json(app.read.projections().await?))
}
