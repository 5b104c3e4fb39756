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
