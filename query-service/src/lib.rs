//! stockflow's query service: the query API (docs/api.md) over the read models the projector
//! keeps, with `min_position` waits so clients can read their own writes.

pub mod app;
pub mod config;
mod cursor;
pub mod http;
mod openapi;
pub mod positions;
pub mod read_models;

pub use app::App;
pub use config::Config;
