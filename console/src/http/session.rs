//! `/session`: signing in with a token, which the projector checks; who is signed in; signing
//! out. The token stays in the console's memory; the browser gets only a random session id,
//! in a cookie its scripts cannot read.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::headers::refuse_cross_site;
use super::{read_body, signed_in};
use crate::sessions::{self, Session, Token, session_id};
use crate::state::AppState;
use crate::token::{self, MAX_TOKEN_BYTES};
use crate::upstream::{Upstream, Upstreams};

/// Largest sign-in body: a token and the JSON around it.
const MAX_SIGN_IN_BYTES: usize = MAX_TOKEN_BYTES + 1024;

/// Shown for a token whose subject cannot be read (not a JWT: a service in development
/// mode takes any token).
const UNKNOWN_SUBJECT: &str = "unknown";

pub fn router() -> Router<AppState> {
    Router::new().route("/session", get(current).post(sign_in).delete(sign_out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

#[derive(Serialize)]
struct SignedIn {
    subject: String,
}

async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SignedIn>, ApiError> {
    let session = signed_in(&state, &headers)?;
    Ok(Json(SignedIn {
        subject: session.subject,
    }))
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    refuse_cross_site(&headers)?;
    let body = read_body(body, MAX_SIGN_IN_BYTES).await?;
    let request: SignIn = serde_json::from_slice(&body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::InvalidBody("the body must be {\"token\": \"<token>\"}".into())
        }
        _ => ApiError::MalformedBody(format!("the body is not JSON: {e}")),
    })?;
    let token = request.token.trim();
    if token.is_empty() {
        return Err(ApiError::InvalidBody("the token is empty".into()));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::InvalidBody(format!(
            "the token is longer than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    let token = Token::new(token.to_owned());
    let bearer = bearer(&token).ok_or_else(|| {
        ApiError::InvalidBody("the token holds characters a header cannot carry".into())
    })?;
    check(&state.upstreams, bearer).await?;

    let claims = token::peek(token.expose());
    let subject = claims.subject.unwrap_or_else(|| UNKNOWN_SUBJECT.to_owned());
    let now = Instant::now();
    let token_expires = claims.expires_at.and_then(|exp| instant_of(exp, now));
    // A browser signing in again leaves its old session behind.
    if let Some(old) = session_id(&headers) {
        state.sessions.close(old);
    }
    let session = Session {
        token,
        subject: subject.clone(),
    };
    let id = state.sessions.open(session, token_expires, now);
    tracing::info!(subject = %subject, "operator signed in");
    let cookie = sessions::cookie(&id, state.sessions.ttl(), state.secure_cookie);
    Ok(with_cookie(
        Json(SignedIn { subject }).into_response(),
        &cookie,
    ))
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    refuse_cross_site(&headers)?;
    if let Some(id) = session_id(&headers) {
        state.sessions.close(id);
    }
    let cleared = sessions::cleared_cookie(state.secure_cookie);
    Ok(with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        &cleared,
    ))
}

/// The `Authorization` header of a request made with `token`, marked sensitive so that no
/// debug output shows it; `None` if the token cannot be a header value.
pub(super) fn bearer(token: &Token) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Asks the projector whether the token may use the admin API: the console holds no secret
/// and decides nothing about tokens itself.
async fn check(upstreams: &Upstreams, bearer: HeaderValue) -> Result<(), ApiError> {
    let answer = upstreams
        .client()
        .get(upstreams.endpoint(Upstream::Projector, "v1/admin/projections"))
        .header(header::AUTHORIZATION, bearer)
        .send()
        .await
        .map_err(|error| {
            tracing::warn!(%error, "cannot reach the projector to check a token");
            ApiError::UpstreamUnavailable(
                "the projector cannot be reached to check the token".into(),
            )
        })?;
    match answer.status() {
        status if status.is_success() => Ok(()),
        StatusCode::UNAUTHORIZED => Err(ApiError::TokenRejected(
            "the token was refused: it is not valid, or it has expired",
        )),
        StatusCode::FORBIDDEN => Err(ApiError::TokenRejected(
            "the token was refused: it does not grant the admin scope",
        )),
        status => {
            tracing::warn!(%status, "the projector did not check a token");
            Err(ApiError::UpstreamUnavailable(format!(
                "the projector answered {status} when asked to check the token"
            )))
        }
    }
}

/// The instant of a Unix time, if it is still to come.
fn instant_of(unix_seconds: u64, now: Instant) -> Option<Instant> {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let left = Duration::from_secs(unix_seconds).checked_sub(since_epoch)?;
    now.checked_add(left)
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
