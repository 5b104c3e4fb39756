//! What stockflow's HTTP services share at their edge: bearer-token auth with scopes, the
//! per-token rate limit, request ids, time limits and security headers, the problem body of
//! refusals, Prometheus metrics, the shared configuration arguments, and graceful shutdown.
//! It holds no business rule and no SQL.

pub mod args;
pub mod auth;
mod guard;
mod limiter;
pub mod metrics;
mod problem;
mod shutdown;

pub use auth::{Claims, Scope, mint_token};
pub use guard::{WebConfig, WebConfigError, protect};
pub use problem::problem;
pub use shutdown::shutdown_signal;
