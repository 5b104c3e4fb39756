//! Orders: one with its lines, and listings newest first by customer, status and placement
//! time.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::params::Params;
use super::{AppState, ParameterSchemas, next_cursor, path_id};
use crate::cursor::Listing;
use crate::read_models::{Order, OrderFilter, OrderKey, OrderStatus, OrderSummary};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_order))
        .routes(routes!(list_orders))
        .parameter_schema::<OrderStatus>()
}

/// A page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderPage {
    items: Vec<OrderSummary>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orders/{order_id}",
    summary = "An order with its lines",
    params(("order_id" = uuid::Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "`order_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_order(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Order>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let raw = path_id(path).unwrap_or_default();
    // What is not a UUID names no order.
    let order_id = Uuid::parse_str(&raw).map_err(|_| ApiError::OrderNotFound(raw.clone()))?;
    app.read
        .order(order_id)
        .await?
        .map(Json)
        .ok_or(ApiError::OrderNotFound(raw))
}

#[utoipa::path(
    get,
    path = "/v1/orders",
    summary = "Orders, newest first",
    params(
        ("customer_id" = Option<String>, Query, min_length = 1, max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", description = "Only this customer's orders"),
        ("status" = Option<OrderStatus>, Query, description = "Only orders with this status"),
        ("placed_from" = Option<String>, Query, min_length = 1, description = "Placed at or after: a date `YYYY-MM-DD` (its start, UTC) or an RFC 3339 instant"),
        ("placed_to" = Option<String>, Query, min_length = 1, description = "Placed at or before: a date `YYYY-MM-DD` (all of it, UTC) or an RFC 3339 instant; not before placed_from"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size, 1 to 500; 50 by default"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "Opaque: the `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
    ),
)]
async fn list_orders(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<OrderPage>, ApiError> {
    let params = Params::parse(
        query.as_deref(),
        &[
            "customer_id",
            "status",
            "placed_from",
            "placed_to",
            "limit",
            "cursor",
        ],
    )?;
    let filter = OrderFilter {
        customer_id: params.customer_id("customer_id")?,
        status: params.choice("status", &OrderStatus::ALL, OrderStatus::as_str)?,
        placed_from: params.range_start("placed_from")?,
        placed_before: params.range_end("placed_to")?,
    };
    // The end bound is exclusive (just after placed_to), so a range is reversed when its
    // start is not before it: placed_from the day after placed_to meets it exactly.
    if let (Some(from), Some(before)) = (filter.placed_from, filter.placed_before)
        && from >= before
    {
        return Err(ApiError::invalid(
            "placed_from",
            "must not be after placed_to",
        ));
    }
    let limit = params.limit()?;
    let after: Option<OrderKey> = params.cursor(Listing::Orders)?;
    let page = app.read.orders(&filter, after, limit).await?;
    Ok(Json(OrderPage {
        next_cursor: next_cursor(&page, Listing::Orders, OrderSummary::key),
        items: page.items,
    }))
}
