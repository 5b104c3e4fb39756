//! Order commands: place, cancel, ship.

use std::collections::HashSet;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use stockflow_domain::values::{self, MAX_LINE_QUANTITY, MAX_ORDER_LINES, Sku};
use stockflow_domain::{CancelOrder, Command, LineRequest, PlaceOrder, ShipOrder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::{CommandRequest, Object, Validator};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place_order))
        .routes(routes!(cancel_order))
        .routes(routes!(ship_order))
}

/// The order id in the path; one that is not a UUID names no order.
fn path_order_id(path: Result<Path<String>, PathRejection>) -> Result<Uuid, ApiError> {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    Uuid::parse_str(&raw).map_err(|_| ApiError::OrderNotFound(raw))
}

/// One line of PlaceOrder.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrderLineRequest)]
pub(crate) struct LineBody {
    /// No sku may appear on two lines of an order.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 32, pattern = "^[A-Z0-9_-]{1,32}$", example = "SKU-1")]
    sku: Option<String>,
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 10_000)]
    quantity: Option<i64>,
}

// Fields are read as optional so that a missing one is a `validation_failed` field error, not
// a `malformed_body`; the schema says what a valid body holds.
/// The body of POST /v1/orders.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PlaceOrder)]
pub(crate) struct PlaceBody {
    /// Chosen by the client, or made by the service when absent.
    #[schema(value_type = uuid::Uuid, required = false)]
    order_id: Option<String>,
    /// 1 to 64 characters, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    customer_id: Option<String>,
    /// 1 to 100 lines, no sku twice.
    #[schema(value_type = Vec<LineBody>, required = true, min_items = 1, max_items = 100)]
    lines: Option<Vec<Object<LineBody>>>,
}

#[utoipa::path(
    post,
    path = "/v1/orders",
    summary = "Place an order, reserving stock (or backordering it)",
    request_body = PlaceBody,
    responses(
        (status = 201, description = "Placed", body = crate::replies::OrderPlaced),
        (status = 409, description = "`order_exists`: an order with this order_id exists", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_product` (`skus`), `product_discontinued` (`skus`), `currency_mismatch` (`currencies`), `insufficient_stock` (`lines`: a product with backorder_policy reject lacks stock) or `stock_overflow`", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn place_order(
    State(app): State<AppState>,
    request: CommandRequest<PlaceBody>,
) -> Result<Response, ApiError> {
    let b = &request.body;
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
    app.execute(Command::PlaceOrder(command), request).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CancelOrder)]
pub(crate) struct CancelBody {
    /// 1 to 500 characters, no control characters.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 500, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/orders/{order_id}/cancel",
    summary = "Cancel an order, releasing its reservations",
    params(("order_id" = uuid::Uuid, Path, description = "The order's id")),
    request_body(content = CancelBody, description = "`{}`, `{reason}`, or no body at all"),
    responses(
        (status = 200, description = "Cancelled", body = crate::replies::OrderCancelled),
        (status = 409, description = "`order_not_cancellable`: it has shipped or is already cancelled", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn cancel_order(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: CommandRequest<CancelBody>,
) -> Result<Response, ApiError> {
    let order_id = path_order_id(path)?;
    let mut v = Validator::default();
    let reason = match request.body.reason.as_deref() {
        None => Some(None),
        Some(r) => v.check("reason", values::text(r, 1, 500)).map(Some),
    };
    let command = v.finish(|| {
        Some(CancelOrder {
            order_id,
            reason: reason?,
        })
    })?;
    app.execute(Command::CancelOrder(command), request).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ShipOrder)]
pub(crate) struct ShipBody {
    /// 1 to 64 characters, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    carrier: Option<String>,
    /// 1 to 64 characters, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    tracking_number: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/orders/{order_id}/ship",
    summary = "Ship a ready order",
    params(("order_id" = uuid::Uuid, Path, description = "The order's id")),
    request_body = ShipBody,
    responses(
        (status = 200, description = "Shipped", body = crate::replies::OrderShipped),
        (status = 409, description = "`order_not_ready` (still backordered), `order_cancelled` or `order_already_shipped`", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn ship_order(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: CommandRequest<ShipBody>,
) -> Result<Response, ApiError> {
    let order_id = path_order_id(path)?;
    let b = &request.body;
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
    app.execute(Command::ShipOrder(command), request).await
}
