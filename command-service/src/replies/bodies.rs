//! The success bodies of the command API, built from a decision and the state it left. The
//! same types are serialized to clients and described in the OpenAPI document.

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use stockflow_domain::{Aggregates, Change, Command};
use stockflow_events::Event;
use utoipa::ToSchema;
use uuid::Uuid;

/// 201 of POST /v1/products.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProductRegistered {
    sku: String,
    /// Version of the product's stream after the command.
    version: i64,
    /// Global position of the last event written: pass it as `min_position` to the query API.
    position: i64,
}

/// A backordered order line that a receipt filled.
#[derive(Serialize, ToSchema)]
pub(crate) struct BackorderFill {
    order_id: Uuid,
    quantity: i64,
}

/// 200 of POST /v1/products/{sku}/receipts.
#[derive(Serialize, ToSchema)]
pub(crate) struct StockReceived {
    sku: String,
    on_hand: i64,
    reserved: i64,
    available: i64,
    backordered: i64,
    /// Backorders filled by this receipt, oldest first.
    filled: Vec<BackorderFill>,
    /// Orders that this receipt left with nothing backordered.
    orders_ready: Vec<Uuid>,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/products/{sku}/adjustments.
#[derive(Serialize, ToSchema)]
pub(crate) struct StockAdjusted {
    sku: String,
    on_hand: i64,
    reserved: i64,
    available: i64,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/products/{sku}/price.
#[derive(Serialize, ToSchema)]
pub(crate) struct PriceChanged {
    sku: String,
    unit_price_cents: i64,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/products/{sku}/discontinue.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProductDiscontinued {
    sku: String,
    #[schema(inline)]
    status: DiscontinuedStatus,
    version: i64,
    position: i64,
}

/// The status of an order.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OrderStatus {
    Ready,
    Backordered,
    Cancelled,
    Shipped,
}

impl From<stockflow_events::OrderStatus> for OrderStatus {
    fn from(status: stockflow_events::OrderStatus) -> OrderStatus {
        match status {
            stockflow_events::OrderStatus::Ready => OrderStatus::Ready,
            stockflow_events::OrderStatus::Backordered => OrderStatus::Backordered,
            stockflow_events::OrderStatus::Cancelled => OrderStatus::Cancelled,
            stockflow_events::OrderStatus::Shipped => OrderStatus::Shipped,
        }
    }
}

/// A line of a placed order.
#[derive(Serialize, ToSchema)]
pub(crate) struct PlacedLine {
    sku: String,
    quantity: i64,
    /// Units taken from stock.
    reserved: i64,
    /// Units waiting for a receipt.
    backordered: i64,
    unit_price_cents: i64,
}

/// Stock requested from suppliers for a backordered line.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReplenishmentRequest {
    sku: String,
    quantity: i64,
}

/// 201 of POST /v1/orders.
#[derive(Serialize, ToSchema)]
pub(crate) struct OrderPlaced {
    order_id: Uuid,
    /// `ready` or `backordered`.
    status: OrderStatus,
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
    total_cents: i64,
    lines: Vec<PlacedLine>,
    replenishments: Vec<ReplenishmentRequest>,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/orders/{order_id}/cancel.
#[derive(Serialize, ToSchema)]
pub(crate) struct OrderCancelled {
    order_id: Uuid,
    #[schema(inline)]
    status: CancelledStatus,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/orders/{order_id}/ship.
#[derive(Serialize, ToSchema)]
pub(crate) struct OrderShipped {
    order_id: Uuid,
    #[schema(inline)]
    status: ShippedStatus,
    version: i64,
    position: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DiscontinuedStatus {
    Discontinued,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CancelledStatus {
    Cancelled,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ShippedStatus {
    Shipped,
}

/// The position every body carries until the append tells the real one (see
/// [`super::render`]).
const POSITION_UNKNOWN: i64 = 0;

/// The body of a successful command, its `position` still to be set, and its status.
/// `version` is the target aggregate's version after the command; `state` the aggregates as
/// the command left them.
pub(crate) fn success(
    command: &Command,
    changes: &[Change],
    state: &impl Aggregates,
    version: i64,
) -> (u16, Value) {
    let position = POSITION_UNKNOWN;
    let (status, body) = match command {
        Command::RegisterProduct(c) => (
            StatusCode::CREATED,
            to_value(ProductRegistered {
                sku: c.sku.to_string(),
                version,
                position,
            }),
        ),
        Command::ReceiveStock(c) => {
            let levels = Levels::of(state, c.sku.as_str());
            let filled = changes
                .iter()
                .filter_map(|ch| match &ch.event {
                    Event::BackorderFilled(e) => Some(BackorderFill {
                        order_id: e.order_id,
                        quantity: e.quantity,
                    }),
                    _ => None,
                })
                .collect();
            let orders_ready = changes
                .iter()
                .filter_map(|ch| match &ch.event {
                    Event::OrderReady(e) => Some(e.order_id),
                    _ => None,
                })
                .collect();
            (
                StatusCode::OK,
                to_value(StockReceived {
                    sku: c.sku.to_string(),
                    on_hand: levels.on_hand,
                    reserved: levels.reserved,
                    available: levels.available,
                    backordered: levels.backordered,
                    filled,
                    orders_ready,
                    version,
                    position,
                }),
            )
        }
        Command::AdjustStock(c) => {
            let levels = Levels::of(state, c.sku.as_str());
            (
                StatusCode::OK,
                to_value(StockAdjusted {
                    sku: c.sku.to_string(),
                    on_hand: levels.on_hand,
                    reserved: levels.reserved,
                    available: levels.available,
                    version,
                    position,
                }),
            )
        }
        Command::ChangePrice(c) => (
            StatusCode::OK,
            to_value(PriceChanged {
                sku: c.sku.to_string(),
                unit_price_cents: c.unit_price_cents,
                version,
                position,
            }),
        ),
        Command::Discontinue(c) => (
            StatusCode::OK,
            to_value(ProductDiscontinued {
                sku: c.sku.to_string(),
                status: DiscontinuedStatus::Discontinued,
                version,
                position,
            }),
        ),
        Command::PlaceOrder(c) => {
            // A placed order exists in the state it left; the fallbacks are never taken.
            let order = state.order(&c.order_id);
            let lines = order
                .map(|o| {
                    o.lines
                        .iter()
                        .map(|l| PlacedLine {
                            sku: l.sku.clone(),
                            quantity: l.quantity,
                            reserved: l.reserved,
                            backordered: l.backordered,
                            unit_price_cents: l.unit_price_cents,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let replenishments = changes
                .iter()
                .filter_map(|ch| match &ch.event {
                    Event::ReplenishmentRequested(e) => Some(ReplenishmentRequest {
                        sku: e.sku.clone(),
                        quantity: e.quantity,
                    }),
                    _ => None,
                })
                .collect();
            (
                StatusCode::CREATED,
                to_value(OrderPlaced {
                    order_id: c.order_id,
                    status: order.map_or(OrderStatus::Ready, |o| o.status.into()),
                    currency: order.map(|o| o.currency.clone()).unwrap_or_default(),
                    total_cents: order.map_or(0, |o| o.total_cents),
                    lines,
                    replenishments,
                    version,
                    position,
                }),
            )
        }
        Command::CancelOrder(c) => (
            StatusCode::OK,
            to_value(OrderCancelled {
                order_id: c.order_id,
                status: CancelledStatus::Cancelled,
                version,
                position,
            }),
        ),
        Command::ShipOrder(c) => (
            StatusCode::OK,
            to_value(OrderShipped {
                order_id: c.order_id,
                status: ShippedStatus::Shipped,
                version,
                position,
            }),
        ),
    };
    (status.as_u16(), body)
}

/// A product's stock levels after a command (a product a command succeeded on exists).
struct Levels {
    on_hand: i64,
    reserved: i64,
    available: i64,
    backordered: i64,
}

impl Levels {
    fn of(state: &impl Aggregates, sku: &str) -> Levels {
        state.product(sku).map_or(
            Levels {
                on_hand: 0,
                reserved: 0,
                available: 0,
                backordered: 0,
            },
            |p| Levels {
                on_hand: p.on_hand,
                reserved: p.reserved,
                available: p.available(),
                backordered: p.backordered(),
            },
        )
    }
}

fn to_value(body: impl Serialize) -> Value {
    serde_json::to_value(body).expect("reply bodies are plain data")
}
