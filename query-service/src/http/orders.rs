//! Orders: one with its lines, and listings newest first by customer, status and placement
//! time.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use stockflow_events::OrderStatus;
use uuid::Uuid;

use super::error::ApiError;
use super::params::Params;
use super::{AppState, ItemsPage, path_id};
use crate::cursor::Listing;
use crate::read_models::{Order, OrderFilter, OrderKey, OrderSummary};

const STATUSES: [OrderStatus; 4] = [
    OrderStatus::Ready,
    OrderStatus::Backordered,
    OrderStatus::Cancelled,
    OrderStatus::Shipped,
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", get(list))
        .route("/v1/orders/{order_id}", get(show))
}

async fn show(
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

async fn list(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ItemsPage<OrderSummary>>, ApiError> {
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
        status: params.choice("status", &STATUSES, OrderStatus::as_str)?,
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
    Ok(Json(ItemsPage::new(page, Listing::Orders, |o| o.key())))
}
