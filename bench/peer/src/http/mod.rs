//! The HTTP edge: each area its own router, merged here; handlers translate, the service
//! decides. No authentication (stockflow verifies an HS256 JWT on every command).

mod error;
mod extract;
mod orders;
mod products;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use error::ApiError;

use crate::service::Peer;

/// Largest request body, as in stockflow.
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub peer: Arc<Peer>,
}

pub fn router(peer: Arc<Peer>) -> Router {
    Router::new()
        .merge(products::router())
        .merge(orders::router())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(AppState { peer })
}
