//! Every refusal as an RFC 9457 problem (`application/problem+json`) with a stable `code`.
//! Internal causes are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or header the client sent is malformed, out of range or unknown.
    #[error("{parameter} {message}")]
    InvalidParameter { parameter: String, message: String },
    #[error("no product {0}")]
    ProductNotFound(String),
    #[error("no order {0}")]
    OrderNotFound(String),
    #[error("no customer {0}")]
    CustomerNotFound(String),
    #[error("no such resource")]
    RouteNotFound,
    #[error("method not allowed here")]
    MethodNotAllowed,
    #[error(
        "the read models are at position {position}, not yet at the {min_position} asked for; \
         retry later"
    )]
    ProjectionLagging { min_position: i64, position: i64 },
    #[error("the read models cannot be queried right now")]
    Database(#[from] sqlx::Error),
}

impl ApiError {
    pub fn invalid(parameter: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::InvalidParameter {
            parameter: parameter.into(),
            message: message.into(),
        }
    }

    /// Losing PostgreSQL is an outage worth retrying; any other database error is our bug.
    fn database_unavailable(error: &sqlx::Error) -> bool {
        matches!(
            error,
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_)
        )
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::ProductNotFound(_)
            | ApiError::OrderNotFound(_)
            | ApiError::CustomerNotFound(_)
            | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::ProjectionLagging { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Database(e) if Self::database_unavailable(e) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter { .. } => "invalid_parameter",
            ApiError::ProductNotFound(_) => "product_not_found",
            ApiError::OrderNotFound(_) => "order_not_found",
            ApiError::CustomerNotFound(_) => "customer_not_found",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::ProjectionLagging { .. } => "projection_lagging",
            ApiError::Database(e) if Self::database_unavailable(e) => "service_unavailable",
            ApiError::Database(_) => "internal_error",
        }
    }

    /// The problem document. Its members beyond RFC 9457's are what a client needs to act on
    /// the refusal: which parameter to fix, how far the read models have come.
    pub fn to_problem(&self) -> Value {
        let status = self.status();
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
        problem.insert("detail".into(), json!(self.to_string()));
        problem.insert("code".into(), json!(self.code()));
        match self {
            ApiError::InvalidParameter { parameter, .. } => {
                problem.insert("parameter".into(), json!(parameter));
            }
            ApiError::ProjectionLagging {
                min_position,
                position,
            } => {
                problem.insert("min_position".into(), json!(min_position));
                problem.insert("position".into(), json!(position));
            }
            _ => {}
        }
        Value::Object(problem)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Database(cause) = &self {
            tracing::error!(%cause, "query failed");
        }
        let status = self.status();
        let mut response = (status, self.to_problem().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
