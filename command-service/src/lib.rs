//! stockflow's command service: the HTTP command API, the writer that appends events in
//! group commits, the relay that publishes them to RabbitMQ, and replays of stored events
//! into one queue for the operators.

pub mod app;
pub mod config;
pub mod http;
mod message;
pub mod metrics;
mod openapi;
pub mod relay;
pub mod replay;
mod replies;
mod scopes;
mod writer;

pub use app::App;
pub use config::{Cli, Command, Config};
