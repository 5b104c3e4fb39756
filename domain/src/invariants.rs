//! The invariants that hold after any interleaving of commands (docs/domain.md#invariants),
//! as one check that the domain's tests, the API tests and the fault run's checker all use.

use std::collections::BTreeMap;

use stockflow_events::OrderStatus;
use uuid::Uuid;

use crate::{Order, Product};

/// Every invariant the products and orders break, described; empty when all hold.
///
/// - 0 ≤ reserved ≤ on hand, for every product;
/// - a product's reserved and backordered units are the sums over its open orders' lines, and
///   its backorder queue holds exactly one entry per open line still waiting, of that size;
/// - an open order is `ready` if and only if none of its lines waits for units, and each of
///   its lines holds its quantity as reserved plus backordered units;
/// - an order's total is the sum of its lines' quantity × unit price.
pub fn violations<'a>(
    products: impl IntoIterator<Item = &'a Product>,
    orders: impl IntoIterator<Item = &'a Order>,
) -> Vec<String> {
    let mut found = Vec::new();
    // Per sku: the open lines' (order, reserved, backordered).
    let mut open_lines: BTreeMap<&str, Vec<(Uuid, i64, i64)>> = BTreeMap::new();
    for order in orders {
        let waiting = order.lines.iter().any(|l| l.backordered > 0);
        match order.status {
            OrderStatus::Ready if waiting => found.push(format!(
                "order {} is ready with units still backordered",
                order.order_id
            )),
            OrderStatus::Backordered if !waiting => found.push(format!(
                "order {} is backordered with nothing backordered",
                order.order_id
            )),
            _ => {}
        }
        let total: i64 = order
            .lines
            .iter()
            .map(|l| l.quantity * l.unit_price_cents)
            .sum();
        if order.total_cents != total {
            found.push(format!(
                "order {}: total {} but its lines come to {total}",
                order.order_id, order.total_cents
            ));
        }
        if order.is_open() {
            for line in &order.lines {
                if line.reserved < 0
                    || line.backordered < 0
                    || line.reserved + line.backordered != line.quantity
                {
                    found.push(format!(
                        "order {} line {}: {} reserved and {} backordered of {}",
                        order.order_id, line.sku, line.reserved, line.backordered, line.quantity
                    ));
                }
                open_lines.entry(line.sku.as_str()).or_default().push((
                    order.order_id,
                    line.reserved,
                    line.backordered,
                ));
            }
        }
    }
    for product in products {
        let sku = product.sku.as_str();
        if product.reserved < 0 || product.reserved > product.on_hand {
            found.push(format!(
                "{sku}: reserved {} is not within 0..={} on hand",
                product.reserved, product.on_hand
            ));
        }
        let lines = open_lines.get(sku).map(Vec::as_slice).unwrap_or_default();
        let reserved: i64 = lines.iter().map(|l| l.1).sum();
        let backordered: i64 = lines.iter().map(|l| l.2).sum();
        if product.reserved != reserved {
            found.push(format!(
                "{sku}: reserved {} but its open orders reserve {reserved}",
                product.reserved
            ));
        }
        if product.backordered() != backordered {
            found.push(format!(
                "{sku}: backordered {} but its open orders wait for {backordered}",
                product.backordered()
            ));
        }
        let queued: BTreeMap<Uuid, i64> = product
            .backorders
            .iter()
            .map(|b| (b.order_id, b.quantity))
            .collect();
        let waiting: BTreeMap<Uuid, i64> = lines
            .iter()
            .filter(|l| l.2 > 0)
            .map(|l| (l.0, l.2))
            .collect();
        if queued.len() != product.backorders.len() || queued != waiting {
            found.push(format!(
                "{sku}: the backorder queue {queued:?} is not the open lines that wait {waiting:?}"
            ));
        }
    }
    found
}
