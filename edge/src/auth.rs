//! Bearer tokens: HS256 JWTs signed with `AUTH_JWT_SECRET`, carrying `sub`, `exp` and a
//! space-separated `scope` claim that grants `commands:write`, `queries:read`, `events:read`
//! and/or `admin` (which grants all). The guard hands the verified subject to the handlers as
//! a [`Caller`].

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::problem::problem;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scope {
    #[value(name = "commands:write")]
    CommandsWrite,
    #[value(name = "queries:read")]
    QueriesRead,
    /// The event feed of the query service (`/v1/events`), which `queries:read` does not open:
    /// it shows every event with its metadata, not only the read models.
    #[value(name = "events:read")]
    EventsRead,
    #[value(name = "admin")]
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CommandsWrite => "commands:write",
            Scope::QueriesRead => "queries:read",
            Scope::EventsRead => "events:read",
            Scope::Admin => "admin",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub scope: String,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
}

/// Who sent a request: the `sub` of its verified token (`anonymous` in development mode, where
/// no token is checked). The guard puts it in the extensions of every `/v1/…` request it lets
/// through; a handler takes it as an argument, to record who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            // Only a route outside the guard (not under /v1/) can get here: a wiring bug.
            tracing::error!(path = %parts.uri.path(), "a handler asked who called a route the guard does not cover");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the service cannot tell who sent this request",
            )
        })
    }
}

/// Signs a token for `subject` with these scopes, valid for `ttl`.
pub fn mint_token(secret: &str, subject: &str, scopes: &[Scope], ttl: Duration) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub: subject.to_owned(),
        scope: scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        exp: now + ttl.as_secs(),
        iat: now,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing of plain claims cannot fail")
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    #[test]
    fn a_minted_token_carries_its_scopes_and_verifies() {
        let secret = "0123456789abcdef0123456789abcdef";
        let token = mint_token(
            secret,
            "shop-1",
            &[Scope::CommandsWrite, Scope::QueriesRead],
            Duration::from_secs(60),
        );
        let data = jsonwebtoken::decode::<Claims>(
            &token,
            &DecodingKey::from_secret(secret.as_bytes()),
            &Validation::new(Algorithm::HS256),
        )
        .expect("verifies");
        assert_eq!(data.claims.sub, "shop-1");
        assert_eq!(data.claims.scope, "commands:write queries:read");
    }
}
