//! The whole pipeline, end to end, on the real PostgreSQL and RabbitMQ: commands in, events
//! relayed and projected, queries out.

mod analysts;
mod checks;
mod crash;
mod delivery;
mod feed;
mod hostile_text;
mod operations;
mod read_your_writes;
mod rebuild;
mod roles;
mod scale_out;
mod shutdown;
mod supplier_notifier;
mod supplier_notifier_restarts;
mod telemetry;
mod workload;
