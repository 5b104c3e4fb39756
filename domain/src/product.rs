//! The Product aggregate (stream `product-{sku}`): catalogue data and stock levels.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use stockflow_events::{BackorderPolicy, Event};
use uuid::Uuid;

/// Units of this product an order is still waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backorder {
    pub order_id: Uuid,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub unit_price_cents: i64,
    pub currency: String,
    pub backorder_policy: BackorderPolicy,
    pub discontinued: bool,
    pub on_hand: i64,
    pub reserved: i64,
    /// Open backorders, oldest first: receipts fill them in this order.
    pub backorders: VecDeque<Backorder>,
}

impl Product {
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }

    pub fn backordered(&self) -> i64 {
        self.backorders.iter().map(|b| b.quantity).sum()
    }

    /// Rebuilds a product from its stream. `None` if the stream does not start with a
    /// registration (it does not exist).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<Product> {
        let mut product = None;
        for event in events {
            Product::apply(&mut product, event);
        }
        product
    }

    /// Applies one event of this product's stream. Events of other aggregates are ignored.
    pub fn apply(state: &mut Option<Product>, event: &Event) {
        if let Event::ProductRegistered(e) = event {
            *state = Some(Product {
                sku: e.sku.clone(),
                name: e.name.clone(),
                unit_price_cents: e.unit_price_cents,
                currency: e.currency.clone(),
                backorder_policy: e.backorder_policy,
                discontinued: false,
                on_hand: e.initial_stock,
                reserved: 0,
                backorders: VecDeque::new(),
            });
            return;
        }
        let Some(product) = state.as_mut() else {
            return;
        };
        match event {
            Event::StockReceived(e) => product.on_hand += e.quantity,
            Event::StockAdjusted(e) => product.on_hand += e.delta,
            Event::PriceChanged(e) => product.unit_price_cents = e.unit_price_cents,
            Event::ProductDiscontinued(_) => product.discontinued = true,
            Event::StockReserved(e) => product.reserved += e.quantity,
            Event::StockBackordered(e) => product.backorders.push_back(Backorder {
                order_id: e.order_id,
                quantity: e.quantity,
            }),
            Event::BackorderFilled(e) => {
                product.reserved += e.quantity;
                if let Some(i) = product
                    .backorders
                    .iter()
                    .position(|b| b.order_id == e.order_id)
                {
                    product.backorders[i].quantity -= e.quantity;
                    if product.backorders[i].quantity <= 0 {
                        product.backorders.remove(i);
                    }
                }
            }
            Event::StockReleased(e) => {
                product.reserved -= e.released;
                product.backorders.retain(|b| b.order_id != e.order_id);
            }
            Event::StockShipped(e) => {
                product.on_hand -= e.quantity;
                product.reserved -= e.quantity;
            }
            _ => {}
        }
    }
}
