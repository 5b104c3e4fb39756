//! The benchmark's scenarios, one function each, in the order a run takes them (see
//! docs/performance.md). Each measures one thing, notes its failed requests as problems of
//! the run, and returns its figures.

mod baselines;
mod half_rate;
mod long_stream;
mod max_rate;
mod peer;
mod reads;
mod rebuild;
mod replay;
mod requests;
mod stock_as_of;

pub use baselines::{b1, b2, b3};
pub use half_rate::{half_rate, visibility};
pub use long_stream::long_stream;
pub use max_rate::max_rate;
pub use peer::peer;
pub use reads::product_reads;
pub use rebuild::rebuild;
pub use replay::replay_latency;
pub use requests::{place_order, register};
pub use stock_as_of::stock_as_of;

use crate::load::Summary;

/// A stretch of load with failed requests, or none that succeeded, is a problem of the run.
fn check(problems: &mut Vec<String>, what: &str, summary: &Summary) {
    if summary.errors > 0 {
        problems.push(format!(
            "{what}: {} requests failed, the first with {}",
            summary.errors,
            summary.first_error.as_deref().unwrap_or("?")
        ));
    }
    if summary.requests == 0 {
        problems.push(format!("{what}: no request succeeded"));
    }
}
