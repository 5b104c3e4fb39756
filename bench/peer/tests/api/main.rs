//! The peer's HTTP API against the real PostgreSQL, each test in a database of its own.

mod helpers;
mod orders;
mod products;
