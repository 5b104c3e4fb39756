//! `/api/{commands|queries|projector}/{*path}`: a request of the page, forwarded to that
//! service's `v1/` with the session's token added, and its answer passed back as it came.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::error::ApiError;
use super::headers::require_console_header;
use super::session::bearer;
use super::{read_body, signed_in};
use crate::state::AppState;
use crate::upstream::{ReadError, Upstream, read_limited};

/// Largest body forwarded to a service: the admin API's bodies are a reason and a position.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest answer passed back: a page of events or a dead letter's whole body.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// Longest service name echoed back in a refusal.
const MAX_NAME_SHOWN: usize = 40;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/{service}/{*path}", any(forward))
}

async fn forward(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let session = signed_in(&state, request.headers())?;
    require_console_header(request.headers())?;
    if request.method() != Method::GET && request.method() != Method::POST {
        return Err(ApiError::MethodNotAllowed);
    }
    // The path as sent (still percent-encoded), so that what reaches the service is what
    // the page asked for.
    let (service, path) = request
        .uri()
        .path()
        .strip_prefix("/api/")
        .and_then(|rest| rest.split_once('/'))
        .ok_or(ApiError::NotFound)?;
    let upstream = Upstream::from_segment(service)
        .ok_or_else(|| ApiError::UnknownService(service.chars().take(MAX_NAME_SHOWN).collect()))?;
    let url = state
        .upstreams
        .forward_url(upstream, path, request.uri().query())
        .ok_or(ApiError::NotFound)?;
    let method = request.method().clone();
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    let authorization = bearer(&session.token).ok_or(ApiError::NotSignedIn)?;
    let body = if method == Method::POST {
        read_body(request.into_body(), MAX_REQUEST_BYTES).await?
    } else {
        Bytes::new()
    };

    let mut outgoing = state
        .upstreams
        .client()
        .request(method, url)
        .header(header::AUTHORIZATION, authorization);
    if let Some(content_type) = content_type {
        outgoing = outgoing.header(header::CONTENT_TYPE, content_type);
    }
    if !body.is_empty() {
        outgoing = outgoing.body(body);
    }
    let unavailable = |error: &dyn std::fmt::Display| {
        tracing::warn!(service = upstream.service_name(), %error, "a forwarded request failed");
        ApiError::UpstreamUnavailable(format!(
            "{} did not answer; try again shortly",
            upstream.service_name()
        ))
    };
    let answer = outgoing.send().await.map_err(|e| unavailable(&e))?;
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let body = read_limited(answer, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge(_) => unavailable(&e),
            ReadError::Http(ref inner) => unavailable(inner),
        })?;
    let mut response = (status, Body::from(body)).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    Ok(response)
}
