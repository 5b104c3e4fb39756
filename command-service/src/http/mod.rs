//! The command API (docs/api.md). Handlers translate: body and headers to a domain command, the
//! writer's reply to a response. They hold no business rule.

mod admin;
mod audit;
pub mod error;
pub mod extract;
mod health;
pub(crate) mod orders;
pub(crate) mod products;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use stockflow_domain::Command;
use utoipa_axum::router::OpenApiRouter;

use crate::relay::RelayStatus;
use crate::replay::Replays;
use crate::replies::Reply;
use crate::writer::{Idempotency, WriterHandle};
use error::ApiError;
use extract::CommandRequest;

/// Largest request body accepted (413 above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub writer: WriterHandle,
    pub pool: PgPool,
    pub relay: Arc<RelayStatus>,
    pub replays: Arc<Replays>,
}

impl AppState {
    /// Runs the command a request carries and turns the writer's reply into the response.
    async fn execute<T>(
        &self,
        command: Command,
        request: CommandRequest<T>,
    ) -> Result<Response, ApiError> {
        let CommandRequest {
            headers,
            method,
            uri,
            raw,
            ..
        } = request;
        let idempotency = headers.idempotency_key.map(|key| Idempotency {
            request_hash: request_hash(&method, &uri, headers.if_match_raw.as_deref(), &raw),
            key,
        });
        let reply = self
            .writer
            .submit(command, headers.if_match, idempotency, headers.metadata)
            .await?;
        Ok(reply.into_response())
    }
}

/// What identifies "the same request" for an Idempotency-Key: method, path, precondition
/// and the exact body.
fn request_hash(method: &Method, uri: &Uri, if_match: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [
        method.as_str().as_bytes(),
        uri.path().as_bytes(),
        if_match.unwrap_or("").as_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    hash.finalize().to_vec()
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = if status.is_success() {
            "application/json"
        } else {
            error::PROBLEM_CONTENT_TYPE
        };
        let mut response = (status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if self.replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

/// Every route of the service; each area brings its operations to the OpenAPI document,
/// which is served beside them.
pub fn router(state: AppState) -> Router {
    let areas = OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(products::router())
        .merge(orders::router())
        .merge(admin::router())
        .merge(audit::router());
    stockflow_edge::openapi::routes(areas, health::router(), crate::openapi::document)
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
