//! Cross-origin calls from browser pages: off unless `CORS_ALLOWED_ORIGINS` names origins.
//! Then those origins (and only those) may call the API from a page: a preflight is answered
//! without a token, with the methods and request headers the APIs take, and the answers show
//! the headers a client reads.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a page may send: the token, the body's type, and the APIs' own.
const ALLOWED_HEADERS: [&str; 7] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "x-correlation-id",
    "traceparent",
    "x-min-position",
];

/// Answer headers a page may read.
const EXPOSED_HEADERS: [&str; 6] = [
    "x-request-id",
    "x-projection-position",
    "idempotent-replayed",
    "retry-after",
    "etag",
    "location",
];

/// How long a browser may keep a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(600);

/// The origins as given, each checked: `scheme://host[:port]`, no path. An origin that is
/// not one is a configuration error, told at start-up.
pub(crate) fn origins(configured: &[String]) -> Result<Vec<HeaderValue>, String> {
    configured
        .iter()
        .map(|origin| origin.trim())
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let (scheme, rest) = origin
                .split_once("://")
                .ok_or_else(|| format!("CORS_ALLOWED_ORIGINS: `{origin}` is not an origin"))?;
            let valid = matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains('/')
                && origin != "*";
            if !valid {
                return Err(format!(
                    "CORS_ALLOWED_ORIGINS: `{origin}` is not an origin (scheme://host[:port])"
                ));
            }
            HeaderValue::from_str(origin)
                .map_err(|_| format!("CORS_ALLOWED_ORIGINS: `{origin}` is not an origin"))
        })
        .collect()
}

/// `router` answering cross-origin calls from `origins`; as it is when there are none.
pub(crate) fn allow(router: Router, origins: Vec<HeaderValue>) -> Router {
    if origins.is_empty() {
        return router;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
        .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
        .max_age(MAX_AGE);
    router.layer(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_origins_are_taken() {
        let good = origins(&[
            "https://shop.example.com".into(),
            " http://localhost:3000 ".into(),
        ])
        .expect("origins");
        assert_eq!(good.len(), 2);
        assert_eq!(good[1], "http://localhost:3000");
        for bad in [
            "*",
            "shop.example.com",
            "https://shop.example.com/app",
            "ftp://x",
            "https://",
        ] {
            assert!(origins(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(origins(&[]).expect("none").is_empty());
    }
}
