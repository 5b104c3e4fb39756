//! What the console's handlers share.

use std::sync::Arc;

use crate::overview::Board;
use crate::sessions::Sessions;
use crate::upstream::Upstreams;

#[derive(Clone)]
pub struct AppState {
    pub sessions: Arc<Sessions>,
    pub upstreams: Arc<Upstreams>,
    pub board: Arc<Board>,
    /// Whether the session cookie is marked `Secure` (the console is served over HTTPS).
    pub secure_cookie: bool,
}
