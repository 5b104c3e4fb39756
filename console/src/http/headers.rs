//! Headers: the security headers every answer carries, and the ones that tell a request from
//! the console's own page apart from one another site's page could make a browser send.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;

/// The page loads only what this binary serves: no inline script or style, no other origin,
/// no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The header the page's scripts add to every `/api/` request. A form on another site cannot
/// set a header, and a script on another site cannot send one here without a CORS preflight,
/// which the console never grants.
pub const CONSOLE_HEADER: &str = "x-console";

/// Adds the security headers to every answer; answers that did not choose their caching are
/// not stored (the API's answers and the session's).
pub async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Refuses an API request without `X-Console: 1`.
pub fn require_console_header(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(CONSOLE_HEADER) {
        Some(value) if value.as_bytes() == b"1" => Ok(()),
        _ => Err(ApiError::MissingConsoleHeader),
    }
}

/// Refuses what a browser says another site sent (`Sec-Fetch-Site: cross-site`): signing in
/// or out is not the API, so it does not need the console's header, but no other site may do
/// it in the operator's name either. Clients other than browsers send no such header.
pub fn refuse_cross_site(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get("sec-fetch-site") {
        Some(value) if value.as_bytes() == b"cross-site" => Err(ApiError::CrossSite),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn only_the_console_header_with_value_1_passes() {
        assert!(require_console_header(&with("x-console", "1")).is_ok());
        assert!(require_console_header(&with("x-console", "0")).is_err());
        assert!(require_console_header(&HeaderMap::new()).is_err());
    }

    #[test]
    fn a_cross_site_request_is_refused_and_others_pass() {
        assert!(refuse_cross_site(&with("sec-fetch-site", "cross-site")).is_err());
        assert!(refuse_cross_site(&with("sec-fetch-site", "same-origin")).is_ok());
        assert!(refuse_cross_site(&HeaderMap::new()).is_ok());
    }
}
