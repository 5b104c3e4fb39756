//! Event payloads. Field names are the contract: renaming one is a new type version.
//! Product events carry the product's resulting stock levels so subscribers need no call back.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a product does when an order asks for more than is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackorderPolicy {
    /// Refuse the whole order.
    #[default]
    Reject,
    /// Reserve what is there, backorder the rest and ask the supplier for more.
    Backorder,
}

/// Where an order stands: `ready` when every line is fully reserved, else `backordered`,
/// until it is `cancelled` or `shipped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Ready,
    Backordered,
    Cancelled,
    Shipped,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Ready => "ready",
            OrderStatus::Backordered => "backordered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Shipped => "shipped",
        }
    }
}

/// A product was registered, with its initial stock on hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductRegistered {
    pub sku: String,
    pub name: String,
    pub unit_price_cents: i64,
    pub currency: String,
    pub initial_stock: i64,
    pub backorder_policy: BackorderPolicy,
}

/// Units arrived. Levels are those right after the receipt, before it fills any backorder
/// (each fill follows as its own [`BackorderFilled`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockReceived {
    pub sku: String,
    pub quantity: i64,
    pub reference: Option<String>,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub backordered: i64,
}

/// A count correction: on hand changed by `delta` (signed); levels are those after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockAdjusted {
    pub sku: String,
    pub delta: i64,
    pub reason: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// The unit price of later orders changed; placed orders keep theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PriceChanged {
    pub sku: String,
    pub previous_unit_price_cents: i64,
    pub unit_price_cents: i64,
    pub currency: String,
}

/// Later orders for the product are refused; open orders are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductDiscontinued {
    pub sku: String,
}

/// Units of a product set aside for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockReserved {
    pub sku: String,
    pub order_id: Uuid,
    pub quantity: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// Units an order asked for that were not there; they wait, first in first out, for receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockBackordered {
    pub sku: String,
    pub order_id: Uuid,
    pub quantity: i64,
    /// The product's open backordered units after this one.
    pub backordered: i64,
}

/// A request to the supplier: the shortfall plus 20%, rounded up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReplenishmentRequested {
    pub sku: String,
    pub order_id: Uuid,
    pub shortfall: i64,
    pub quantity: i64,
}

/// Received units that went to an open backorder, now reserved for its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackorderFilled {
    pub sku: String,
    pub order_id: Uuid,
    pub quantity: i64,
    /// Units of this order's backorder still open after the fill.
    pub remaining: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub backordered: i64,
}

/// A cancelled order gave back its reserved units and withdrew its open backorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockReleased {
    pub sku: String,
    pub order_id: Uuid,
    pub released: i64,
    pub backorder_withdrawn: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub backordered: i64,
}

/// Reserved units that left the warehouse with a shipped order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockShipped {
    pub sku: String,
    pub order_id: Uuid,
    pub quantity: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// One line of a placed order: its units reserved and backordered, at the unit price of
/// placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlacedLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub reserved: i64,
    pub backordered: i64,
}

/// An order was placed, all its lines decided together; `total_cents` is the sum of quantity
/// times unit price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderPlaced {
    pub order_id: Uuid,
    pub customer_id: String,
    pub currency: String,
    pub total_cents: i64,
    pub status: OrderStatus,
    pub lines: Vec<PlacedLine>,
}

/// Backordered units of one line were filled by a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLineFilled {
    pub order_id: Uuid,
    pub sku: String,
    pub quantity: i64,
    /// The line's reserved and still backordered units after the fill.
    pub reserved: i64,
    pub backordered: i64,
}

/// Every line of the order is fully reserved: it can ship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderReady {
    pub order_id: Uuid,
}

/// What one line of a cancelled order gave back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CancelledLine {
    pub sku: String,
    pub released: i64,
    pub backorder_withdrawn: i64,
}

/// An order was cancelled: its reserved units are released and its open backorders withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub reason: Option<String>,
    pub lines: Vec<CancelledLine>,
}

/// Units of one sku that left with a shipped order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShippedLine {
    pub sku: String,
    pub quantity: i64,
}

/// An order left the warehouse with a carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderShipped {
    pub order_id: Uuid,
    pub carrier: String,
    pub tracking_number: String,
    pub lines: Vec<ShippedLine>,
}
