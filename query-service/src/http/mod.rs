//! The query API of SPEC §6. Handlers translate: query parameters to a validated filter, the
//! read models' rows to the documented shapes. Every answer passes through the consistency
//! layer, which waits for `min_position` and stamps `X-Projection-Position`.

pub(crate) mod analytics;
mod consistency;
pub(crate) mod customers;
pub mod error;
mod health;
pub(crate) mod orders;
pub mod params;
pub(crate) mod products;
pub(crate) mod projections;
pub(crate) mod replenishments;

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::middleware;
use serde::Serialize;

use crate::cursor::{self, Listing};
use crate::positions::Positions;
use crate::read_models::{Page, ReadModels};
use error::ApiError;

pub use consistency::PROJECTION_POSITION_HEADER;

#[derive(Clone)]
pub struct AppState {
    pub read: ReadModels,
    pub positions: Positions,
    pub min_position_timeout: Duration,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(products::router())
        .merge(orders::router())
        .merge(customers::router())
        .merge(analytics::router())
        .merge(replenishments::router())
        .merge(projections::router())
        .merge(health::router())
        .merge(crate::openapi::router())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            consistency::consistency,
        ))
        .with_state(state)
}

/// A page of a listing as the API shows it.
#[derive(Debug, Serialize)]
pub struct ItemsPage<T> {
    pub items: Vec<T>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> ItemsPage<T> {
    fn new<K: Serialize>(page: Page<T>, listing: Listing, key: impl Fn(&T) -> K) -> ItemsPage<T> {
        let next_cursor = page
            .more
            .then(|| {
                page.items
                    .last()
                    .map(|last| cursor::encode(listing, &key(last)))
            })
            .flatten();
        ItemsPage {
            items: page.items,
            next_cursor,
        }
    }
}

/// The id in a resource path; `None` when the segment is not even text (invalid
/// percent-encoding), which names no resource either.
fn path_id(path: Result<Path<String>, PathRejection>) -> Option<String> {
    path.ok().map(|Path(id)| id)
}
