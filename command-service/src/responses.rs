//! The success bodies of SPEC §3, built from a decision and the state it left, and the
//! rendering that puts the global position in. Bodies are rendered the same way the first
//! time and on replay, so a replay is byte for byte the original.

use axum::http::StatusCode;
use serde_json::{Value, json};
use stockflow_domain::{Aggregates, Change, Command};
use stockflow_events::Event;
use stockflow_store::StoredIdempotency;

use crate::writer::{Reply, View};

/// The body of a successful command, with `position` still null.
pub(crate) fn success(
    command: &Command,
    changes: &[Change],
    view: &View<'_>,
) -> (StatusCode, Value) {
    let version = view.version(&command.target_stream());
    match command {
        Command::RegisterProduct(c) => (
            StatusCode::CREATED,
            json!({"sku": c.sku, "version": version, "position": null}),
        ),
        Command::ReceiveStock(c) => {
            let product = view.product(c.sku.as_str());
            let filled: Vec<Value> = changes
                .iter()
                .filter_map(|ch| match &ch.event {
                    Event::BackorderFilled(e) => {
                        Some(json!({"order_id": e.order_id, "quantity": e.quantity}))
                    }
                    _ => None,
                })
                .collect();
            let ready: Vec<Value> = changes
                .iter()
                .filter_map(|ch| match &ch.event {
                    Event::OrderReady(e) => Some(json!(e.order_id)),
                    _ => None,
                })
                .collect();
            (
                StatusCode::OK,
                json!({
                    "sku": c.sku,
                    "on_hand": product.map(|p| p.on_hand),
                    "reserved": product.map(|p| p.reserved),
                    "available": product.map(|p| p.available()),
                    "backordered": product.map(|p| p.backordered()),
                    "filled": filled,
                    "orders_ready": ready,
                    "version": version,
                    "position": null,
                }),
            )
        }
        Command::AdjustStock(c) => {
            let product = view.product(c.sku.as_str());
            (
                StatusCode::OK,
                json!({
                    "sku": c.sku,
                    "on_hand": product.map(|p| p.on_hand),
                    "reserved": product.map(|p| p.reserved),
                    "available": product.map(|p| p.available()),
                    "version": version,
                    "position": null,
                }),
            )
        }
        Command::ChangePrice(c) => (
            StatusCode::OK,
            json!({"sku": c.sku, "unit_price_cents": c.unit_price_cents, "version": version, "position": null}),
        ),
        Command::Discontinue(c) => (
            StatusCode::OK,
            json!({"sku": c.sku, "status": "discontinued", "version": version, "position": null}),
        ),
        Command::PlaceOrder(c) => {
            let order = view.order(&c.order_id);
            let lines: Vec<Value> = order
                .map(|o| {
                    o.lines
                        .iter()
                        .map(|l| {
                            json!({
                                "sku": l.sku,
                                "quantity": l.quantity,
                                "reserved": l.reserved,
                                "backordered": l.backordered,
                                "unit_price_cents": l.unit_price_cents,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let replenishments: Vec<Value> = changes
                .iter()
                .filter_map(|ch| match &ch.event {
                    Event::ReplenishmentRequested(e) => {
                        Some(json!({"sku": e.sku, "quantity": e.quantity}))
                    }
                    _ => None,
                })
                .collect();
            (
                StatusCode::CREATED,
                json!({
                    "order_id": c.order_id,
                    "status": order.map(|o| o.status.as_str()),
                    "currency": order.map(|o| o.currency.as_str()),
                    "total_cents": order.map(|o| o.total_cents),
                    "lines": lines,
                    "replenishments": replenishments,
                    "version": version,
                    "position": null,
                }),
            )
        }
        Command::CancelOrder(c) => (
            StatusCode::OK,
            json!({"order_id": c.order_id, "status": "cancelled", "version": version, "position": null}),
        ),
        Command::ShipOrder(c) => (
            StatusCode::OK,
            json!({"order_id": c.order_id, "status": "shipped", "version": version, "position": null}),
        ),
    }
}

/// The final body: the template with its position set, when it has one.
pub(crate) fn render(template: &Value, position: Option<i64>) -> String {
    match (template, position) {
        (Value::Object(fields), Some(position)) if fields.contains_key("position") => {
            let mut fields = fields.clone();
            fields.insert("position".into(), json!(position));
            Value::Object(fields).to_string()
        }
        _ => template.to_string(),
    }
}

/// A stored outcome, sent again.
pub(crate) fn replay(record: &StoredIdempotency) -> Reply {
    let body = match serde_json::from_str::<Value>(&record.body) {
        Ok(template) => render(&template, record.position),
        Err(_) => record.body.clone(),
    };
    Reply {
        status: StatusCode::from_u16(u16::try_from(record.status).unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
        replayed: true,
    }
}

// The success bodies above, as schemas for the OpenAPI document. They are never built: the
// bodies are rendered from `json!` so that a replay is byte for byte the original. A test
// (tests/api/openapi.rs) holds real responses to exactly these keys.

/// 201 of POST /v1/products.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ProductRegistered {
    sku: String,
    /// Version of the product's stream after the command.
    version: i64,
    /// Global position of the last event written: pass it as `min_position` to the query API.
    position: i64,
}

/// A backordered order line that a receipt filled.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct BackorderFill {
    order_id: uuid::Uuid,
    quantity: i64,
}

/// 200 of POST /v1/products/{sku}/receipts.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct StockReceived {
    sku: String,
    on_hand: i64,
    reserved: i64,
    available: i64,
    backordered: i64,
    /// Backorders filled by this receipt, oldest first.
    filled: Vec<BackorderFill>,
    /// Orders that this receipt left with nothing backordered.
    orders_ready: Vec<uuid::Uuid>,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/products/{sku}/adjustments.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct StockAdjusted {
    sku: String,
    on_hand: i64,
    reserved: i64,
    available: i64,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/products/{sku}/price.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct PriceChanged {
    sku: String,
    unit_price_cents: i64,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/products/{sku}/discontinue.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ProductDiscontinued {
    sku: String,
    #[schema(inline)]
    status: DiscontinuedStatus,
    version: i64,
    position: i64,
}

/// The status of an order.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum OrderStatus {
    #[schema(rename = "ready")]
    Ready,
    #[schema(rename = "backordered")]
    Backordered,
    #[schema(rename = "cancelled")]
    Cancelled,
    #[schema(rename = "shipped")]
    Shipped,
}

/// A line of a placed order.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
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
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ReplenishmentRequest {
    sku: String,
    quantity: i64,
}

/// 201 of POST /v1/orders.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct OrderPlaced {
    order_id: uuid::Uuid,
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
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct OrderCancelled {
    order_id: uuid::Uuid,
    #[schema(inline)]
    status: CancelledStatus,
    version: i64,
    position: i64,
}

/// 200 of POST /v1/orders/{order_id}/ship.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct OrderShipped {
    order_id: uuid::Uuid,
    #[schema(inline)]
    status: ShippedStatus,
    version: i64,
    position: i64,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum DiscontinuedStatus {
    #[schema(rename = "discontinued")]
    Discontinued,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum CancelledStatus {
    #[schema(rename = "cancelled")]
    Cancelled,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum ShippedStatus {
    #[schema(rename = "shipped")]
    Shipped,
}
