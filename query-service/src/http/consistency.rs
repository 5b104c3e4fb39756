//! Read your writes: a request naming `min_position` (parameter or `X-Min-Position` header)
//! waits until the read models reach it, and every answer says which position it reflects.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::params;

pub const PROJECTION_POSITION_HEADER: &str = "x-projection-position";

pub async fn consistency(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let wanted = match params::min_position(request.uri().query(), request.headers()) {
        Ok(wanted) => wanted,
        Err(error) => return stamped(error.into_response(), app.positions.current()),
    };
    // Taken before the handler queries: the read models only move forward, so its answer
    // reflects at least this position.
    let position = match wanted {
        None => app.positions.current(),
        Some(min_position) => {
            let waiting = std::time::Instant::now();
            let waited = app
                .positions
                .wait_for(min_position, app.min_position_timeout)
                .await;
            metrics::histogram!(crate::metrics::MIN_POSITION_WAIT)
                .record(waiting.elapsed().as_secs_f64());
            match waited {
                Ok(position) => position,
                Err(position) => {
                    let lagging = ApiError::ProjectionLagging {
                        min_position,
                        position,
                    };
                    return stamped(lagging.into_response(), position);
                }
            }
        }
    };
    stamped(next.run(request).await, position)
}

fn stamped(mut response: Response, position: i64) -> Response {
    response
        .headers_mut()
        .insert(PROJECTION_POSITION_HEADER, HeaderValue::from(position));
    response
}
