//! The page and its scripts and style, built into the binary: the console works offline and
//! loads nothing from elsewhere.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;
use crate::state::AppState;

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const INDEX: &str = include_str!("../../assets/index.html");

/// Every file under `/assets/`, by its path there.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", CSS, include_str!("../../assets/app.css")),
    ("app.js", JAVASCRIPT, include_str!("../../assets/app.js")),
    ("api.js", JAVASCRIPT, include_str!("../../assets/api.js")),
    (
        "chart.js",
        JAVASCRIPT,
        include_str!("../../assets/chart.js"),
    ),
    (
        "pages/overview.js",
        JAVASCRIPT,
        include_str!("../../assets/pages/overview.js"),
    ),
    (
        "pages/projections.js",
        JAVASCRIPT,
        include_str!("../../assets/pages/projections.js"),
    ),
    (
        "pages/dead-letters.js",
        JAVASCRIPT,
        include_str!("../../assets/pages/dead-letters.js"),
    ),
    (
        "pages/events.js",
        JAVASCRIPT,
        include_str!("../../assets/pages/events.js"),
    ),
    (
        "pages/audit.js",
        JAVASCRIPT,
        include_str!("../../assets/pages/audit.js"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { file(HTML, INDEX) }))
        .route("/assets/{*path}", get(asset))
}

// The path as sent, not decoded: the names are plain, and a name that needs decoding is none
// of them.
async fn asset(request: Request) -> Result<Response, ApiError> {
    let name = request
        .uri()
        .path()
        .strip_prefix("/assets/")
        .ok_or(ApiError::NotFound)?;
    ASSETS
        .iter()
        .find(|(path, _, _)| *path == name)
        .map(|(_, content_type, body)| file(content_type, body))
        .ok_or(ApiError::NotFound)
}

/// A file of the page. Browsers check with the console before using a copy (`no-cache`), so
/// a new binary's page is never mixed with an old one's scripts.
fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
