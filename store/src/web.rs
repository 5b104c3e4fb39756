//! What every service's HTTP surface shares (SPEC §7): bearer-JWT authentication with scopes,
//! a rate limit per token, a request timeout, security headers, and `/metrics`.
//!
//! Tokens are HS256 JWTs signed with `AUTH_JWT_SECRET`, with `sub`, `exp` and a space-separated
//! `scope` claim granting `commands:write`, `queries:read` and/or `admin` (which grants all).
//! `/v1/…` needs a token; health, readiness, metrics and docs do not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const REQUEST_ID: &str = "x-request-id";

/// Authentication and request limits, from the environment or flags.
#[derive(Debug, Clone, clap::Args)]
pub struct WebConfig {
    /// HMAC secret that signs the bearer tokens (HS256). Required unless AUTH_DEV_MODE.
    #[arg(long, env = "AUTH_JWT_SECRET", hide_env_values = true)]
    pub auth_jwt_secret: Option<String>,
    /// Development only: start without a secret, and then take requests without a token.
    #[arg(long, env = "AUTH_DEV_MODE", default_value_t = false, action = clap::ArgAction::Set)]
    pub auth_dev_mode: bool,
    /// Requests per second allowed to one token (bursts of twice that); 0 for no limit.
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value_t = 500)]
    pub rate_limit_per_second: u32,
    /// Longest time a request may take before it is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error(
        "AUTH_JWT_SECRET is not set: set it (at least 32 characters), or set AUTH_DEV_MODE=true to run without authentication in development"
    )]
    NoSecret,
    #[error("AUTH_JWT_SECRET is too short: use at least 32 characters")]
    WeakSecret,
}

impl WebConfig {
    /// Checks the configuration at startup: a service without a secret refuses to start
    /// unless told it runs in development.
    pub fn validate(&self) -> Result<(), WebConfigError> {
        match &self.auth_jwt_secret {
            Some(secret) if secret.len() < 32 => Err(WebConfigError::WeakSecret),
            Some(_) => Ok(()),
            None if self.auth_dev_mode => {
                tracing::warn!(
                    "AUTH_DEV_MODE: no AUTH_JWT_SECRET, requests are NOT authenticated; never run this in production"
                );
                Ok(())
            }
            None => Err(WebConfigError::NoSecret),
        }
    }
}

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scope {
    #[value(name = "commands:write")]
    CommandsWrite,
    #[value(name = "queries:read")]
    QueriesRead,
    #[value(name = "admin")]
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CommandsWrite => "commands:write",
            Scope::QueriesRead => "queries:read",
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

/// A minimal RFC 9457 problem, for refusals made before a request reaches a service's own
/// error handling.
pub fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("urn:stockflow:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A token bucket per token subject.
struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `Ok` when the request may go; otherwise how long until it may.
    fn admit(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle tokens rather than grow without bound.
            buckets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(60));
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

struct Guard {
    key: Option<DecodingKey>,
    validation: Validation,
    required: Scope,
    limiter: Option<RateLimiter>,
    timeout: Duration,
}

/// Wraps a service's router: `/v1/…` needs a token with `required` (or `admin`) and is rate
/// limited per token; every answer gets the security headers; every request a time limit.
pub fn protect(router: Router, config: &WebConfig, required: Scope) -> Router {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 30;
    // jsonwebtoken ignores `nbf` unless told: a token must not work before its time.
    validation.validate_nbf = true;
    let guard = Arc::new(Guard {
        key: config
            .auth_jwt_secret
            .as_deref()
            .map(|s| DecodingKey::from_secret(s.as_bytes())),
        validation,
        required,
        limiter: (config.rate_limit_per_second > 0).then(|| RateLimiter {
            per_second: f64::from(config.rate_limit_per_second),
            burst: 2.0 * f64::from(config.rate_limit_per_second),
            buckets: Mutex::new(HashMap::new()),
        }),
        timeout: Duration::from_millis(config.request_timeout_ms),
    });
    router.layer(middleware::from_fn_with_state(guard, guard_request))
}

async fn guard_request(
    State(guard): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    // Every request has an id: the caller's (a UUID) or a new one. It is answered back, set on
    // the request's log span, and the command service records it as its events' causation id.
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
        .unwrap_or_else(uuid::Uuid::now_v7);
    let id_header =
        HeaderValue::from_str(&request_id.to_string()).expect("a UUID is a valid header value");
    request.headers_mut().insert(REQUEST_ID, id_header.clone());
    let span = tracing::info_span!("request", request_id = %request_id, method = %request.method(), path = %request.uri().path());
    let mut response = tracing::Instrument::instrument(
        async move {
            if request.uri().path().starts_with("/v1/") {
                match authorize(&guard, &request) {
                    Ok(()) => run_with_timeout(&guard, request, next).await,
                    Err(refusal) => refusal,
                }
            } else {
                run_with_timeout(&guard, request, next).await
            }
        },
        span,
    )
    .await;
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, id_header);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
    response
}

async fn run_with_timeout(guard: &Guard, request: Request, next: Next) -> Response {
    match tokio::time::timeout(guard.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                "the request took too long; a command may still take effect: retry it with the same Idempotency-Key",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

// The refusal is the response itself; it is built once per refused request, so its size
// does not matter.
#[allow(clippy::result_large_err)]
fn authorize(guard: &Guard, request: &Request) -> Result<(), Response> {
    let subject = match &guard.key {
        None => "anonymous".to_owned(), // development mode, no secret
        Some(key) => {
            let token = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or_else(|| {
                    unauthorized("a bearer token is required (Authorization: Bearer <token>)")
                })?;
            let claims = jsonwebtoken::decode::<Claims>(token, key, &guard.validation)
                .map_err(|e| match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        unauthorized("the token has expired")
                    }
                    _ => unauthorized("the token is not valid"),
                })?
                .claims;
            let granted: Vec<&str> = claims.scope.split_whitespace().collect();
            if !granted.contains(&guard.required.as_str())
                && !granted.contains(&Scope::Admin.as_str())
            {
                return Err(problem(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    &format!(
                        "the token does not grant the `{}` scope",
                        guard.required.as_str()
                    ),
                ));
            }
            claims.sub
        }
    };
    if let Some(limiter) = &guard.limiter
        && let Err(wait) = limiter.admit(&subject)
    {
        let mut response = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests for this token",
        );
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Err(response);
    }
    Ok(())
}

fn unauthorized(detail: &str) -> Response {
    let mut response = problem(StatusCode::UNAUTHORIZED, "unauthorized", detail);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn the_limiter_admits_a_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter {
            per_second: 5.0,
            burst: 10.0,
            buckets: Mutex::new(HashMap::new()),
        };
        for _ in 0..10 {
            assert!(limiter.admit("t").is_ok());
        }
        let wait = limiter.admit("t").expect_err("the eleventh is refused");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200));
        assert!(
            limiter.admit("other").is_ok(),
            "tokens are limited separately"
        );
    }

    #[test]
    fn a_service_refuses_to_start_without_a_secret_unless_in_development() {
        let config = |secret: Option<&str>, dev| WebConfig {
            auth_jwt_secret: secret.map(str::to_owned),
            auth_dev_mode: dev,
            rate_limit_per_second: 0,
            request_timeout_ms: 1000,
        };
        assert!(matches!(
            config(None, false).validate(),
            Err(WebConfigError::NoSecret)
        ));
        assert!(matches!(
            config(Some("short"), false).validate(),
            Err(WebConfigError::WeakSecret)
        ));
        assert!(config(None, true).validate().is_ok());
        assert!(
            config(Some("0123456789abcdef0123456789abcdef"), false)
                .validate()
                .is_ok()
        );
    }
}
