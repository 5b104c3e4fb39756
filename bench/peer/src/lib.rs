//! # stockflow-peer
//!
//! The benchmark's peer (docs/performance.md): stockflow's `POST /v1/products` (RegisterProduct) and
//! `POST /v1/orders` (PlaceOrder), with the rules of docs/domain.md and the bodies, status codes and
//! problem documents of docs/api.md, built the way the best-known Rust event-sourcing crates,
//! [cqrs-es](https://docs.rs/cqrs-es) 0.5 and [postgres-es](https://docs.rs/postgres-es) 0.5,
//! intend. The same HTTP load drives it and stockflow's command service, so the ratio of
//! their throughput and latency says what stockflow's design buys.
//!
//! ## The cqrs-es way
//! Two aggregates, [`domain::Product`] and [`domain::Order`]: `Aggregate::handle` decides and
//! writes events, `apply` only mutates state. Each has its own `PostgresCqrs` (a
//! `CqrsFramework` over postgres-es's `PersistedEventStore`), and each `execute` loads one
//! aggregate, decides one command and commits its events in one transaction.
//!
//! PlaceOrder is therefore a sequence: for each line, a `Reserve` command on that line's
//! product (which reserves, backorders with a replenishment of `ceil(shortfall × 1.2)`, or
//! refuses under the `reject` policy), then a `Place` command on the order. `execute` answers
//! only "committed", so `Reserve` hands its decision back through a [`domain::Reply`] cell.
//!
//! ## Not atomic across aggregates
//! stockflow appends all of a PlaceOrder's events, on every product and the order, in one
//! transaction. Here each aggregate commits on its own. For an order of several lines the
//! rules that span lines (unknown or discontinued products, currencies, `insufficient_stock`)
//! are checked first against all its products, so a refused order writes nothing; but a
//! concurrent command may still change a product before its `Reserve` runs, and a line
//! refused then, or an order id taken meanwhile, leaves earlier lines reserved until the
//! service releases them (a best-effort compensation). A crash between the steps leaves
//! reservations with no order: guaranteeing otherwise needs a saga with a durable log, which
//! this peer does not have. For the benchmark's single-line orders the decisions and the
//! events match stockflow's: one product decision, one order.
//!
//! ## Event store mode
//! Plain event replay: every command loads its aggregate by replaying the aggregate's whole
//! stream (`postgres_cqrs`, i.e. `PersistedEventStore::new_event_store`). It is the default of
//! cqrs-es's persisted store and the setup postgres-es's README shows; both present snapshots
//! as an option for aggregates with many events. A hot product is such an aggregate, but the
//! snapshot store of cqrs-es 0.5.0 cannot be used with this version's `handle`:
//! `EventSink::write` applies each new event to the loaded aggregate, and the snapshot update
//! in `PersistedEventStore::commit` applies the same events to that aggregate again, so the
//! stored snapshot counts every command's events twice (tried here with a snapshot every 2
//! events: after five orders of 2 on a product with 5 in stock under `backorder`, the snapshot
//! held 6 reserved and 14 backordered where 5 and 5 are right). So the cost of a command
//! grows with its product's stream, which is part of what the benchmark measures.
//!
//! ## Concurrency
//! Two commands on one aggregate race for the same `(aggregate_type, aggregate_id, sequence)`
//! key; the loser gets `AggregateConflict` and is decided again on fresh state after a
//! jittered backoff (ceiling doubling from 1 ms to 64 ms), up to `--conflict-attempts` times
//! (default 32) before 409 `concurrency_conflict`. stockflow stops at 5, but its single writer
//! per process never conflicts with itself; here every concurrent order on one product does,
//! and 5 attempts already fail some of 20 simultaneous orders on one product (8 fail some of
//! 40), so the bound is set where the tests' 40 simultaneous orders all succeed.
//!
//! ## Left out
//! No authentication (stockflow verifies an HS256 JWT on every command), no Idempotency-Key,
//! If-Match, `position` tokens, relay to RabbitMQ, and no other command endpoint (the product
//! aggregate still has Discontinue and refuses orders once discontinued). The product keeps
//! its backorder count but not the FIFO of open backorders, as nothing here fills them.

pub mod config;
pub mod domain;
pub mod service;

mod app;
mod db;
mod http;

pub use app::{App, StartError, build};
pub use config::Config;
pub use db::drop_database;
pub use http::router;
