//! Every refusal of the command API as an RFC 9457 problem with a stable `code`: the HTTP
//! layer's own (bad bodies, unknown routes) and the writer's [`Refusal`]s. Internal causes are
//! logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::replies::{FieldError, Problem, Refusal};

pub use stockflow_edge::PROBLEM_CONTENT_TYPE;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON of the expected shape: {0}")]
    MalformedBody(String),
    /// A query parameter that is malformed, out of range, repeated or unknown.
    #[error("{parameter} {message}")]
    InvalidParameter { parameter: String, message: String },
    #[error("the request breaks {} rule(s)", .0.len())]
    Validation(Vec<FieldError>),
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the body is larger than the 64 KiB allowed")]
    PayloadTooLarge,
    /// A path sku that cannot name a product.
    #[error("no product {0}")]
    ProductNotFound(String),
    /// A path order id that is not a UUID.
    #[error("no order {0}")]
    OrderNotFound(String),
    /// A replay's target queue that the broker does not have.
    #[error("the broker has no queue `{0}`")]
    QueueNotFound(String),
    /// A path replay id that names no replay.
    #[error("no replay {0}")]
    ReplayNotFound(String),
    #[error("{0} replays are running already; wait for one to end")]
    ReplayLimit(usize),
    /// A cancel of a replay that is no longer running.
    #[error("replay {0} has ended already ({1})")]
    ReplayEnded(uuid::Uuid, String),
    #[error("no such resource")]
    RouteNotFound,
    #[error("method not allowed here")]
    MethodNotAllowed,
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl ApiError {
    pub fn invalid(parameter: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::InvalidParameter {
            parameter: parameter.into(),
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedBody(_)
            | ApiError::InvalidParameter { .. }
            | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ProductNotFound(_)
            | ApiError::OrderNotFound(_)
            | ApiError::QueueNotFound(_)
            | ApiError::ReplayNotFound(_)
            | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::ReplayLimit(_) | ApiError::ReplayEnded(..) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Refused(refusal) => refusal.status(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::InvalidParameter { .. } => "invalid_parameter",
            ApiError::Validation(_) => "validation_failed",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::ProductNotFound(_) => "product_not_found",
            ApiError::OrderNotFound(_) => "order_not_found",
            ApiError::QueueNotFound(_) => "queue_not_found",
            ApiError::ReplayNotFound(_) => "replay_not_found",
            ApiError::ReplayLimit(_) => "replay_limit",
            ApiError::ReplayEnded(..) => "replay_ended",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Refused(refusal) => refusal.code(),
        }
    }

    fn problem(&self) -> Problem {
        match self {
            ApiError::Refused(refusal) => refusal.problem(),
            ApiError::Validation(errors) => {
                Problem::new(self.status(), self.code(), self.to_string())
                    .with_errors(errors.clone())
            }
            ApiError::InvalidParameter { parameter, .. } => {
                Problem::new(self.status(), self.code(), self.to_string())
                    .with_parameter(parameter.clone())
            }
            other => Problem::new(other.status(), other.code(), other.to_string()),
        }
    }
}

/// A rendered problem body with its status.
pub fn problem_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Refused(Refusal::Unavailable(cause)) = &self {
            tracing::error!(%cause, "command refused: service unavailable");
        }
        let status = self.status();
        let mut response = problem_response(status, self.problem().to_json());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
