//! The query API (docs/api.md). Handlers translate: query parameters to a validated filter,
//! the read models' rows to the documented shapes. Every answer passes through the
//! consistency layer, which waits for `min_position` and stamps `X-Projection-Position`.

pub(crate) mod analytics;
mod consistency;
pub(crate) mod customers;
pub mod error;
pub(crate) mod events;
mod health;
pub(crate) mod movements;
pub(crate) mod orders;
pub mod params;
pub(crate) mod products;
pub(crate) mod projections;
pub(crate) mod replenishments;
pub(crate) mod stock;

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::middleware;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::cursor::{self, Listing};
use crate::feed::Feed;
use crate::positions::Positions;
use crate::read_models::{Page, ReadModels};
use error::ApiError;

pub use consistency::PROJECTION_POSITION_HEADER;

#[derive(Clone)]
pub struct AppState {
    pub read: ReadModels,
    pub positions: Positions,
    pub min_position_timeout: Duration,
    pub feed: Feed,
}

/// Every route of the service; each area brings its operations (and the schemas of their
/// bodies) to the OpenAPI document, which is served beside them.
pub fn router(state: AppState) -> Router {
    let areas = OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(products::router())
        .merge(movements::router())
        .merge(orders::router())
        .merge(customers::router())
        .merge(analytics::router())
        .merge(stock::router())
        .merge(replenishments::router())
        .merge(projections::router())
        .merge(events::router());
    stockflow_edge::openapi::routes(areas, health::router(), crate::openapi::document)
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            consistency::consistency,
        ))
        .with_state(state)
}

/// `routes!` brings along the schemas of an operation's bodies, not those its parameters
/// refer to; an area adds those with this.
trait ParameterSchemas {
    fn parameter_schema<T: ToSchema>(self) -> Self;
}

impl ParameterSchemas for OpenApiRouter<AppState> {
    fn parameter_schema<T: ToSchema>(mut self) -> Self {
        self.get_openapi_mut()
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .insert(T::name().into_owned(), T::schema());
        self
    }
}

/// The `next_cursor` of a page of a listing: the last item's key, or `None` on the last page.
fn next_cursor<T, K: Serialize>(
    page: &Page<T>,
    listing: Listing,
    key: impl Fn(&T) -> K,
) -> Option<String> {
    page.more
        .then(|| {
            page.items
                .last()
                .map(|last| cursor::encode(listing, &key(last)))
        })
        .flatten()
}

/// The id in a resource path; `None` when the segment is not even text (invalid
/// percent-encoding), which names no resource either.
fn path_id(path: Result<Path<String>, PathRejection>) -> Option<String> {
    path.ok().map(|Path(id)| id)
}
