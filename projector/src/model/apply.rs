//! The pure part of projecting: given the rows a batch touches and an event, the rows after
//! it. No I/O; loading and writing the rows are `load` and `write`.

use stockflow_events::{BackorderPolicy, Envelope, Event, OrderStatus};
use uuid::Uuid;

use super::ApplyError;
use super::rows::{LineRow, OrderRow, ProductRow, ReplenishmentRow, Working};

impl Working {
    fn missing(envelope: &Envelope, what: String) -> ApplyError {
        ApplyError::Missing {
            position: envelope.position,
            event_type: envelope.event.event_type(),
            what,
        }
    }

    fn product(&mut self, envelope: &Envelope, sku: &str) -> Result<&mut ProductRow, ApplyError> {
        self.touched_products.insert(sku.to_owned());
        let product = self
            .products
            .get_mut(sku)
            .ok_or_else(|| Self::missing(envelope, format!("product {sku}")))?;
        product.version = envelope.stream_version;
        product.updated_at = envelope.recorded_at;
        Ok(product)
    }

    fn order(&mut self, envelope: &Envelope, order_id: Uuid) -> Result<&mut OrderRow, ApplyError> {
        self.touched_orders.insert(order_id);
        let order = self
            .orders
            .get_mut(&order_id)
            .ok_or_else(|| Self::missing(envelope, format!("order {order_id}")))?;
        order.version = envelope.stream_version;
        order.updated_at = envelope.recorded_at;
        Ok(order)
    }

    /// Adds (sign 1) or withdraws (sign -1) an order's contribution to sales and to its
    /// customer's lifetime value.
    fn count_sale(&mut self, order_id: Uuid, sign: i64) {
        let Some(order) = self.orders.get(&order_id) else {
            return;
        };
        let day = order.placed_at.date_naive();
        let lines = self
            .lines
            .get(&order_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let units: i64 = lines.iter().map(|l| l.quantity).sum();
        self.daily
            .entry((day, order.currency.clone()))
            .or_default()
            .add(sign, units, order.total_cents);
        for line in lines {
            self.daily_sku
                .entry((day, line.sku.clone(), order.currency.clone()))
                .or_default()
                .add(sign, line.quantity, line.quantity * line.unit_price_cents);
        }
        *self
            .lifetime_values
            .entry((order.customer_id.clone(), order.currency.clone()))
            .or_default() += sign * order.total_cents;
    }

    /// Changes the rows as the event says. The rows it refers to must be in the working set
    /// (see `load`), or come from an earlier event of the batch.
    pub(super) fn apply(&mut self, envelope: &Envelope) -> Result<(), ApplyError> {
        let at = envelope.recorded_at;
        match &envelope.event {
            Event::ProductRegistered(e) => {
                self.touched_products.insert(e.sku.clone());
                self.products.insert(
                    e.sku.clone(),
                    ProductRow {
                        sku: e.sku.clone(),
                        name: e.name.clone(),
                        unit_price_cents: e.unit_price_cents,
                        currency: e.currency.clone(),
                        backorder_policy: match e.backorder_policy {
                            BackorderPolicy::Reject => "reject".into(),
                            BackorderPolicy::Backorder => "backorder".into(),
                        },
                        status: "active".into(),
                        on_hand: e.initial_stock,
                        reserved: 0,
                        available: e.initial_stock,
                        backordered: 0,
                        version: envelope.stream_version,
                        updated_at: at,
                    },
                );
            }
            Event::StockReceived(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available, p.backordered) =
                    (e.on_hand, e.reserved, e.available, e.backordered);
                self.fulfil_replenishments(&e.sku, e.quantity);
            }
            Event::StockAdjusted(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available) = (e.on_hand, e.reserved, e.available);
            }
            Event::PriceChanged(e) => {
                self.product(envelope, &e.sku)?.unit_price_cents = e.unit_price_cents
            }
            Event::ProductDiscontinued(e) => {
                self.product(envelope, &e.sku)?.status = "discontinued".into()
            }
            Event::StockReserved(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available) = (e.on_hand, e.reserved, e.available);
            }
            Event::StockBackordered(e) => {
                self.product(envelope, &e.sku)?.backordered = e.backordered
            }
            Event::ReplenishmentRequested(e) => {
                self.product(envelope, &e.sku)?;
                let key = (e.sku.clone(), e.order_id);
                self.touched_replenishments.insert(key.clone());
                self.replenishments.insert(
                    key,
                    ReplenishmentRow {
                        sku: e.sku.clone(),
                        order_id: e.order_id,
                        quantity: e.quantity,
                        outstanding: e.quantity,
                        status: "open".into(),
                        requested_at: at,
                        position: envelope.position,
                    },
                );
            }
            Event::BackorderFilled(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available, p.backordered) =
                    (e.on_hand, e.reserved, e.available, e.backordered);
            }
            Event::StockReleased(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available, p.backordered) =
                    (e.on_hand, e.reserved, e.available, e.backordered);
            }
            Event::StockShipped(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available) = (e.on_hand, e.reserved, e.available);
            }
            Event::OrderPlaced(e) => {
                self.touched_orders.insert(e.order_id);
                self.orders.insert(
                    e.order_id,
                    OrderRow {
                        order_id: e.order_id,
                        customer_id: e.customer_id.clone(),
                        status: e.status.as_str().into(),
                        currency: e.currency.clone(),
                        total_cents: e.total_cents,
                        line_count: i32::try_from(e.lines.len()).unwrap_or(i32::MAX),
                        placed_at: at,
                        updated_at: at,
                        shipped_at: None,
                        cancelled_at: None,
                        carrier: None,
                        tracking_number: None,
                        version: envelope.stream_version,
                    },
                );
                let lines = e
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| LineRow {
                        order_id: e.order_id,
                        line_no: i32::try_from(i + 1).unwrap_or(i32::MAX),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                        reserved: l.reserved,
                        backordered: l.backordered,
                        unit_price_cents: l.unit_price_cents,
                    })
                    .collect();
                self.lines.insert(e.order_id, lines);
                let customer = self.customers.entry(e.customer_id.clone()).or_default();
                customer.orders += 1;
                customer.open += 1;
                customer.first = Some(customer.first.map_or(at, |f| f.min(at)));
                customer.last = Some(customer.last.map_or(at, |l| l.max(at)));
                self.count_sale(e.order_id, 1);
            }
            Event::OrderLineFilled(e) => {
                self.order(envelope, e.order_id)?;
                let line = self
                    .lines
                    .get_mut(&e.order_id)
                    .and_then(|lines| lines.iter_mut().find(|l| l.sku == e.sku))
                    .ok_or_else(|| {
                        Self::missing(envelope, format!("line {} of order {}", e.sku, e.order_id))
                    })?;
                (line.reserved, line.backordered) = (e.reserved, e.backordered);
            }
            Event::OrderReady(e) => {
                self.order(envelope, e.order_id)?.status = OrderStatus::Ready.as_str().into()
            }
            Event::OrderCancelled(e) => {
                let order = self.order(envelope, e.order_id)?;
                order.status = OrderStatus::Cancelled.as_str().into();
                order.cancelled_at = Some(at);
                let customer_id = order.customer_id.clone();
                self.customers.entry(customer_id).or_default().open -= 1;
                self.count_sale(e.order_id, -1);
            }
            Event::OrderShipped(e) => {
                let order = self.order(envelope, e.order_id)?;
                order.status = OrderStatus::Shipped.as_str().into();
                order.shipped_at = Some(at);
                order.carrier = Some(e.carrier.clone());
                order.tracking_number = Some(e.tracking_number.clone());
                let customer_id = order.customer_id.clone();
                self.customers.entry(customer_id).or_default().open -= 1;
            }
        }
        self.record_history(envelope);
        Ok(())
    }

    /// Received units fulfil the sku's open replenishment requests, oldest first.
    fn fulfil_replenishments(&mut self, sku: &str, quantity: i64) {
        let mut open: Vec<&mut ReplenishmentRow> = self
            .replenishments
            .values_mut()
            .filter(|r| r.sku == sku && r.status == "open")
            .collect();
        open.sort_by_key(|r| r.position);
        let mut left = quantity;
        for request in open {
            if left == 0 {
                break;
            }
            let taken = left.min(request.outstanding);
            request.outstanding -= taken;
            left -= taken;
            if request.outstanding == 0 {
                request.status = "fulfilled".into();
            }
            self.touched_replenishments
                .insert((request.sku.clone(), request.order_id));
        }
    }
}
