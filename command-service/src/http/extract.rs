//! Turning requests into typed input: a command request (its headers, then its JSON body,
//! with what makes a retry "the same request"), and a validator that reports every broken
//! field at once.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri, header};
use serde::de::DeserializeOwned;
use stockflow_events::Metadata;
use uuid::Uuid;

use super::error::ApiError;
use crate::replies::FieldError;
use crate::writer::Precondition;

/// What every command handler takes: the command headers, then the body read as `T` (so a
/// bad header is refused before the body is read), and the method, path and exact bytes that,
/// with the precondition, identify "the same request" for an Idempotency-Key.
pub struct CommandRequest<T> {
    pub body: T,
    pub headers: CommandHeaders,
    pub method: Method,
    pub uri: Uri,
    pub raw: Bytes,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CommandRequest<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let headers = CommandHeaders::from_request_parts(&mut parts, state).await?;
        let (method, uri) = (parts.method.clone(), parts.uri.clone());
        let JsonBody { value, raw } =
            JsonBody::from_request(Request::from_parts(parts, body), state).await?;
        Ok(CommandRequest {
            body: value,
            headers,
            method,
            uri,
            raw,
        })
    }
}

/// A JSON request body. An empty body reads as `{}`, so commands without fields need none.
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let raw = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::MalformedBody(rejection.body_text())
            }
        })?;
        if raw.is_empty() {
            let value = serde_json::from_slice(b"{}")
                .map_err(|e| ApiError::MalformedBody(e.to_string()))?;
            return Ok(JsonBody { value, raw });
        }
        match content_type {
            Some(ct) if is_json(&ct) => {}
            _ => return Err(ApiError::UnsupportedMediaType),
        }
        // Serde would also read a struct from an array of its fields in declaration order; a
        // command is an object, and only an object.
        if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::MalformedBody(
                "the body must be a JSON object".into(),
            ));
        }
        let value = match serde_json::from_slice(&raw) {
            Ok(value) => value,
            // JSON has one kind of number, and to JSON Schema (which the OpenAPI document
            // speaks) `5.0` is the integer 5: a whole number written with a fraction or an
            // exponent is read as that integer. Bodies that need no such reading never pay
            // for it.
            Err(e) => integers_unwritten(&raw)
                .and_then(|rewritten| serde_json::from_slice(&rewritten).ok())
                .ok_or_else(|| ApiError::MalformedBody(e.to_string()))?,
        };
        Ok(JsonBody { value, raw })
    }
}

/// The body with every whole number written with a fraction or an exponent (`5.0`, `1e3`)
/// rewritten as a plain integer (`5`, `1000`); `None` if it has none. Strings are left as
/// they are, and so is everything else, repeated members included, for the parse that
/// follows to judge.
fn integers_unwritten(raw: &[u8]) -> Option<Vec<u8>> {
    // Beyond 2^53 a float no longer holds every integer exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let mut out = Vec::with_capacity(raw.len());
    let mut changed = false;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < raw.len() && raw[i] != b'"' {
                    i += if raw[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(raw.len());
                out.extend_from_slice(&raw[start..i]);
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < raw.len()
                    && matches!(raw[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let token = &raw[start..i];
                let whole = token
                    .iter()
                    .any(|b| matches!(b, b'.' | b'e' | b'E'))
                    .then(|| std::str::from_utf8(token).ok()?.parse::<f64>().ok())
                    .flatten()
                    .filter(|n| n.fract() == 0.0 && n.abs() <= EXACT);
                match whole {
                    Some(n) => {
                        out.extend_from_slice((n as i64).to_string().as_bytes());
                        changed = true;
                    }
                    None => out.extend_from_slice(token),
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// What the headers of a command say: retry identity, precondition and tracing context.
#[derive(Debug, Clone)]
pub struct CommandHeaders {
    pub idempotency_key: Option<String>,
    pub if_match: Option<Precondition>,
    pub metadata: Metadata,
    /// The raw If-Match, part of what makes a retry "the same request".
    pub if_match_raw: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for CommandHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        command_headers(&parts.headers)
    }
}

fn command_headers(headers: &HeaderMap) -> Result<CommandHeaders, ApiError> {
    let mut errors = Vec::new();
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.as_bytes();
            if key.is_empty() || key.len() > 128 || !key.iter().all(|b| (0x21..=0x7e).contains(b)) {
                errors.push(FieldError {
                    field: "Idempotency-Key".into(),
                    message: "must be 1 to 128 visible ASCII characters".into(),
                });
                None
            } else {
                Some(String::from_utf8_lossy(key).into_owned())
            }
        }
    };
    let if_match_raw = headers
        .get(header::IF_MATCH)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let if_match = match if_match_raw.as_deref().map(str::trim) {
        None => None,
        Some("*") => Some(Precondition::Exists),
        Some(raw) => {
            let version = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| *n >= 0);
            if version.is_none() {
                errors.push(FieldError {
                    field: "If-Match".into(),
                    message: "must be a quoted version, like \"3\", or *".into(),
                });
            }
            version.map(Precondition::Version)
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let uuid_header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
    };
    let causation_id = uuid_header("x-request-id").unwrap_or_else(Uuid::now_v7);
    let correlation_id = uuid_header("x-correlation-id").unwrap_or(causation_id);
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_traceparent(v))
        .map(str::to_owned);
    Ok(CommandHeaders {
        idempotency_key,
        if_match,
        if_match_raw,
        metadata: Metadata {
            correlation_id: Some(correlation_id),
            causation_id: Some(causation_id),
            traceparent,
        },
    })
}

/// A W3C `traceparent`: `version-traceid-parentid-flags` in lower-case hex.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
}

/// Collects field errors while reading a body's fields into domain values.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// A field that must be present.
    pub fn required<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.error(field, "is required");
        }
        value
    }

    /// The result of a domain check on a field.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.error(field, message);
                None
            }
        }
    }

    /// A required field run through a check.
    pub fn field<R, T>(
        &mut self,
        field: &str,
        value: Option<R>,
        check: impl FnOnce(R) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.required(field, value)?;
        self.check(field, check(value))
    }

    /// `Ok` with the value when no field was broken; every error otherwise.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        match (self.errors.is_empty(), build()) {
            (true, Some(value)) => Ok(value),
            (_, _) if !self.errors.is_empty() => Err(ApiError::Validation(self.errors)),
            // Every missing value records an error, so this cannot happen; say so if it does.
            _ => Err(ApiError::Validation(vec![FieldError {
                field: "".into(),
                message: "is invalid".into(),
            }])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_written_with_a_fraction_or_exponent_become_integers() {
        let rewritten = |body: &str| {
            integers_unwritten(body.as_bytes()).map(|b| String::from_utf8(b).expect("text"))
        };
        assert_eq!(
            rewritten(r#"{"quantity": 5.0, "delta": -2.00, "cents": 1e3, "x": 1.5E1}"#).as_deref(),
            Some(r#"{"quantity": 5, "delta": -2, "cents": 1000, "x": 15}"#)
        );
        // Fractions stay fractions (and so stay a wrong type); strings are not numbers.
        assert_eq!(rewritten(r#"{"quantity": 5.5}"#), None);
        assert_eq!(rewritten(r#"{"reason": "v5.0 \" 7.0", "n": 3}"#), None);
        assert_eq!(
            rewritten(r#"{"reason": "5.0", "n": 3.0}"#).as_deref(),
            Some(r#"{"reason": "5.0", "n": 3}"#)
        );
        // Too big for a float to hold every integer exactly: left as written.
        assert_eq!(rewritten(r#"{"n": 1e300}"#), None);
        assert_eq!(rewritten(r#"{"n": 5}"#), None);
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("Application/JSON"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn traceparent_must_have_the_w3c_shape() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent("00-xyz-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("garbage"));
    }

    #[test]
    fn bad_command_headers_are_validation_errors() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "idempotency-key",
            "has space".parse().expect("valid header value"),
        );
        headers.insert(header::IF_MATCH, "3".parse().expect("valid header value"));
        match command_headers(&headers) {
            Err(ApiError::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["Idempotency-Key", "If-Match"]);
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_MATCH,
            "\"7\"".parse().expect("valid header value"),
        );
        let parsed = command_headers(&headers).expect("valid headers");
        assert_eq!(parsed.if_match, Some(Precondition::Version(7)));
    }
}

/// A nested value that must be a JSON object. Serde's derived structs also accept an array of
/// their fields in order; this refuses it.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: serde::de::DeserializeOwned> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        T::deserialize(serde_json::Value::Object(fields))
            .map(Object)
            .map_err(serde::de::Error::custom)
    }
}
