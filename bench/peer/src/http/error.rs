//! Refusals as RFC 9457 problems (`application/problem+json`) with stockflow's codes, so a
//! load generator reads both services' answers the same way. Internal causes stay in the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::service::ServiceError;

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
    #[error("no such resource")]
    RouteNotFound,
    #[error("method not allowed here")]
    MethodNotAllowed,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedBody(_) | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Service(e) => match e {
                ServiceError::ProductExists(_)
                | ServiceError::OrderExists(_)
                | ServiceError::ConcurrencyConflict => StatusCode::CONFLICT,
                ServiceError::UnknownProduct(_)
                | ServiceError::ProductDiscontinued(_)
                | ServiceError::CurrencyMismatch(_)
                | ServiceError::InsufficientStock(_) => StatusCode::UNPROCESSABLE_ENTITY,
                ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::Validation(_) => "validation_failed",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Service(e) => match e {
                ServiceError::ProductExists(_) => "product_exists",
                ServiceError::UnknownProduct(_) => "unknown_product",
                ServiceError::ProductDiscontinued(_) => "product_discontinued",
                ServiceError::CurrencyMismatch(_) => "currency_mismatch",
                ServiceError::InsufficientStock(_) => "insufficient_stock",
                ServiceError::OrderExists(_) => "order_exists",
                ServiceError::ConcurrencyConflict => "concurrency_conflict",
                ServiceError::Unavailable(_) => "service_unavailable",
            },
        }
    }

    pub fn to_problem(&self) -> Value {
        let status = self.status();
        let detail = match self {
            ApiError::Service(ServiceError::Unavailable(_)) => {
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
            ApiError::Service(ServiceError::InsufficientStock(lines)) => {
                problem.insert("lines".into(), json!(lines));
            }
            ApiError::Service(
                ServiceError::UnknownProduct(skus) | ServiceError::ProductDiscontinued(skus),
            ) => {
                problem.insert("skus".into(), json!(skus));
            }
            ApiError::Service(ServiceError::CurrencyMismatch(currencies)) => {
                problem.insert("currencies".into(), json!(currencies));
            }
            _ => {}
        }
        Value::Object(problem)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Service(ServiceError::Unavailable(cause)) = &self {
            tracing::error!(%cause, "command refused: service unavailable");
        }
        let status = self.status();
        let mut response = (status, self.to_problem().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
