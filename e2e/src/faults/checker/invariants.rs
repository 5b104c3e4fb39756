//! The store's own state against the domain's invariants.

use super::Findings;
use crate::Truth;

/// The invariants of docs/domain.md#invariants over the store's own state, each broken one
/// counted and noted.
pub fn check_invariants(truth: &Truth, findings: &mut Findings) {
    let broken = stockflow_domain::invariants::violations(
        truth.products.values().map(|(product, _)| product),
        truth.orders.values().map(|order| &order.order),
    );
    for violation in broken {
        findings.counts.invariant_violations += 1;
        findings.note(violation);
    }
}
