//! `Stack`: the whole stockflow pipeline for one test, on this machine's PostgreSQL and
//! RabbitMQ, with a database, exchange and queues of its own: the command service (with its
//! relay), the projector (in this process, or as a child process a test can kill) and the
//! query service. And `Truth`: what the event store says, computed here independently of the
//! projector, for read models to be compared with.

mod stack;
mod truth;

pub use stack::{Options, Response, Stack};
pub use truth::{ReplenishmentTruth, SalesTruth, Truth};
