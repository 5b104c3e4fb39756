//! Every refusal as an RFC 9457 problem (`application/problem+json`) with a stable `code`.
//! Internal causes are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use stockflow_domain::DomainError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One broken field of a request, for `validation_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON of the expected shape: {0}")]
    MalformedBody(String),
    #[error("the request breaks {} rule(s)", .0.len())]
    Validation(Vec<FieldError>),
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the body is larger than the 64 KiB allowed")]
    PayloadTooLarge,
    #[error("no product {0}")]
    ProductNotFound(String),
    #[error("no order {0}")]
    OrderNotFound(String),
    #[error("no such resource")]
    RouteNotFound,
    #[error("method not allowed here")]
    MethodNotAllowed,
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("the aggregate is at version {current}, not the {expected} given in If-Match")]
    VersionMismatch { expected: i64, current: i64 },
    #[error("If-Match: * requires the aggregate to exist, and it does not")]
    NothingToMatch,
    #[error("this Idempotency-Key was used for another request")]
    IdempotencyKeyReused,
    #[error("the command kept conflicting with concurrent writers; retry it")]
    ConcurrencyConflict,
    #[error("the service cannot take commands right now")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedBody(_) | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ProductNotFound(_) | ApiError::OrderNotFound(_) | ApiError::RouteNotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::VersionMismatch { .. } | ApiError::NothingToMatch => {
                StatusCode::PRECONDITION_FAILED
            }
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ConcurrencyConflict => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Domain(e) => match e {
                DomainError::ProductNotFound { .. } | DomainError::OrderNotFound { .. } => {
                    StatusCode::NOT_FOUND
                }
                DomainError::ProductExists { .. }
                | DomainError::OrderExists { .. }
                | DomainError::AdjustmentBelowReserved { .. }
                | DomainError::AlreadyDiscontinued { .. }
                | DomainError::OrderNotCancellable { .. }
                | DomainError::OrderNotReady { .. }
                | DomainError::OrderCancelled { .. }
                | DomainError::OrderAlreadyShipped { .. } => StatusCode::CONFLICT,
                DomainError::UnknownProduct { .. }
                | DomainError::ProductDiscontinued { .. }
                | DomainError::CurrencyMismatch { .. }
                | DomainError::InsufficientStock { .. }
                | DomainError::StockOverflow { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::Validation(_) => "validation_failed",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::ProductNotFound(_) => "product_not_found",
            ApiError::OrderNotFound(_) => "order_not_found",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::VersionMismatch { .. } | ApiError::NothingToMatch => "version_mismatch",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::ConcurrencyConflict => "concurrency_conflict",
            ApiError::Unavailable(_) => "service_unavailable",
            ApiError::Domain(e) => e.code(),
        }
    }

    /// The problem document. Its members beyond RFC 9457's are the details a client needs
    /// to act on the refusal.
    pub fn to_problem(&self) -> Value {
        let status = self.status();
        let detail = match self {
            // The cause of an outage stays in the logs.
            ApiError::Unavailable(_) => {
                "the service cannot take commands right now; retry later".to_owned()
            }
            other => other.to_string(),
        };
        let mut problem = Map::new();
        problem.insert(
            "type".into(),
            json!(format!("urn:stockflow:problem:{}", self.code())),
        );
        problem.insert(
            "title".into(),
            json!(status.canonical_reason().unwrap_or("Error")),
        );
        problem.insert("status".into(), json!(status.as_u16()));
        problem.insert("detail".into(), json!(detail));
        problem.insert("code".into(), json!(self.code()));
        match self {
            ApiError::Validation(errors) => {
                problem.insert("errors".into(), json!(errors));
            }
            ApiError::VersionMismatch { expected, current } => {
                problem.insert("expected_version".into(), json!(expected));
                problem.insert("current_version".into(), json!(current));
            }
            ApiError::Domain(DomainError::InsufficientStock { lines }) => {
                problem.insert("lines".into(), json!(lines));
            }
            ApiError::Domain(
                DomainError::UnknownProduct { skus } | DomainError::ProductDiscontinued { skus },
            ) => {
                problem.insert("skus".into(), json!(skus));
            }
            ApiError::Domain(DomainError::CurrencyMismatch { currencies }) => {
                problem.insert("currencies".into(), json!(currencies));
            }
            _ => {}
        }
        Value::Object(problem)
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
        if let ApiError::Unavailable(cause) = &self {
            tracing::error!(%cause, "command refused: service unavailable");
        }
        let status = self.status();
        let mut response = problem_response(status, self.to_problem().to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
