//! The console's HTTP surface: the page and its assets, health, the session, the overview,
//! and the API forwarded to the services. Handlers translate; sessions, the services' URLs
//! and the overview's figures live outside this module.

mod assets;
mod error;
mod headers;
mod health;
mod overview;
mod proxy;
mod session;

use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::middleware;

use crate::sessions::{Session, session_id};
use crate::state::AppState;
use error::ApiError;

/// Every route of the console, each answer with the security headers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(assets::router())
        .merge(health::router())
        .merge(session::router())
        .merge(overview::router())
        .merge(proxy::router())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(middleware::from_fn(headers::secure))
}

/// The live session of the request's cookie.
fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Session, ApiError> {
    session_id(headers)
        .and_then(|id| state.sessions.find(id, Instant::now()))
        .ok_or(ApiError::NotSignedIn)
}

/// A request's body, read whole up to `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    // Past the limit, or a body the client stopped sending: either way nobody gets more.
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::BodyTooLarge(limit))
}
