//! stockflow's projector: consumes the events from RabbitMQ and keeps the read models, exactly
//! once in effect; and rebuilds them from the store on demand.

pub mod app;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod health;
mod http;
pub mod metrics;
pub mod model;
pub mod rebuild;
mod store_reader;

pub use app::App;
pub use config::{Cli, Command, Config};
