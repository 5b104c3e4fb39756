//! Integration tests of the command service, against the real PostgreSQL and RabbitMQ of this
//! machine. Each test gets its own database and exchange, so tests run in parallel.

mod audit;
mod concurrency;
mod helpers;
mod idempotency;
mod injection;
mod malformed;
mod openapi;
mod orders;
mod products;
mod properties;
mod relay;
mod replays;
mod security;
mod shutdown;
