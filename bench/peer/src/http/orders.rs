//! POST /v1/orders: PlaceOrder.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, Object, Validator};
use crate::domain::Sku;
use crate::domain::values::{self, MAX_LINE_QUANTITY, MAX_ORDER_LINES};
use crate::service::{LineRequest, PlaceOrder};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/orders", post(place))
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
    JsonBody(body): JsonBody<PlaceBody>,
) -> Result<Response, ApiError> {
    let mut v = Validator::default();
    let order_id_given = body.order_id.is_some();
    let order_id = match body.order_id.as_deref() {
        None => Some(Uuid::now_v7()),
        Some(raw) => v.check(
            "order_id",
            Uuid::parse_str(raw).map_err(|_| "must be a UUID".to_owned()),
        ),
    };
    let customer_id = v.field("customer_id", body.customer_id.as_deref(), |c| {
        values::text(c, 1, 64)
    });
    let lines = v.field("lines", body.lines.as_ref(), |lines| {
        if lines.is_empty() || lines.len() > MAX_ORDER_LINES {
            Err(format!("must have 1 to {MAX_ORDER_LINES} lines"))
        } else {
            Ok(lines)
        }
    });
    let mut requests = Vec::new();
    let mut seen = HashSet::new();
    for (i, Object(line)) in lines.into_iter().flatten().enumerate() {
        let sku_field = format!("lines[{i}].sku");
        let sku = v.field(&sku_field, line.sku.as_deref(), Sku::parse);
        if let Some(sku) = &sku
            && !seen.insert(sku.clone())
        {
            v.error(&sku_field, "appears on more than one line");
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
            order_id_given,
            customer_id: customer_id?,
            lines: requests,
        })
    })?;
    let placed = app.peer.place_order(command).await?;
    Ok((StatusCode::CREATED, Json(placed)).into_response())
}
