//! Integration tests of the query service against this machine's PostgreSQL. Each test gets
//! its own database, migrated by the service, with the read models seeded by SQL as the
//! projector would leave them; so tests run in parallel.

mod analytics;
mod consistency;
mod customers;
mod feed;
mod health;
mod helpers;
mod history;
mod injection;
mod limits;
mod openapi;
mod orders;
mod parameters;
mod products;
mod projections;
mod properties;
mod rebuild;
mod replenishments;
mod security;
