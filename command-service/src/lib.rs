//! stockflow's command service: the HTTP command API, the writer that appends events in
//! group commits, and the relay that publishes them to RabbitMQ.

pub mod app;
pub mod config;
pub mod http;
pub mod metrics;
mod openapi;
pub mod relay;
mod replies;
mod writer;

pub use app::App;
pub use config::{Cli, Command, Config};
