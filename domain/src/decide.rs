//! Deciding commands. A decision reads the aggregates it needs through [`Aggregates`], and
//! returns the events to append, each with its stream, in order; or a refusal. Decisions that
//! span streams (an order and its products) are atomic: all of their events or none.

use std::collections::{BTreeSet, HashMap};

use stockflow_events::{
    BackorderFilled, BackorderPolicy, CancelledLine, Event, OrderCancelled, OrderLineFilled,
    OrderPlaced, OrderReady, OrderShipped, OrderStatus, PlacedLine, PriceChanged,
    ProductDiscontinued, ProductRegistered, ReplenishmentRequested, ShippedLine, StockAdjusted,
    StockBackordered, StockReceived, StockReleased, StockReserved, StockShipped, order_stream,
    product_stream,
};
use uuid::Uuid;

use crate::{
    AdjustStock, CancelOrder, ChangePrice, Command, Discontinue, DomainError, Order, PlaceOrder,
    Product, ReceiveStock, RegisterProduct, ShipOrder, Shortage, replenishment_quantity,
};

/// Read access to the current state of aggregates, as loaded by the caller.
pub trait Aggregates {
    fn product(&self, sku: &str) -> Option<&Product>;
    fn order(&self, order_id: &Uuid) -> Option<&Order>;
}

/// One event to append to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub stream: String,
    pub event: Event,
}

/// The streams whose state `decide` will read for this command, given what is loaded so far.
/// Some depend on loaded state (a receipt reads the orders its backorders belong to), so the
/// caller loads, asks again, and stops once nothing new is named.
pub fn streams_needed(command: &Command, state: &impl Aggregates) -> Vec<String> {
    match command {
        Command::RegisterProduct(c) => vec![product_stream(c.sku.as_str())],
        Command::AdjustStock(AdjustStock { sku, .. })
        | Command::ChangePrice(ChangePrice { sku, .. })
        | Command::Discontinue(Discontinue { sku }) => vec![product_stream(sku.as_str())],
        Command::ReceiveStock(c) => {
            let mut streams = vec![product_stream(c.sku.as_str())];
            if let Some(product) = state.product(c.sku.as_str()) {
                let mut to_fill = c.quantity;
                for backorder in &product.backorders {
                    if to_fill <= 0 {
                        break;
                    }
                    to_fill -= backorder.quantity;
                    streams.push(order_stream(&backorder.order_id));
                }
            }
            streams
        }
        Command::PlaceOrder(c) => std::iter::once(order_stream(&c.order_id))
            .chain(c.lines.iter().map(|l| product_stream(l.sku.as_str())))
            .collect(),
        Command::CancelOrder(CancelOrder { order_id, .. })
        | Command::ShipOrder(ShipOrder { order_id, .. }) => {
            let mut streams = vec![order_stream(order_id)];
            if let Some(order) = state.order(order_id) {
                streams.extend(order.lines.iter().map(|l| product_stream(&l.sku)));
            }
            streams
        }
    }
}

/// Decides a command against the current state.
pub fn decide(command: &Command, state: &impl Aggregates) -> Result<Vec<Change>, DomainError> {
    let mut out = Decision::default();
    match command {
        Command::RegisterProduct(c) => register_product(c, state, &mut out)?,
        Command::ReceiveStock(c) => receive_stock(c, state, &mut out)?,
        Command::AdjustStock(c) => adjust_stock(c, state, &mut out)?,
        Command::ChangePrice(c) => change_price(c, state, &mut out)?,
        Command::Discontinue(c) => discontinue(c, state, &mut out)?,
        Command::PlaceOrder(c) => place_order(c, state, &mut out)?,
        Command::CancelOrder(c) => cancel_order(c, state, &mut out)?,
        Command::ShipOrder(c) => ship_order(c, state, &mut out)?,
    }
    Ok(out.changes)
}

/// The events decided so far, with working copies of the aggregates they changed, so that
/// each event can state the levels that result from it.
#[derive(Default)]
struct Decision {
    changes: Vec<Change>,
    products: HashMap<String, Product>,
    orders: HashMap<Uuid, Order>,
}

impl Decision {
    fn product<'a>(&'a self, sku: &str, state: &'a impl Aggregates) -> Option<&'a Product> {
        self.products.get(sku).or_else(|| state.product(sku))
    }

    fn order<'a>(&'a self, order_id: &Uuid, state: &'a impl Aggregates) -> Option<&'a Order> {
        self.orders.get(order_id).or_else(|| state.order(order_id))
    }

    /// Records an event of a product and applies it to the working copy.
    fn product_event(
        &mut self,
        sku: &str,
        state: &impl Aggregates,
        event: impl FnOnce(&Product) -> Event,
    ) {
        let mut product = self.product(sku, state).cloned();
        let event = match &product {
            Some(p) => event(p),
            None => return,
        };
        Product::apply(&mut product, &event);
        if let Some(product) = product {
            self.products.insert(sku.to_owned(), product);
        }
        self.changes.push(Change {
            stream: product_stream(sku),
            event,
        });
    }

    fn order_event(&mut self, order_id: Uuid, state: &impl Aggregates, event: Event) {
        let mut order = self.order(&order_id, state).cloned();
        Order::apply(&mut order, &event);
        if let Some(order) = order {
            self.orders.insert(order_id, order);
        }
        self.changes.push(Change {
            stream: order_stream(&order_id),
            event,
        });
    }
}

fn existing_product<'a>(sku: &str, state: &'a impl Aggregates) -> Result<&'a Product, DomainError> {
    state
        .product(sku)
        .ok_or_else(|| DomainError::ProductNotFound {
            sku: sku.to_owned(),
        })
}

fn existing_order<'a>(
    order_id: &Uuid,
    state: &'a impl Aggregates,
) -> Result<&'a Order, DomainError> {
    state.order(order_id).ok_or(DomainError::OrderNotFound {
        order_id: *order_id,
    })
}

/// A product's units on hand after `delta` more (or fewer); refused as an overflow past the
/// stock limit.
fn on_hand_after(product: &Product, delta: i64) -> Result<i64, DomainError> {
    product
        .on_hand
        .checked_add(delta)
        .filter(|n| *n <= i64::MAX / 2)
        .ok_or_else(|| DomainError::StockOverflow {
            sku: product.sku.clone(),
        })
}

fn register_product(
    c: &RegisterProduct,
    state: &impl Aggregates,
    out: &mut Decision,
) -> Result<(), DomainError> {
    if state.product(c.sku.as_str()).is_some() {
        return Err(DomainError::ProductExists {
            sku: c.sku.to_string(),
        });
    }
    let event = Event::from(ProductRegistered {
        sku: c.sku.to_string(),
        name: c.name.clone(),
        unit_price_cents: c.unit_price_cents,
        currency: c.currency.as_str().to_owned(),
        initial_stock: c.initial_stock,
        backorder_policy: c.backorder_policy,
    });
    let mut product = None;
    Product::apply(&mut product, &event);
    if let Some(product) = product {
        out.products.insert(c.sku.to_string(), product);
    }
    out.changes.push(Change {
        stream: product_stream(c.sku.as_str()),
        event,
    });
    Ok(())
}

fn receive_stock(
    c: &ReceiveStock,
    state: &impl Aggregates,
    out: &mut Decision,
) -> Result<(), DomainError> {
    let sku = c.sku.as_str();
    let product = existing_product(sku, state)?;
    let on_hand = on_hand_after(product, c.quantity)?;
    let backorders = product.backorders.clone();
    out.product_event(sku, state, |p| {
        StockReceived {
            sku: sku.to_owned(),
            quantity: c.quantity,
            reference: c.reference.clone(),
            on_hand,
            reserved: p.reserved,
            available: on_hand - p.reserved,
            backordered: p.backordered(),
        }
        .into()
    });

    // The received units fill open backorders, oldest first.
    let mut to_fill = c.quantity;
    for backorder in backorders {
        if to_fill == 0 {
            break;
        }
        let quantity = to_fill.min(backorder.quantity);
        to_fill -= quantity;
        let order_id = backorder.order_id;
        out.product_event(sku, state, |p| {
            BackorderFilled {
                sku: sku.to_owned(),
                order_id,
                quantity,
                remaining: backorder.quantity - quantity,
                on_hand: p.on_hand,
                reserved: p.reserved + quantity,
                available: p.available() - quantity,
                backordered: p.backordered() - quantity,
            }
            .into()
        });
        let Some(line) = out
            .order(&order_id, state)
            .and_then(|o| o.line(sku))
            .cloned()
        else {
            continue;
        };
        out.order_event(
            order_id,
            state,
            OrderLineFilled {
                order_id,
                sku: sku.to_owned(),
                quantity,
                reserved: line.reserved + quantity,
                backordered: line.backordered - quantity,
            }
            .into(),
        );
        let now_complete = out.order(&order_id, state).is_some_and(|o| {
            o.status == OrderStatus::Backordered && o.lines.iter().all(|l| l.backordered == 0)
        });
        if now_complete {
            out.order_event(order_id, state, OrderReady { order_id }.into());
        }
    }
    Ok(())
}

fn adjust_stock(
    c: &AdjustStock,
    state: &impl Aggregates,
    out: &mut Decision,
) -> Result<(), DomainError> {
    let sku = c.sku.as_str();
    let product = existing_product(sku, state)?;
    let on_hand = on_hand_after(product, c.delta)?;
    if on_hand < product.reserved {
        return Err(DomainError::AdjustmentBelowReserved {
            on_hand: product.on_hand,
            reserved: product.reserved,
            delta: c.delta,
        });
    }
    out.product_event(sku, state, |p| {
        StockAdjusted {
            sku: sku.to_owned(),
            delta: c.delta,
            reason: c.reason.clone(),
            on_hand,
            reserved: p.reserved,
            available: on_hand - p.reserved,
        }
        .into()
    });
    Ok(())
}

fn change_price(
    c: &ChangePrice,
    state: &impl Aggregates,
    out: &mut Decision,
) -> Result<(), DomainError> {
    let sku = c.sku.as_str();
    existing_product(sku, state)?;
    out.product_event(sku, state, |p| {
        PriceChanged {
            sku: sku.to_owned(),
            previous_unit_price_cents: p.unit_price_cents,
            unit_price_cents: c.unit_price_cents,
            currency: p.currency.clone(),
        }
        .into()
    });
    Ok(())
}

fn discontinue(
    c: &Discontinue,
    state: &impl Aggregates,
    out: &mut Decision,
) -> Result<(), DomainError> {
    let sku = c.sku.as_str();
    if existing_product(sku, state)?.discontinued {
        return Err(DomainError::AlreadyDiscontinued {
            sku: sku.to_owned(),
        });
    }
    out.product_event(sku, state, |_| {
        ProductDiscontinued {
            sku: sku.to_owned(),
        }
        .into()
    });
    Ok(())
}

fn place_order(
    c: &PlaceOrder,
    state: &impl Aggregates,
    out: &mut Decision,
) -> Result<(), DomainError> {
    if state.order(&c.order_id).is_some() {
        return Err(DomainError::OrderExists {
            order_id: c.order_id,
        });
    }
    let lookup: Vec<(&crate::LineRequest, Option<&Product>)> = c
        .lines
        .iter()
        .map(|l| (l, state.product(l.sku.as_str())))
        .collect();

    let unknown: Vec<String> = lookup
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(l, _)| l.sku.to_string())
        .collect();
    if !unknown.is_empty() {
        return Err(DomainError::UnknownProduct { skus: unknown });
    }
    let lines: Vec<(&crate::LineRequest, &Product)> = lookup
        .into_iter()
        .filter_map(|(l, p)| p.map(|p| (l, p)))
        .collect();

    let discontinued: Vec<String> = lines
        .iter()
        .filter(|(_, p)| p.discontinued)
        .map(|(l, _)| l.sku.to_string())
        .collect();
    if !discontinued.is_empty() {
        return Err(DomainError::ProductDiscontinued { skus: discontinued });
    }
    let currencies: BTreeSet<&str> = lines.iter().map(|(_, p)| p.currency.as_str()).collect();
    if currencies.len() > 1 {
        return Err(DomainError::CurrencyMismatch {
            currencies: currencies.into_iter().map(str::to_owned).collect(),
        });
    }
    let shortages: Vec<Shortage> = lines
        .iter()
        .filter(|(l, p)| {
            l.quantity > p.available() && p.backorder_policy == BackorderPolicy::Reject
        })
        .map(|(l, p)| Shortage {
            sku: l.sku.to_string(),
            requested: l.quantity,
            available: p.available(),
        })
        .collect();
    if !shortages.is_empty() {
        return Err(DomainError::InsufficientStock { lines: shortages });
    }

    let placed: Vec<PlacedLine> = lines
        .iter()
        .map(|(l, p)| {
            let reserved = l.quantity.min(p.available());
            PlacedLine {
                sku: l.sku.to_string(),
                quantity: l.quantity,
                unit_price_cents: p.unit_price_cents,
                reserved,
                backordered: l.quantity - reserved,
            }
        })
        .collect();
    let total_cents = placed.iter().map(|l| l.quantity * l.unit_price_cents).sum();
    let status = if placed.iter().all(|l| l.backordered == 0) {
        OrderStatus::Ready
    } else {
        OrderStatus::Backordered
    };
    let currency = lines
        .first()
        .map(|(_, p)| p.currency.clone())
        .unwrap_or_default();
    let order_id = c.order_id;
    out.order_event(
        order_id,
        state,
        OrderPlaced {
            order_id,
            customer_id: c.customer_id.clone(),
            currency,
            total_cents,
            status,
            lines: placed.clone(),
        }
        .into(),
    );

    for line in placed {
        let sku = line.sku.as_str();
        if line.reserved > 0 {
            out.product_event(sku, state, |p| {
                StockReserved {
                    sku: sku.to_owned(),
                    order_id,
                    quantity: line.reserved,
                    on_hand: p.on_hand,
                    reserved: p.reserved + line.reserved,
                    available: p.available() - line.reserved,
                }
                .into()
            });
        }
        if line.backordered > 0 {
            out.product_event(sku, state, |p| {
                StockBackordered {
                    sku: sku.to_owned(),
                    order_id,
                    quantity: line.backordered,
                    backordered: p.backordered() + line.backordered,
                }
                .into()
            });
            out.product_event(sku, state, |_| {
                ReplenishmentRequested {
                    sku: sku.to_owned(),
                    order_id,
                    shortfall: line.backordered,
                    quantity: replenishment_quantity(line.backordered),
                }
                .into()
            });
        }
    }
    Ok(())
}

fn cancel_order(
    c: &CancelOrder,
    state: &impl Aggregates,
    out: &mut Decision,
) -> Result<(), DomainError> {
    let order = existing_order(&c.order_id, state)?;
    if !order.is_open() {
        return Err(DomainError::OrderNotCancellable {
            order_id: c.order_id,
            status: order.status.as_str(),
        });
    }
    let order_id = c.order_id;
    let lines = order.lines.clone();
    out.order_event(
        order_id,
        state,
        OrderCancelled {
            order_id,
            reason: c.reason.clone(),
            lines: lines
                .iter()
                .map(|l| CancelledLine {
                    sku: l.sku.clone(),
                    released: l.reserved,
                    backorder_withdrawn: l.backordered,
                })
                .collect(),
        }
        .into(),
    );
    for line in lines {
        out.product_event(&line.sku, state, |p| {
            StockReleased {
                sku: line.sku.clone(),
                order_id,
                released: line.reserved,
                backorder_withdrawn: line.backordered,
                on_hand: p.on_hand,
                reserved: p.reserved - line.reserved,
                available: p.available() + line.reserved,
                backordered: p.backordered() - line.backordered,
            }
            .into()
        });
    }
    Ok(())
}

fn ship_order(
    c: &ShipOrder,
    state: &impl Aggregates,
    out: &mut Decision,
) -> Result<(), DomainError> {
    let order = existing_order(&c.order_id, state)?;
    let order_id = c.order_id;
    match order.status {
        OrderStatus::Ready => {}
        OrderStatus::Backordered => return Err(DomainError::OrderNotReady { order_id }),
        OrderStatus::Cancelled => return Err(DomainError::OrderCancelled { order_id }),
        OrderStatus::Shipped => return Err(DomainError::OrderAlreadyShipped { order_id }),
    }
    let lines = order.lines.clone();
    out.order_event(
        order_id,
        state,
        OrderShipped {
            order_id,
            carrier: c.carrier.clone(),
            tracking_number: c.tracking_number.clone(),
            lines: lines
                .iter()
                .map(|l| ShippedLine {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
        }
        .into(),
    );
    for line in lines {
        out.product_event(&line.sku, state, |p| {
            StockShipped {
                sku: line.sku.clone(),
                order_id,
                quantity: line.quantity,
                on_hand: p.on_hand - line.quantity,
                reserved: p.reserved - line.quantity,
                available: p.available(),
            }
            .into()
        });
    }
    Ok(())
}
