//! Given / when / then tests of the pure apply, event by event: given the rows a batch holds
//! (as loaded from the read models, or made by earlier events of the batch), when an event,
//! then the rows the batch writes back, and the changes it adds to the customers' and the
//! sales' counters. No database: loading and writing are the `load` and `write` modules'.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use stockflow_events::{
    BackorderFilled, BackorderPolicy, CancelledLine, Envelope, Event, Metadata, OrderCancelled,
    OrderLineFilled, OrderPlaced, OrderReady, OrderShipped, OrderStatus, PlacedLine, PriceChanged,
    ProductDiscontinued, ProductRegistered, ReplenishmentRequested, ShippedLine, StockAdjusted,
    StockBackordered, StockReceived, StockReleased, StockReserved, StockShipped,
};
use uuid::Uuid;

use super::ApplyError;
use super::rows::{
    CustomerDelta, LineRow, OrderRow, ProductRow, ReplenishmentRow, SalesDelta, Working,
};

mod history;
mod orders;
mod products;

const SKU: &str = "SKU-1";
const OTHER_SKU: &str = "SKU-2";
const CUSTOMER: &str = "C-42";
/// The version of its stream every event under test makes; given rows are one behind.
const VERSION: i64 = 7;

/// When the given rows were last written: the day before the events under test.
fn before() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 13, 18, 30, 0).unwrap()
}

/// When the events under test are recorded (each a minute after the one before).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    now().date_naive()
}

fn order_id() -> Uuid {
    Uuid::from_u128(0x42)
}

fn other_order_id() -> Uuid {
    Uuid::from_u128(0x43)
}

// ---------------------------------------------------------------------------------------------
// The harness.
// ---------------------------------------------------------------------------------------------

/// A batch's working set with the rows it loaded.
struct Batch {
    work: Working,
    position: i64,
    at: DateTime<Utc>,
}

fn given() -> Batch {
    Batch {
        work: Working::default(),
        position: 1_000,
        at: now(),
    }
}

impl Batch {
    /// A product row as loaded.
    fn product(mut self, row: ProductRow) -> Batch {
        self.work.products.insert(row.sku.clone(), row);
        self
    }

    /// An order row and its lines as loaded.
    fn order(mut self, row: OrderRow, lines: Vec<LineRow>) -> Batch {
        self.work.lines.insert(row.order_id, lines);
        self.work.orders.insert(row.order_id, row);
        self
    }

    /// An open replenishment request as loaded.
    fn replenishment(mut self, row: ReplenishmentRow) -> Batch {
        self.work
            .replenishments
            .insert((row.sku.clone(), row.order_id), row);
        self
    }

    /// Applies an event as version [`VERSION`] of its stream, at the batch's next position,
    /// recorded a minute after the event before it (the first at [`now`]). It must apply.
    #[track_caller]
    fn when(mut self, event: impl Into<Event>) -> Batch {
        let envelope = self.envelope(event.into());
        if let Err(e) = self.work.apply(&envelope) {
            panic!("expected {:?} to apply, got {e}", envelope.event);
        }
        self
    }

    /// Applies an event that must not apply: the error, and the batch as the event left it.
    #[track_caller]
    fn when_refused(mut self, event: impl Into<Event>) -> (Batch, ApplyError) {
        let envelope = self.envelope(event.into());
        match self.work.apply(&envelope) {
            Ok(()) => panic!("{:?} applied, but it must not", envelope.event),
            Err(e) => (self, e),
        }
    }

    fn envelope(&mut self, event: Event) -> Envelope {
        self.position += 1;
        let recorded_at = self.at;
        self.at += chrono::Duration::minutes(1);
        Envelope {
            id: Uuid::from_u128(self.position as u128),
            // Apply reads the version and time of an event's stream, never its id (which only
            // says what to load).
            stream_id: "unused".into(),
            stream_version: VERSION,
            position: self.position,
            recorded_at,
            metadata: Metadata::default(),
            event,
        }
    }

    /// The product row the batch writes back for `sku`.
    #[track_caller]
    fn written_product(&self, sku: &str) -> ProductRow {
        assert!(
            self.work.touched_products.contains(sku),
            "product {sku} is not written"
        );
        self.work.products[sku].clone()
    }

    /// The order row and lines the batch writes back for `order_id`.
    #[track_caller]
    fn written_order(&self, order_id: Uuid) -> (OrderRow, Vec<LineRow>) {
        assert!(
            self.work.touched_orders.contains(&order_id),
            "order {order_id} is not written"
        );
        (
            self.work.orders[&order_id].clone(),
            self.work.lines.get(&order_id).cloned().unwrap_or_default(),
        )
    }

    /// Every replenishment row the batch writes back, by sku and order.
    fn written_replenishments(&self) -> BTreeMap<(String, Uuid), ReplenishmentRow> {
        self.work
            .touched_replenishments
            .iter()
            .map(|key| (key.clone(), self.work.replenishments[key].clone()))
            .collect()
    }

    /// What the batch adds to each customer's counters.
    fn customers(&self) -> BTreeMap<String, CustomerDelta> {
        sorted(&self.work.customers)
    }

    /// What the batch adds to each customer's lifetime value, by customer and currency.
    fn lifetime_values(&self) -> BTreeMap<(String, String), i64> {
        sorted(&self.work.lifetime_values)
    }

    /// What the batch adds to the sales of each day and currency.
    fn daily(&self) -> BTreeMap<(NaiveDate, String), SalesDelta> {
        sorted(&self.work.daily)
    }

    /// What the batch adds to the sales of each day, sku and currency.
    fn daily_sku(&self) -> BTreeMap<(NaiveDate, String, String), SalesDelta> {
        sorted(&self.work.daily_sku)
    }

    /// Nothing is written to the customers' or the sales' counters.
    #[track_caller]
    fn assert_no_sales_or_customers(&self) {
        assert_eq!(self.customers(), BTreeMap::new());
        assert_eq!(self.lifetime_values(), BTreeMap::new());
        assert_eq!(self.daily(), BTreeMap::new());
        assert_eq!(self.daily_sku(), BTreeMap::new());
    }
}

fn sorted<K: Ord + Clone, V: Clone>(map: &HashMap<K, V>) -> BTreeMap<K, V> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn sales(orders: i64, units: i64, revenue: i64) -> SalesDelta {
    SalesDelta {
        orders,
        units,
        revenue,
    }
}

/// A product as the read model holds it: 10 on hand, 2 of them reserved.
fn widget() -> ProductRow {
    ProductRow {
        sku: SKU.into(),
        name: "Widget".into(),
        unit_price_cents: 1_250,
        currency: "EUR".into(),
        backorder_policy: "backorder".into(),
        status: "active".into(),
        on_hand: 10,
        reserved: 2,
        available: 8,
        backordered: 0,
        version: VERSION - 1,
        updated_at: before(),
    }
}

/// A ready order of 2 × SKU-1 at 1,250 and 1 × SKU-2 at 500, placed the day before.
fn placed_order() -> (OrderRow, Vec<LineRow>) {
    let order = OrderRow {
        order_id: order_id(),
        customer_id: CUSTOMER.into(),
        status: "ready".into(),
        currency: "EUR".into(),
        total_cents: 3_000,
        line_count: 2,
        placed_at: before(),
        updated_at: before(),
        shipped_at: None,
        cancelled_at: None,
        carrier: None,
        tracking_number: None,
        version: VERSION - 1,
    };
    let line = |line_no, sku: &str, quantity, unit_price_cents| LineRow {
        order_id: order_id(),
        line_no,
        sku: sku.into(),
        quantity,
        reserved: quantity,
        backordered: 0,
        unit_price_cents,
    };
    (
        order,
        vec![line(1, SKU, 2, 1_250), line(2, OTHER_SKU, 1, 500)],
    )
}

fn open_request(order_id: Uuid, outstanding: i64, position: i64) -> ReplenishmentRow {
    ReplenishmentRow {
        sku: SKU.into(),
        order_id,
        quantity: 6,
        outstanding,
        status: "open".into(),
        requested_at: before(),
        position,
    }
}

fn place(order_id: Uuid, customer: &str, status: OrderStatus) -> OrderPlaced {
    OrderPlaced {
        order_id,
        customer_id: customer.into(),
        currency: "EUR".into(),
        total_cents: 3_000,
        status,
        lines: vec![
            PlacedLine {
                sku: SKU.into(),
                quantity: 2,
                unit_price_cents: 1_250,
                reserved: 2,
                backordered: 0,
            },
            PlacedLine {
                sku: OTHER_SKU.into(),
                quantity: 1,
                unit_price_cents: 500,
                reserved: 0,
                backordered: 1,
            },
        ],
    }
}

fn receive(quantity: i64) -> StockReceived {
    StockReceived {
        sku: SKU.into(),
        quantity,
        reference: Some("PO-7".into()),
        on_hand: 10 + quantity,
        reserved: 2,
        available: 8 + quantity,
        backordered: 0,
    }
}
