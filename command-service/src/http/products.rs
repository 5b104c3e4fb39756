//! Product commands: register, receive, adjust, reprice, discontinue.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use stockflow_domain::values::{self, Currency, MAX_STOCK_QUANTITY, MAX_UNIT_PRICE_CENTS, Sku};
use stockflow_domain::{
    AdjustStock, ChangePrice, Command, Discontinue, ReceiveStock, RegisterProduct,
};
use stockflow_events::BackorderPolicy;

use super::AppState;
use super::error::ApiError;
use super::extract::{CommandHeaders, JsonBody, Validator};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/products", post(register))
        .route("/v1/products/{sku}/receipts", post(receive))
        .route("/v1/products/{sku}/adjustments", post(adjust))
        .route("/v1/products/{sku}/price", post(change_price))
        .route("/v1/products/{sku}/discontinue", post(discontinue))
}

/// The sku in the path; one that cannot be valid names no product.
fn path_sku(path: Result<Path<String>, PathRejection>) -> Result<Sku, ApiError> {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    Sku::parse(&raw).map_err(|_| ApiError::ProductNotFound(raw))
}

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
    headers: CommandHeaders,
    method: Method,
    uri: Uri,
    body: JsonBody<RegisterBody>,
) -> Result<Response, ApiError> {
    let b = &body.value;
    let mut v = Validator::default();
    let sku = v.field("sku", b.sku.as_deref(), Sku::parse);
    let name = v.field("name", b.name.as_deref(), |n| values::text(n, 1, 200));
    let unit_price_cents = v.field("unit_price_cents", b.unit_price_cents, |p| {
        values::in_range(p, 1, MAX_UNIT_PRICE_CENTS)
    });
    let currency = v.field("currency", b.currency.as_deref(), Currency::parse);
    let initial_stock = v.check(
        "initial_stock",
        values::in_range(b.initial_stock.unwrap_or(0), 0, MAX_STOCK_QUANTITY),
    );
    let backorder_policy = v.check(
        "backorder_policy",
        match b.backorder_policy.as_deref() {
            None | Some("reject") => Ok(BackorderPolicy::Reject),
            Some("backorder") => Ok(BackorderPolicy::Backorder),
            Some(_) => Err("must be \"reject\" or \"backorder\"".to_owned()),
        },
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
    app.execute(
        Command::RegisterProduct(command),
        headers,
        &method,
        &uri,
        &body.raw,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptBody {
    quantity: Option<i64>,
    reference: Option<String>,
}

async fn receive(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: CommandHeaders,
    method: Method,
    uri: Uri,
    body: JsonBody<ReceiptBody>,
) -> Result<Response, ApiError> {
    let sku = path_sku(path)?;
    let b = &body.value;
    let mut v = Validator::default();
    let quantity = v.field("quantity", b.quantity, |q| {
        values::in_range(q, 1, MAX_STOCK_QUANTITY)
    });
    let reference = match b.reference.as_deref() {
        None => Some(None),
        Some(r) => v.check("reference", values::text(r, 1, 200)).map(Some),
    };
    let command = v.finish(|| {
        Some(ReceiveStock {
            sku,
            quantity: quantity?,
            reference: reference?,
        })
    })?;
    app.execute(
        Command::ReceiveStock(command),
        headers,
        &method,
        &uri,
        &body.raw,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustmentBody {
    delta: Option<i64>,
    reason: Option<String>,
}

async fn adjust(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: CommandHeaders,
    method: Method,
    uri: Uri,
    body: JsonBody<AdjustmentBody>,
) -> Result<Response, ApiError> {
    let sku = path_sku(path)?;
    let b = &body.value;
    let mut v = Validator::default();
    let delta = v.field("delta", b.delta, |d| {
        if d == 0 {
            Err("must not be zero".to_owned())
        } else {
            values::in_range(d, -MAX_STOCK_QUANTITY, MAX_STOCK_QUANTITY)
        }
    });
    let reason = v.field("reason", b.reason.as_deref(), |r| values::text(r, 1, 200));
    let command = v.finish(|| {
        Some(AdjustStock {
            sku,
            delta: delta?,
            reason: reason?,
        })
    })?;
    app.execute(
        Command::AdjustStock(command),
        headers,
        &method,
        &uri,
        &body.raw,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    unit_price_cents: Option<i64>,
}

async fn change_price(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: CommandHeaders,
    method: Method,
    uri: Uri,
    body: JsonBody<PriceBody>,
) -> Result<Response, ApiError> {
    let sku = path_sku(path)?;
    let mut v = Validator::default();
    let price = v.field("unit_price_cents", body.value.unit_price_cents, |p| {
        values::in_range(p, 1, MAX_UNIT_PRICE_CENTS)
    });
    let command = v.finish(|| {
        Some(ChangePrice {
            sku,
            unit_price_cents: price?,
        })
    })?;
    app.execute(
        Command::ChangePrice(command),
        headers,
        &method,
        &uri,
        &body.raw,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscontinueBody {}

async fn discontinue(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: CommandHeaders,
    method: Method,
    uri: Uri,
    body: JsonBody<DiscontinueBody>,
) -> Result<Response, ApiError> {
    let sku = path_sku(path)?;
    let JsonBody {
        value: DiscontinueBody {},
        raw,
    } = body;
    app.execute(
        Command::Discontinue(Discontinue { sku }),
        headers,
        &method,
        &uri,
        &raw,
    )
    .await
}
