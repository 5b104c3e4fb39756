//! stockflow's query service: the query API (docs/api.md) over the read models the projector
//! keeps, with `min_position` waits so clients can read their own writes, and the event feed
//! over the store for subscribers that join late.

pub mod app;
pub mod config;
mod cursor;
pub mod feed;
pub mod http;
mod metrics;
mod openapi;
pub mod positions;
pub mod read_models;
pub mod replica;

pub use app::App;
pub use config::Config;
