//! Request bodies: JSON of one shape, or nothing where a body is optional; each refusal the
//! same problem whatever the route.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use stockflow_audit::Reason;

use super::error::{ApiError, FieldError};

/// The body as `T`; `None` when it is empty. A non-empty body must say it is JSON.
pub(super) fn optional_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Option<T>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::MalformedBody(rejection.body_text())
        }
    })?;
    if body.is_empty() {
        return Ok(None);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    // `null` is no body too: the documents describe an optional body as nullable. Anything
    // else must be an object: serde would take a struct from an array of its fields.
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(_) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| ApiError::MalformedBody(e.to_string())),
        _ => Err(ApiError::MalformedBody(
            "the body must be a JSON object".into(),
        )),
    }
}

/// A `reason` field, checked as the audit log keeps it (1 to 500 characters, one line).
pub(super) fn reason(reason: Option<String>) -> Result<Option<Reason>, ApiError> {
    if reason.as_deref() == Some("") {
        return Err(invalid_field(
            "reason",
            "must not be empty: leave it out, or say why",
        ));
    }
    Reason::parse(reason).map_err(|message| {
        ApiError::Validation(vec![FieldError {
            field: "reason".into(),
            message,
        }])
    })
}

/// The field error of a required field that is missing.
pub(super) fn required(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        message: format!("is required: {message}"),
    }])
}

/// The field error of a field that is there but wrong.
pub(super) fn invalid_field(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}
