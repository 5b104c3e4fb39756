//! The fault run (docs/testing.md; the promises it checks are those of docs/guarantees.md):
//! the three services as processes, each reaching PostgreSQL and RabbitMQ through a fault
//! proxy; a workload of every command kind; and, while it runs, one fault after another:
//! processes killed, the broker stopped, PostgreSQL restarted, connections closed, links
//! slowed or cut, messages duplicated, reordered and poisoned. After quiescence the checker
//! compares what clients were told with what the system holds.
//!
//! On the clusters of `scripts/cluster` (`--cluster`), two command services and two
//! projectors take every node's and server's address, without proxies, and the faults are the
//! cluster's: the queue's leader node killed, a node's broker app stopped, the replica
//! crashed, and last the primary lost and the replica promoted. The same workload and checker
//! judge it; the report also says how long each fault left the commands without a success and
//! the read models still.
//!
//! The modules, from the bottom up: `proxy`, `services`, `subscriber` and `workload` (the
//! parts), `options` (what to run), `system` (the services under test, started and taken
//! down), `inject` (each kind of fault; `cluster` those of a cluster), `timeline` (what each
//! fault cost), `inspect` (quiescence, and what the system then holds), `checker` (the
//! findings), `report` and `run` (the whole, in order).

pub mod checker;
mod cluster;
mod inject;
mod inspect;
mod options;
pub mod proxy;
mod report;
mod run;
pub mod services;
pub mod subscriber;
mod system;
mod timeline;
pub mod workload;

pub use inject::Fault;
pub use options::{Options, Topology};
pub use report::{Injection, Report};
pub use run::run;
