//! The projector's HTTP surface: liveness and readiness, open; and the operators' API under
//! `/v1/admin/` (dead letters, projections, rebuilds), behind the `admin` scope. Handlers
//! translate; the rules live in `crate::dead_letters`, `crate::control`, `crate::repair` and
//! `crate::rebuild`.

mod body;
mod dead_letters;
mod error;
mod health;
mod openapi;
mod params;
mod projection_views;
mod projections;
mod rebuilds;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;

use crate::control::Control;
use crate::health::Health;
use error::ApiError;

/// Largest request body accepted (413 above it): the bodies hold a reason, or a position
/// and a reason.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct HttpState {
    pub pool: PgPool,
    pub health: Arc<Health>,
    pub control: Control,
}

/// Every route of the projector; each area brings its operations to the OpenAPI document,
/// which is served beside them.
pub fn router(state: HttpState) -> Router {
    let areas = OpenApiRouter::with_openapi(openapi::base())
        .merge(dead_letters::router())
        .merge(projections::router())
        .merge(rebuilds::router());
    stockflow_edge::openapi::routes(areas, health::router(), openapi::document)
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
