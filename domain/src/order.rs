//! The Order aggregate (stream `order-{order_id}`): lines, what of them is reserved, status.

use serde::{Deserialize, Serialize};
use stockflow_events::{Event, OrderStatus};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub reserved: i64,
    pub backordered: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: Uuid,
    pub customer_id: String,
    pub currency: String,
    pub total_cents: i64,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
}

impl Order {
    /// Open orders hold reservations and backorders; cancelled and shipped ones hold none.
    pub fn is_open(&self) -> bool {
        matches!(self.status, OrderStatus::Ready | OrderStatus::Backordered)
    }

    pub fn line(&self, sku: &str) -> Option<&OrderLine> {
        self.lines.iter().find(|l| l.sku == sku)
    }

    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<Order> {
        let mut order = None;
        for event in events {
            Order::apply(&mut order, event);
        }
        order
    }

    pub fn apply(state: &mut Option<Order>, event: &Event) {
        if let Event::OrderPlaced(e) = event {
            *state = Some(Order {
                order_id: e.order_id,
                customer_id: e.customer_id.clone(),
                currency: e.currency.clone(),
                total_cents: e.total_cents,
                status: e.status,
                lines: e
                    .lines
                    .iter()
                    .map(|l| OrderLine {
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                        unit_price_cents: l.unit_price_cents,
                        reserved: l.reserved,
                        backordered: l.backordered,
                    })
                    .collect(),
            });
            return;
        }
        let Some(order) = state.as_mut() else { return };
        match event {
            Event::OrderLineFilled(e) => {
                if let Some(line) = order.lines.iter_mut().find(|l| l.sku == e.sku) {
                    line.reserved += e.quantity;
                    line.backordered -= e.quantity;
                }
            }
            Event::OrderReady(_) => order.status = OrderStatus::Ready,
            // Lines keep their figures as they were at the close; only open orders count
            // towards a product's reserved and backordered units.
            Event::OrderCancelled(_) => order.status = OrderStatus::Cancelled,
            Event::OrderShipped(_) => order.status = OrderStatus::Shipped,
            _ => {}
        }
    }
}
