//! Commands, already validated for shape and range: what a client asked for, in domain terms.

use stockflow_events::BackorderPolicy;
use uuid::Uuid;

use crate::values::{Currency, Sku};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterProduct {
    pub sku: Sku,
    pub name: String,
    pub unit_price_cents: i64,
    pub currency: Currency,
    pub initial_stock: i64,
    pub backorder_policy: BackorderPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveStock {
    pub sku: Sku,
    pub quantity: i64,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustStock {
    pub sku: Sku,
    pub delta: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePrice {
    pub sku: Sku,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discontinue {
    pub sku: Sku,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    pub sku: Sku,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub order_id: Uuid,
    pub customer_id: String,
    /// 1–100 lines, no sku twice.
    pub lines: Vec<LineRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOrder {
    pub order_id: Uuid,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipOrder {
    pub order_id: Uuid,
    pub carrier: String,
    pub tracking_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    RegisterProduct(RegisterProduct),
    ReceiveStock(ReceiveStock),
    AdjustStock(AdjustStock),
    ChangePrice(ChangePrice),
    Discontinue(Discontinue),
    PlaceOrder(PlaceOrder),
    CancelOrder(CancelOrder),
    ShipOrder(ShipOrder),
}

impl Command {
    /// The stream of the aggregate the command is addressed to: the one whose version is
    /// reported back and checked by `If-Match`.
    pub fn target_stream(&self) -> String {
        use stockflow_events::{order_stream, product_stream};
        match self {
            Command::RegisterProduct(c) => product_stream(c.sku.as_str()),
            Command::ReceiveStock(c) => product_stream(c.sku.as_str()),
            Command::AdjustStock(c) => product_stream(c.sku.as_str()),
            Command::ChangePrice(c) => product_stream(c.sku.as_str()),
            Command::Discontinue(c) => product_stream(c.sku.as_str()),
            Command::PlaceOrder(c) => order_stream(&c.order_id),
            Command::CancelOrder(c) => order_stream(&c.order_id),
            Command::ShipOrder(c) => order_stream(&c.order_id),
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::RegisterProduct(_) => "register_product",
            Command::ReceiveStock(_) => "receive_stock",
            Command::AdjustStock(_) => "adjust_stock",
            Command::ChangePrice(_) => "change_price",
            Command::Discontinue(_) => "discontinue",
            Command::PlaceOrder(_) => "place_order",
            Command::CancelOrder(_) => "cancel_order",
            Command::ShipOrder(_) => "ship_order",
        }
    }
}
