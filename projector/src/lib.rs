//! stockflow's projector: consumes the events from RabbitMQ and keeps the read models, exactly
//! once in effect; keeps the messages it cannot use as dead letters for operators; and
//! rebuilds the read models from the store on demand.

pub mod app;
pub mod batch;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod control;
pub mod dead_letters;
pub mod health;
mod http;
pub mod metrics;
pub mod model;
pub mod rebuild;
pub mod repair;
mod store_reader;
mod transient;

pub use app::App;
pub use config::{Cli, Command, Config};
