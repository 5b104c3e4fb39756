//! JSON bodies in, and a validator that reports every broken field of a body at once.

use std::fmt;
use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::{ApiError, FieldError};

/// A JSON object body; anything else is `malformed_body` (or 415 when not declared JSON).
/// An empty body reads as `{}`, so its missing fields are reported one by one.
pub struct JsonBody<T>(pub T);

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
        let declared_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        let raw = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::MalformedBody(rejection.body_text())
            }
        })?;
        if raw.is_empty() {
            return serde_json::from_slice(b"{}")
                .map(JsonBody)
                .map_err(|e| ApiError::MalformedBody(e.to_string()));
        }
        if !declared_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        // Serde would also read a struct from an array of its fields; a command is an object.
        if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::MalformedBody(
                "the body must be a JSON object".into(),
            ));
        }
        serde_json::from_slice(&raw)
            .map(JsonBody)
            .map_err(|e| ApiError::MalformedBody(e.to_string()))
    }
}

/// A nested struct that must be written as a JSON object: serde alone would also read it
/// from an array of its fields.
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

/// Collects field errors while a body is turned into a command.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// A required field, checked by `parse`.
    pub fn field<In, Out>(
        &mut self,
        name: &str,
        value: Option<In>,
        parse: impl FnOnce(In) -> Result<Out, String>,
    ) -> Option<Out> {
        match value {
            None => {
                self.error(name, "is required");
                None
            }
            Some(value) => self.check(name, parse(value)),
        }
    }

    pub fn check<Out>(&mut self, name: &str, result: Result<Out, String>) -> Option<Out> {
        result.map_err(|message| self.error(name, message)).ok()
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: name.to_owned(),
            message: message.into(),
        });
    }

    /// The command when every field held, else every broken field.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        if !self.errors.is_empty() {
            return Err(ApiError::Validation(self.errors));
        }
        build().ok_or_else(|| ApiError::Validation(Vec::new()))
    }
}
