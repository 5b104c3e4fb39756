//! POST /v1/products: RegisterProduct.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, Validator};
use crate::domain::values::{self, MAX_STOCK_QUANTITY, MAX_UNIT_PRICE_CENTS};
use crate::domain::{BackorderPolicy, Currency, Sku};
use crate::service::RegisterProduct;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/products", post(register))
}

// Fields are optional so that a missing one is a field error of `validation_failed`, as in
// stockflow, rather than a `malformed_body`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    sku: Option<String>,
    name: Option<String>,
    unit_price_cents: Option<i64>,
    currency: Option<String>,
    initial_stock: Option<i64>,
    backorder_policy: Option<String>,
}

async fn register(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<Response, ApiError> {
    let mut v = Validator::default();
    let sku = v.field("sku", body.sku.as_deref(), Sku::parse);
    let name = v.field("name", body.name.as_deref(), |n| values::text(n, 1, 200));
    let unit_price_cents = v.field("unit_price_cents", body.unit_price_cents, |p| {
        values::in_range(p, 1, MAX_UNIT_PRICE_CENTS)
    });
    let currency = v.field("currency", body.currency.as_deref(), Currency::parse);
    let initial_stock = v.check(
        "initial_stock",
        values::in_range(body.initial_stock.unwrap_or(0), 0, MAX_STOCK_QUANTITY),
    );
    let backorder_policy = v.check(
        "backorder_policy",
        body.backorder_policy
            .as_deref()
            .map_or(Ok(BackorderPolicy::Reject), BackorderPolicy::parse),
    );
    let command = v.finish(|| {
        Some(RegisterProduct {
            sku: sku?,
            name: name?,
            unit_price_cents: unit_price_cents?,
            currency: currency?,
            initial_stock: initial_stock?,
            backorder_policy: backorder_policy?,
        })
    })?;
    let sku = command.sku.clone();
    let version = app.peer.register_product(command).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "sku": sku, "version": version })),
    )
        .into_response())
}
