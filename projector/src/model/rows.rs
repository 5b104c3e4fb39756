//! The read models' rows as a batch holds them: loaded, changed by the batch's events, and
//! written back. Counters kept by summing (customers, lifetime values, sales) are held as
//! changes to add to the stored values, never loaded. The loaded rows are filled by
//! `query_as!` (see `load`): their fields' types and nullability are those of the columns.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// A row of `products`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProductRow {
    pub(super) sku: String,
    pub(super) name: String,
    pub(super) unit_price_cents: i64,
    pub(super) currency: String,
    pub(super) backorder_policy: String,
    pub(super) status: String,
    pub(super) on_hand: i64,
    pub(super) reserved: i64,
    pub(super) available: i64,
    pub(super) backordered: i64,
    pub(super) version: i64,
    pub(super) updated_at: DateTime<Utc>,
}

/// A row of `orders`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OrderRow {
    pub(super) order_id: Uuid,
    pub(super) customer_id: String,
    pub(super) status: String,
    pub(super) currency: String,
    pub(super) total_cents: i64,
    pub(super) line_count: i32,
    pub(super) placed_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) shipped_at: Option<DateTime<Utc>>,
    pub(super) cancelled_at: Option<DateTime<Utc>>,
    pub(super) carrier: Option<String>,
    pub(super) tracking_number: Option<String>,
    pub(super) version: i64,
}

/// A row of `order_lines`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LineRow {
    pub(super) order_id: Uuid,
    pub(super) line_no: i32,
    pub(super) sku: String,
    pub(super) quantity: i64,
    pub(super) reserved: i64,
    pub(super) backordered: i64,
    pub(super) unit_price_cents: i64,
}

/// A row of `replenishments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReplenishmentRow {
    pub(super) sku: String,
    pub(super) order_id: Uuid,
    pub(super) quantity: i64,
    pub(super) outstanding: i64,
    pub(super) status: String,
    pub(super) requested_at: DateTime<Utc>,
    pub(super) position: i64,
}

/// A row of `stock_movements`: one event that changed a product's stock, with the levels
/// after it. Append-only: written once, never loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MovementRow {
    pub(super) sku: String,
    pub(super) position: i64,
    pub(super) at: DateTime<Utc>,
    /// The event's routing key, e.g. `product.stock_received`.
    pub(super) event: String,
    pub(super) on_hand_change: i64,
    pub(super) reserved_change: i64,
    pub(super) on_hand: i64,
    pub(super) reserved: i64,
    pub(super) available: i64,
    pub(super) order_id: Option<Uuid>,
    pub(super) reference: Option<String>,
    pub(super) reason: Option<String>,
}

/// A row of `product_prices`: the price a product took at an event. Append-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PriceRow {
    pub(super) sku: String,
    pub(super) position: i64,
    pub(super) at: DateTime<Utc>,
    pub(super) unit_price_cents: i64,
}

/// Changes to a customer's counters, added to the stored ones.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct CustomerDelta {
    pub(super) orders: i64,
    pub(super) open: i64,
    pub(super) first: Option<DateTime<Utc>>,
    pub(super) last: Option<DateTime<Utc>>,
}

/// Changes to a day's sales, added to the stored ones.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct SalesDelta {
    pub(super) orders: i64,
    pub(super) units: i64,
    pub(super) revenue: i64,
}

impl SalesDelta {
    /// Adds (sign 1) or withdraws (sign -1) one order of `units` worth `revenue`.
    pub(super) fn add(&mut self, sign: i64, units: i64, revenue: i64) {
        self.orders += sign;
        self.units += sign * units;
        self.revenue += sign * revenue;
    }
}

/// One batch's working set: the rows its events touch, and which of them changed.
#[derive(Debug, Default)]
pub(super) struct Working {
    pub(super) products: HashMap<String, ProductRow>,
    pub(super) orders: HashMap<Uuid, OrderRow>,
    pub(super) lines: HashMap<Uuid, Vec<LineRow>>,
    pub(super) replenishments: HashMap<(String, Uuid), ReplenishmentRow>,
    pub(super) customers: HashMap<String, CustomerDelta>,
    /// By customer and currency.
    pub(super) lifetime_values: HashMap<(String, String), i64>,
    /// By day and currency.
    pub(super) daily: HashMap<(NaiveDate, String), SalesDelta>,
    /// By day, sku and currency.
    pub(super) daily_sku: HashMap<(NaiveDate, String, String), SalesDelta>,
    pub(super) touched_products: HashSet<String>,
    /// An order touched is written with all its lines.
    pub(super) touched_orders: HashSet<Uuid>,
    pub(super) touched_replenishments: HashSet<(String, Uuid)>,
    /// History rows the batch adds, in position order.
    pub(super) movements: Vec<MovementRow>,
    pub(super) prices: Vec<PriceRow>,
    /// The reasons of cancelled orders whose releases the batch records: from a cancellation
    /// earlier in the batch, or loaded from the store when the batch starts between the two.
    pub(super) cancellations: HashMap<Uuid, Option<String>>,
}
