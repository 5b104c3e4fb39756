//! Every refusal as an RFC 9457 problem (`application/problem+json`) with a stable `code`.
//! Internal causes are logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub use stockflow_edge::PROBLEM_CONTENT_TYPE;

/// An RFC 9457 problem. Members beyond `type, title, status, detail, code` appear with the
/// codes that carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:stockflow:problem:<code>`.
    #[schema(example = "urn:stockflow:problem:invalid_parameter")]
    pub r#type: String,
    /// The HTTP reason phrase of `status`.
    #[schema(example = "Bad Request")]
    pub title: String,
    #[schema(example = 400)]
    pub status: u16,
    /// For people; do not parse it.
    pub detail: String,
    /// The stable, machine-readable reason, e.g. `invalid_parameter`, `order_not_found`.
    #[schema(example = "invalid_parameter")]
    pub code: String,
    /// With `invalid_parameter`: the query parameter (or header) to fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub parameter: Option<String>,
    /// With `projection_lagging`: the position asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub min_position: Option<i64>,
    /// With `projection_lagging`: the position the read models had reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub position: Option<i64>,
}

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
    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let mut problem = Problem {
            r#type: format!("urn:stockflow:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().to_owned(),
            parameter: None,
            min_position: None,
            position: None,
        };
        match self {
            ApiError::InvalidParameter { parameter, .. } => {
                problem.parameter = Some(parameter.clone());
            }
            ApiError::ProjectionLagging {
                min_position,
                position,
            } => {
                problem.min_position = Some(*min_position);
                problem.position = Some(*position);
            }
            _ => {}
        }
        problem
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Database(cause) = &self {
            tracing::error!(%cause, "query failed");
        }
        let status = self.status();
        let mut response = (status, Json(self.to_problem())).into_response();
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
