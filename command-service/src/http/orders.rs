//! Order commands: place, cancel, ship.

use std::collections::HashSet;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use stockflow_domain::values::{self, MAX_LINE_QUANTITY, MAX_ORDER_LINES, Sku};
use stockflow_domain::{CancelOrder, Command, LineRequest, PlaceOrder, ShipOrder};
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::{CommandHeaders, JsonBody, Object, Validator};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", post(place))
        .route("/v1/orders/{order_id}/cancel", post(cancel))
        .route("/v1/orders/{order_id}/ship", post(ship))
}

/// The order id in the path; one that is not a UUID names no order.
fn path_order_id(path: Result<Path<String>, PathRejection>) -> Result<Uuid, ApiError> {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    Uuid::parse_str(&raw).map_err(|_| ApiError::OrderNotFound(raw))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineBody {
    sku: Option<String>,
    quantity: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceBody {
    order_id: Option<String>,
    customer_id: Option<String>,
    lines: Option<Vec<Object<LineBody>>>,
}

async fn place(
    State(app): State<AppState>,
    headers: CommandHeaders,
    method: Method,
    uri: Uri,
    body: JsonBody<PlaceBody>,
) -> Result<Response, ApiError> {
    let b = &body.value;
    let mut v = Validator::default();
    let order_id = match b.order_id.as_deref() {
        // Made here, before the writer, so a retried batch keeps the same id.
        None => Some(Uuid::now_v7()),
        Some(raw) => v.check(
            "order_id",
            Uuid::parse_str(raw).map_err(|_| "must be a UUID".to_owned()),
        ),
    };
    let customer_id = v.field("customer_id", b.customer_id.as_deref(), |c| {
        values::text(c, 1, 64)
    });
    let lines = v.field("lines", b.lines.as_ref(), |lines| {
        if lines.is_empty() || lines.len() > MAX_ORDER_LINES {
            Err(format!("must have 1 to {MAX_ORDER_LINES} lines"))
        } else {
            Ok(lines)
        }
    });
    let mut requests = Vec::new();
    let mut seen = HashSet::new();
    for (i, Object(line)) in lines.into_iter().flatten().enumerate() {
        let sku = v.field(&format!("lines[{i}].sku"), line.sku.as_deref(), Sku::parse);
        if let Some(sku) = &sku
            && !seen.insert(sku.clone())
        {
            v.error(format!("lines[{i}].sku"), "appears on more than one line");
        }
        let quantity = v.field(&format!("lines[{i}].quantity"), line.quantity, |q| {
            values::in_range(q, 1, MAX_LINE_QUANTITY)
        });
        if let (Some(sku), Some(quantity)) = (sku, quantity) {
            requests.push(LineRequest { sku, quantity });
        }
    }
    let command = v.finish(|| {
        Some(PlaceOrder {
            order_id: order_id?,
            customer_id: customer_id?,
            lines: requests,
        })
    })?;
    app.execute(
        Command::PlaceOrder(command),
        headers,
        &method,
        &uri,
        &body.raw,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    reason: Option<String>,
}

async fn cancel(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: CommandHeaders,
    method: Method,
    uri: Uri,
    body: JsonBody<CancelBody>,
) -> Result<Response, ApiError> {
    let order_id = path_order_id(path)?;
    let mut v = Validator::default();
    let reason = match body.value.reason.as_deref() {
        None => Some(None),
        Some(r) => v.check("reason", values::text(r, 1, 500)).map(Some),
    };
    let command = v.finish(|| {
        Some(CancelOrder {
            order_id,
            reason: reason?,
        })
    })?;
    app.execute(
        Command::CancelOrder(command),
        headers,
        &method,
        &uri,
        &body.raw,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipBody {
    carrier: Option<String>,
    tracking_number: Option<String>,
}

async fn ship(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: CommandHeaders,
    method: Method,
    uri: Uri,
    body: JsonBody<ShipBody>,
) -> Result<Response, ApiError> {
    let order_id = path_order_id(path)?;
    let b = &body.value;
    let mut v = Validator::default();
    let carrier = v.field("carrier", b.carrier.as_deref(), |c| values::text(c, 1, 64));
    let tracking_number = v.field("tracking_number", b.tracking_number.as_deref(), |t| {
        values::text(t, 1, 64)
    });
    let command = v.finish(|| {
        Some(ShipOrder {
            order_id,
            carrier: carrier?,
            tracking_number: tracking_number?,
        })
    })?;
    app.execute(
        Command::ShipOrder(command),
        headers,
        &method,
        &uri,
        &body.raw,
    )
    .await
}
