//! Every refusal of the projector's API as an RFC 9457 problem with a stable `code`. Internal
//! causes are logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use stockflow_edge::PROBLEM_CONTENT_TYPE;

/// An RFC 9457 problem. Members beyond `type, title, status, detail, code` appear with the
/// codes that carry them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Problem {
    /// `urn:stockflow:problem:<code>`.
    #[schema(example = "urn:stockflow:problem:dead_letter_not_found")]
    r#type: String,
    /// The HTTP reason phrase of `status`.
    #[schema(example = "Not Found")]
    title: String,
    #[schema(example = 404)]
    status: u16,
    /// For people; do not parse it.
    detail: String,
    /// The stable, machine-readable reason, e.g. `invalid_parameter`, `dead_letter_not_found`.
    #[schema(example = "dead_letter_not_found")]
    code: String,
    /// With `validation_failed`: one entry per broken field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    errors: Option<Vec<FieldError>>,
    /// With `invalid_parameter`: the query or path parameter to fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    parameter: Option<String>,
}

/// One broken field of a request body, for `validation_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct FieldError {
    #[schema(example = "reason")]
    pub field: String,
    #[schema(example = "is required: say why the dead letter is discarded")]
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// A query or path parameter that is malformed, out of range, repeated or unknown.
    #[error("{parameter} {message}")]
    InvalidParameter { parameter: String, message: String },
    #[error("the body is not valid JSON of the expected shape: {0}")]
    MalformedBody(String),
    #[error("the request breaks {} rule(s)", .0.len())]
    Validation(Vec<FieldError>),
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the body is larger than the {} KiB allowed", super::MAX_BODY_BYTES / 1024)]
    PayloadTooLarge,
    #[error("no dead letter {0}")]
    DeadLetterNotFound(String),
    /// A pause or resume of a projection that an event stopped.
    #[error("{0}")]
    ProjectionStopped(String),
    /// A retry or skip of a projection that has not stopped.
    #[error("{0}")]
    ProjectionNotStopped(String),
    /// A skip of another event than the one the projection stopped at, or of one applied.
    #[error("{0}")]
    NotTheFailingEvent(String),
    #[error("the store has no event at position {0}")]
    EventNotFound(i64),
    #[error("{0}")]
    RebuildRunning(String),
    #[error("no rebuild {0}")]
    RebuildNotFound(String),
    #[error("no such resource")]
    RouteNotFound,
    #[error("method not allowed here")]
    MethodNotAllowed,
    /// PostgreSQL cannot be reached, or failed; the cause is logged.
    #[error("the projector's store cannot be reached right now; retry")]
    Unavailable(String),
}

impl ApiError {
    pub(crate) fn invalid(parameter: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::InvalidParameter {
            parameter: parameter.into(),
            message: message.into(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidParameter { .. }
            | ApiError::MalformedBody(_)
            | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::DeadLetterNotFound(_)
            | ApiError::EventNotFound(_)
            | ApiError::RebuildNotFound(_)
            | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::ProjectionStopped(_)
            | ApiError::ProjectionNotStopped(_)
            | ApiError::NotTheFailingEvent(_)
            | ApiError::RebuildRunning(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter { .. } => "invalid_parameter",
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::Validation(_) => "validation_failed",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::DeadLetterNotFound(_) => "dead_letter_not_found",
            ApiError::ProjectionStopped(_) => "projection_stopped",
            ApiError::ProjectionNotStopped(_) => "projection_not_stopped",
            ApiError::NotTheFailingEvent(_) => "not_the_failing_event",
            ApiError::EventNotFound(_) => "event_not_found",
            ApiError::RebuildRunning(_) => "rebuild_running",
            ApiError::RebuildNotFound(_) => "rebuild_not_found",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unavailable(_) => "service_unavailable",
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let mut problem = Problem {
            r#type: format!("urn:stockflow:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().to_owned(),
            errors: None,
            parameter: None,
        };
        match self {
            ApiError::Validation(errors) => problem.errors = Some(errors.clone()),
            ApiError::InvalidParameter { parameter, .. } => {
                problem.parameter = Some(parameter.clone());
            }
            _ => {}
        }
        problem
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::Unavailable(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Unavailable(cause) = &self {
            tracing::error!(%cause, "the projector's API cannot reach PostgreSQL");
        }
        let status = self.status();
        let mut response = (status, Json(self.problem())).into_response();
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

impl From<crate::control::ControlError> for ApiError {
    fn from(error: crate::control::ControlError) -> ApiError {
        use crate::control::ControlError;
        match error {
            ControlError::Stopped => ApiError::ProjectionStopped(error.to_string()),
            ControlError::NotStopped(_) => ApiError::ProjectionNotStopped(error.to_string()),
            ControlError::Database(e) => e.into(),
        }
    }
}

impl From<crate::repair::SkipError> for ApiError {
    fn from(error: crate::repair::SkipError) -> ApiError {
        use crate::repair::SkipError;
        match error {
            SkipError::Control(e) => e.into(),
            SkipError::NotTheFailingEvent { .. } | SkipError::AlreadyApplied { .. } => {
                ApiError::NotTheFailingEvent(error.to_string())
            }
            SkipError::NoSuchEvent(position) => ApiError::EventNotFound(position),
            SkipError::Database(e) => e.into(),
        }
    }
}

impl From<crate::rebuild::runs::StartError> for ApiError {
    fn from(error: crate::rebuild::runs::StartError) -> ApiError {
        use crate::rebuild::runs::StartError;
        match error {
            StartError::Running(_) => ApiError::RebuildRunning(error.to_string()),
            StartError::Database(e) => e.into(),
        }
    }
}
