//! The history read models, pure: every event that changes a product's stock adds a movement
//! row (what changed, and the levels after it), every price a product takes adds a price row.
//! Rows are only ever appended; docs/analysts.md says which events make them and why.

use stockflow_events::{Envelope, Event};
use uuid::Uuid;

use super::rows::{MovementRow, PriceRow, Working};

/// What one event did to a product's stock.
struct Movement<'e> {
    sku: &'e str,
    on_hand_change: i64,
    reserved_change: i64,
    /// The levels after the event, as the event states them.
    on_hand: i64,
    reserved: i64,
    available: i64,
    order_id: Option<Uuid>,
    reference: Option<&'e str>,
    reason: Option<String>,
}

impl<'e> Movement<'e> {
    /// A movement with no order, reference or reason.
    fn new(sku: &'e str, changes: (i64, i64), levels: (i64, i64, i64)) -> Movement<'e> {
        let (on_hand_change, reserved_change) = changes;
        let (on_hand, reserved, available) = levels;
        Movement {
            sku,
            on_hand_change,
            reserved_change,
            on_hand,
            reserved,
            available,
            order_id: None,
            reference: None,
            reason: None,
        }
    }
}

impl Working {
    /// Adds the history rows of an event already applied to the other read models. Changes
    /// are the event's own quantities, levels its stated ones, so the changes of a product's
    /// rows add up to its levels.
    pub(super) fn record_history(&mut self, envelope: &Envelope) {
        if let Some(price) = price(envelope) {
            self.prices.push(price);
        }
        if let Event::OrderCancelled(e) = &envelope.event {
            self.cancellations.insert(e.order_id, e.reason.clone());
        }
        let Some(movement) = self.movement(&envelope.event) else {
            return;
        };
        self.movements.push(MovementRow {
            sku: movement.sku.to_owned(),
            position: envelope.position,
            at: envelope.recorded_at,
            event: envelope.event.event_type(),
            on_hand_change: movement.on_hand_change,
            reserved_change: movement.reserved_change,
            on_hand: movement.on_hand,
            reserved: movement.reserved,
            available: movement.available,
            order_id: movement.order_id,
            reference: movement.reference.map(str::to_owned),
            reason: movement.reason,
        });
    }

    /// The stock movement an event is, if it is one. A discontinuation, a price change, a
    /// backorder and a replenishment request leave on hand and reserved as they were.
    fn movement<'e>(&self, event: &'e Event) -> Option<Movement<'e>> {
        Some(match event {
            // A first row for every product, even one registered with nothing in stock.
            Event::ProductRegistered(e) => {
                let levels = (e.initial_stock, 0, e.initial_stock);
                Movement::new(&e.sku, (e.initial_stock, 0), levels)
            }
            Event::StockReceived(e) => Movement {
                reference: e.reference.as_deref(),
                ..Movement::new(
                    &e.sku,
                    (e.quantity, 0),
                    (e.on_hand, e.reserved, e.available),
                )
            },
            Event::StockAdjusted(e) => Movement {
                reason: Some(e.reason.clone()),
                ..Movement::new(&e.sku, (e.delta, 0), (e.on_hand, e.reserved, e.available))
            },
            Event::StockReserved(e) => Movement {
                order_id: Some(e.order_id),
                ..Movement::new(
                    &e.sku,
                    (0, e.quantity),
                    (e.on_hand, e.reserved, e.available),
                )
            },
            Event::BackorderFilled(e) => Movement {
                order_id: Some(e.order_id),
                ..Movement::new(
                    &e.sku,
                    (0, e.quantity),
                    (e.on_hand, e.reserved, e.available),
                )
            },
            // Also when nothing was reserved (a line wholly backordered): the row says the
            // order that waited for this product was cancelled.
            Event::StockReleased(e) => Movement {
                order_id: Some(e.order_id),
                reason: self.cancellations.get(&e.order_id).cloned().flatten(),
                ..Movement::new(
                    &e.sku,
                    (0, -e.released),
                    (e.on_hand, e.reserved, e.available),
                )
            },
            Event::StockShipped(e) => Movement {
                order_id: Some(e.order_id),
                ..Movement::new(
                    &e.sku,
                    (-e.quantity, -e.quantity),
                    (e.on_hand, e.reserved, e.available),
                )
            },
            _ => return None,
        })
    }
}

/// The price row of an event that sets a product's price.
fn price(envelope: &Envelope) -> Option<PriceRow> {
    let (sku, unit_price_cents) = match &envelope.event {
        Event::ProductRegistered(e) => (&e.sku, e.unit_price_cents),
        Event::PriceChanged(e) => (&e.sku, e.unit_price_cents),
        _ => return None,
    };
    Some(PriceRow {
        sku: sku.clone(),
        position: envelope.position,
        at: envelope.recorded_at,
        unit_price_cents,
    })
}
