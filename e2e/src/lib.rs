//! `Stack`: the whole stockflow pipeline for one test, on this machine's PostgreSQL and
//! RabbitMQ, with a database, exchange and queues of its own: the command service (with its
//! relay), the projector (in this process, or as a child process a test can kill) and the
//! query service. `Truth`: what the event store says, computed here independently of the
//! projector, for read models to be compared with. And `faults`: the fault run, which
//! restarts the shared servers and so runs alone (`scripts/faults`).

pub mod faults;
mod stack;
mod truth;

pub use stack::{Options, Response, Stack};
pub use truth::{LineTruth, ReplenishmentTruth, SalesTruth, Truth};
