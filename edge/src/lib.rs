//! What stockflow's HTTP services share at their edge: bearer-token auth with scopes, the
//! per-token rate limit, request ids, time limits and security headers, the problem body of
//! refusals, Prometheus metrics, the shared configuration arguments, liveness, what the
//! OpenAPI documents share, and serving within connection limits with graceful shutdown. It
//! holds no business rule and no SQL.

pub mod args;
pub mod auth;
mod connections;
mod cors;
mod guard;
pub mod health;
mod limiter;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod paging;
mod problem;
mod serve;
mod shutdown;

pub use auth::{Caller, Claims, Scope, mint_token};
pub use guard::{WebConfig, WebConfigError, protect, protect_by_path};
pub use limits::HttpLimits;
pub use problem::{PROBLEM_CONTENT_TYPE, problem};
pub use serve::{ListenError, Server, Service, run};
pub use shutdown::shutdown_signal;
