//! The console's refusals, each a problem+json body with its own `code`. Causes that are the
//! console's or an upstream's business are logged, not sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use stockflow_edge::problem;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not signed in, or the session has ended: sign in again")]
    NotSignedIn,
    #[error("the header `X-Console: 1` is required")]
    MissingConsoleHeader,
    #[error("a request from another site is refused")]
    CrossSite,
    #[error("{0}")]
    TokenRejected(&'static str),
    /// The body is not JSON at all.
    #[error("{0}")]
    MalformedBody(String),
    /// JSON of the wrong shape or with a value out of bounds.
    #[error("{0}")]
    InvalidBody(String),
    #[error("the body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("no service is called `{0}`: use commands, queries or projector")]
    UnknownService(String),
    #[error("no such route")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    UpstreamUnavailable(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotSignedIn => (StatusCode::UNAUTHORIZED, "not_signed_in"),
            ApiError::MissingConsoleHeader => (StatusCode::FORBIDDEN, "missing_console_header"),
            ApiError::CrossSite => (StatusCode::FORBIDDEN, "cross_site_request"),
            ApiError::TokenRejected(_) => (StatusCode::UNAUTHORIZED, "token_rejected"),
            ApiError::MalformedBody(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            ApiError::InvalidBody(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            ApiError::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::UnknownService(_) => (StatusCode::NOT_FOUND, "unknown_service"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::UpstreamUnavailable(_) => (StatusCode::BAD_GATEWAY, "upstream_unavailable"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        problem(status, code, &self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_status_and_code() {
        let response = ApiError::NotSignedIn.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            ApiError::UnknownService("x".into()).status_and_code(),
            (StatusCode::NOT_FOUND, "unknown_service")
        );
        assert_eq!(
            ApiError::UpstreamUnavailable("down".into()).status_and_code(),
            (StatusCode::BAD_GATEWAY, "upstream_unavailable")
        );
    }
}
