//! The projector's admin API (dead letters, projections, rebuilds), against the real PostgreSQL and RabbitMQ:
//! each test with a database, an exchange and queues of its own (docs/operations.md, "Dead
//! letters"; docs/api.md, "Projector: dead letters").

mod access;
mod dead_letters;
mod helpers;
mod openapi;
mod projections;
mod rebuilds;
