//! What the event store says, folded here with the domain's own `apply` and plain loops, not
//! with the projector's code, so that a read model can be checked against it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use stockflow_domain::{Order, Product};
use stockflow_event_store::StoredEvent;
use stockflow_events::Event;
use uuid::Uuid;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SalesTruth {
    pub orders: i64,
    pub units: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplenishmentTruth {
    pub sku: String,
    pub order_id: Uuid,
    pub quantity: i64,
    pub outstanding: i64,
}

#[derive(Debug, Clone)]
pub struct OrderTruth {
    pub order: Order,
    pub version: i64,
    pub placed_at: DateTime<Utc>,
    pub carrier: Option<String>,
}

/// An order line as the read models should hold it: sku, quantity, reserved, backordered,
/// unit price.
pub type LineTruth = (String, i64, i64, i64, i64);

impl OrderTruth {
    /// Its lines, in order.
    pub fn lines(&self) -> Vec<LineTruth> {
        self.order
            .lines
            .iter()
            .map(|l| {
                (
                    l.sku.clone(),
                    l.quantity,
                    l.reserved,
                    l.backordered,
                    l.unit_price_cents,
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerTruth {
    pub order_count: i64,
    pub open_order_count: i64,
    pub lifetime_value: BTreeMap<String, i64>,
}

#[derive(Debug, Default)]
pub struct Truth {
    pub head: i64,
    pub products: BTreeMap<String, (Product, i64)>,
    pub orders: BTreeMap<Uuid, OrderTruth>,
    pub customers: BTreeMap<String, CustomerTruth>,
    pub sales_by_day: BTreeMap<(NaiveDate, String), SalesTruth>,
    pub sales_by_sku: BTreeMap<(String, String), SalesTruth>,
    /// In the order they were requested.
    pub replenishments: Vec<ReplenishmentTruth>,
}

impl Truth {
    pub fn from_events(events: &[StoredEvent]) -> Truth {
        let mut truth = Truth::default();
        let mut products: BTreeMap<String, Option<Product>> = BTreeMap::new();
        let mut orders: BTreeMap<Uuid, Option<Order>> = BTreeMap::new();
        let mut versions: BTreeMap<String, i64> = BTreeMap::new();
        let mut placed_at: BTreeMap<Uuid, DateTime<Utc>> = BTreeMap::new();
        let mut carriers: BTreeMap<Uuid, String> = BTreeMap::new();
        for stored in events {
            truth.head = stored.position;
            let event = Event::decode(
                &stored.event_type,
                stored.type_version as u32,
                stored.data.clone(),
            )
            .expect("stored events decode");
            versions.insert(stored.stream_id.clone(), stored.stream_version);
            match &event {
                Event::OrderPlaced(e) => {
                    placed_at.insert(e.order_id, stored.recorded_at);
                }
                Event::OrderShipped(e) => {
                    carriers.insert(e.order_id, e.carrier.clone());
                }
                Event::ReplenishmentRequested(e) => truth.replenishments.push(ReplenishmentTruth {
                    sku: e.sku.clone(),
                    order_id: e.order_id,
                    quantity: e.quantity,
                    outstanding: e.quantity,
                }),
                Event::StockReceived(e) => {
                    let mut left = e.quantity;
                    for request in truth
                        .replenishments
                        .iter_mut()
                        .filter(|r| r.sku == e.sku && r.outstanding > 0)
                    {
                        let taken = left.min(request.outstanding);
                        request.outstanding -= taken;
                        left -= taken;
                    }
                }
                _ => {}
            }
            if let Some(sku) = stored.stream_id.strip_prefix("product-") {
                Product::apply(products.entry(sku.to_owned()).or_default(), &event);
            } else if let Some(id) = stored
                .stream_id
                .strip_prefix("order-")
                .and_then(|id| id.parse().ok())
            {
                Order::apply(orders.entry(id).or_default(), &event);
            }
        }
        for (sku, product) in products {
            let version = versions[&format!("product-{sku}")];
            truth.products.insert(
                sku,
                (
                    product.expect("product streams start with a registration"),
                    version,
                ),
            );
        }
        for (id, order) in orders {
            let order = order.expect("order streams start with a placement");
            let version = versions[&format!("order-{id}")];
            let cancelled = order.status == stockflow_events::OrderStatus::Cancelled;
            let placed = placed_at[&id];

            let customer = truth
                .customers
                .entry(order.customer_id.clone())
                .or_insert_with(|| CustomerTruth {
                    order_count: 0,
                    open_order_count: 0,
                    lifetime_value: BTreeMap::new(),
                });
            customer.order_count += 1;
            customer.open_order_count += i64::from(order.is_open());
            *customer
                .lifetime_value
                .entry(order.currency.clone())
                .or_default() += if cancelled { 0 } else { order.total_cents };
            if !cancelled {
                let day = truth
                    .sales_by_day
                    .entry((placed.date_naive(), order.currency.clone()))
                    .or_default();
                day.orders += 1;
                day.units += order.lines.iter().map(|l| l.quantity).sum::<i64>();
                day.revenue_cents += order.total_cents;
                for line in &order.lines {
                    let sku = truth
                        .sales_by_sku
                        .entry((line.sku.clone(), order.currency.clone()))
                        .or_default();
                    sku.orders += 1;
                    sku.units += line.quantity;
                    sku.revenue_cents += line.quantity * line.unit_price_cents;
                }
            }
            truth.orders.insert(
                id,
                OrderTruth {
                    order,
                    version,
                    placed_at: placed,
                    carrier: carriers.remove(&id),
                },
            );
        }
        truth
    }
}
