//! The business rules (docs/domain.md), with no I/O: commands are decided against the current state
//! of the aggregates they touch, producing events or a refusal; events are applied to rebuild
//! state. The command service loads state, calls [`decide`], and appends what it returns.

mod commands;
mod decide;
mod error;
pub mod invariants;
mod order;
mod product;
pub mod values;

pub use commands::*;
pub use decide::{Aggregates, Change, decide, streams_needed};
pub use error::{DomainError, Shortage};
pub use order::{Order, OrderLine};
pub use product::{Backorder, Product};

/// Units requested from the supplier for a shortfall: the shortfall plus 20%, rounded up.
pub fn replenishment_quantity(shortfall: i64) -> i64 {
    // ceil(shortfall × 6 / 5) in integers, so no float rounding can creep in.
    (shortfall * 6 + 4) / 5
}
