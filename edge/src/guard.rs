//! The guard in front of every service's routes: `/v1/…` needs a bearer token with the
//! service's scope and is rate limited per token, and an address that keeps sending bad tokens
//! is turned away before they are checked; every request gets an id and a time limit; every
//! answer gets the security headers. Health, readiness, metrics and docs need no token.
//! Cross-origin calls are answered outside it (`crate::cors`).

use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::auth::{Caller, Claims, Scope};
use crate::limiter::RateLimiter;
use crate::problem::problem;

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
    /// Requests refused 401 allowed per client address and second (bursts of twice that);
    /// past them the address is answered 429 without its token being looked at. 0 for no
    /// limit (behind a proxy, every client has the proxy's address).
    #[arg(long, env = "AUTH_FAILURES_PER_SECOND", default_value_t = 20)]
    pub auth_failures_per_second: u32,
    /// Origins (`scheme://host[:port]`, comma-separated) whose pages may call the API from a
    /// browser; none by default, and then no cross-origin call is answered.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,
    /// Serve `/metrics` on this address only, not on the API's listener.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error(
        "AUTH_JWT_SECRET is not set: set it (at least 32 characters), or set AUTH_DEV_MODE=true to run without authentication in development"
    )]
    NoSecret,
    #[error("AUTH_JWT_SECRET is too short: use at least 32 characters")]
    WeakSecret,
    #[error("{0}")]
    BadOrigin(String),
}

impl WebConfig {
    /// Checks the configuration at startup: a service without a secret refuses to start
    /// unless told it runs in development.
    pub fn validate(&self) -> Result<(), WebConfigError> {
        crate::cors::origins(&self.cors_allowed_origins).map_err(WebConfigError::BadOrigin)?;
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

struct Guard {
    key: Option<DecodingKey>,
    validation: Validation,
    /// The scope a request needs, by its path.
    required: Box<dyn Fn(&str) -> Scope + Send + Sync>,
    limiter: Option<RateLimiter>,
    /// 401s by client address.
    failures: Option<RateLimiter>,
    timeout: Duration,
    /// `/metrics` is served on a listener of its own.
    metrics_elsewhere: bool,
}

/// Wraps a service's router: `/v1/…` needs a token with `required` (or `admin`) and is rate
/// limited per token; every answer gets the security headers; every request a time limit.
pub fn protect(router: Router, config: &WebConfig, required: Scope) -> Router {
    protect_by_path(router, config, move |_| required)
}

/// [`protect`], with the scope `/v1/…` needs chosen by the request's path: for a service
/// whose API has parts opened by different scopes.
pub fn protect_by_path(
    router: Router,
    config: &WebConfig,
    required: impl Fn(&str) -> Scope + Send + Sync + 'static,
) -> Router {
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
        required: Box::new(required),
        limiter: (config.rate_limit_per_second > 0)
            .then(|| RateLimiter::new(config.rate_limit_per_second)),
        failures: (config.auth_failures_per_second > 0)
            .then(|| RateLimiter::new(config.auth_failures_per_second)),
        timeout: Duration::from_millis(config.request_timeout_ms),
        metrics_elsewhere: config.metrics_addr.is_some(),
    });
    let router = router.layer(middleware::from_fn_with_state(guard, guard_request));
    // Outside the guard: a preflight carries no token. `validate` has refused bad origins.
    crate::cors::allow(
        router,
        crate::cors::origins(&config.cors_allowed_origins).unwrap_or_default(),
    )
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
            if guard.metrics_elsewhere && request.uri().path() == "/metrics" {
                problem(StatusCode::NOT_FOUND, "not_found", "no such resource")
            } else if request.uri().path().starts_with("/v1/") {
                match authorize(&guard, &request) {
                    Ok(caller) => {
                        request.extensions_mut().insert(caller);
                        run_with_timeout(&guard, request, next).await
                    }
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
fn authorize(guard: &Guard, request: &Request) -> Result<Caller, Response> {
    let subject = match &guard.key {
        None => "anonymous".to_owned(), // development mode, no secret
        Some(key) => authenticate(guard, key, request)?,
    };
    if let Some(limiter) = &guard.limiter
        && let Err(wait) = limiter.admit(&subject)
    {
        return Err(too_many(
            "rate_limited",
            "too many requests for this token",
            wait,
        ));
    }
    Ok(Caller { subject })
}

/// The subject of the request's token, checked against the scope its path needs. An address
/// whose requests keep failing is answered 429 before its token is even looked at.
#[allow(clippy::result_large_err)]
fn authenticate(guard: &Guard, key: &DecodingKey, request: &Request) -> Result<String, Response> {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(remote)| remote.ip().to_string());
    let failures = guard.failures.as_ref().zip(address.as_deref());
    if let Some((failures, address)) = failures
        && let Err(wait) = failures.check(address)
    {
        return Err(too_many(
            "too_many_auth_failures",
            "too many requests without a valid token from this address",
            wait,
        ));
    }
    let verified = verify(guard, key, request);
    if let (Err(refusal), Some((failures, address))) = (&verified, failures)
        && refusal.status() == StatusCode::UNAUTHORIZED
    {
        let _ = failures.admit(address);
    }
    verified
}

#[allow(clippy::result_large_err)]
fn verify(guard: &Guard, key: &DecodingKey, request: &Request) -> Result<String, Response> {
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
    let required = (guard.required)(request.uri().path());
    let granted: Vec<&str> = claims.scope.split_whitespace().collect();
    if !granted.contains(&required.as_str()) && !granted.contains(&Scope::Admin.as_str()) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("the token does not grant the `{}` scope", required.as_str()),
        ));
    }
    Ok(claims.sub)
}

fn too_many(code: &str, detail: &str, wait: Duration) -> Response {
    let mut response = problem(StatusCode::TOO_MANY_REQUESTS, code, detail);
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
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
    fn a_service_refuses_to_start_without_a_secret_unless_in_development() {
        let config = |secret: Option<&str>, dev| WebConfig {
            auth_jwt_secret: secret.map(str::to_owned),
            auth_dev_mode: dev,
            rate_limit_per_second: 0,
            request_timeout_ms: 1000,
            auth_failures_per_second: 0,
            cors_allowed_origins: Vec::new(),
            metrics_addr: None,
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
