//! Product commands: register, receive, adjust, reprice, discontinue.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use stockflow_domain::values::{self, Currency, MAX_STOCK_QUANTITY, MAX_UNIT_PRICE_CENTS, Sku};
use stockflow_domain::{
    AdjustStock, ChangePrice, Command, Discontinue, ReceiveStock, RegisterProduct,
};
use stockflow_events::BackorderPolicy;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::{CommandRequest, Validator};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_product))
        .routes(routes!(receive_stock))
        .routes(routes!(adjust_stock))
        .routes(routes!(change_price))
        .routes(routes!(discontinue_product))
}

/// The sku in the path; one that cannot be valid names no product.
fn path_sku(path: Result<Path<String>, PathRejection>) -> Result<Sku, ApiError> {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    Sku::parse(&raw).map_err(|_| ApiError::ProductNotFound(raw))
}

// Fields are read as optional so that a missing one is a `validation_failed` field error, not
// a `malformed_body`; the schema says what a valid body holds.
/// The body of POST /v1/products.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RegisterProduct)]
pub(crate) struct RegisterBody {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 32, pattern = "^[A-Z0-9_-]{1,32}$", example = "SKU-1")]
    sku: Option<String>,
    /// 1 to 200 characters, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    name: Option<String>,
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 100_000_000)]
    unit_price_cents: Option<i64>,
    /// ISO 4217 code.
    #[schema(value_type = String, required = true, pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: Option<String>,
    #[schema(value_type = i64, required = false, minimum = 0, maximum = 1_000_000_000, default = 0)]
    initial_stock: Option<i64>,
    /// What an order for more than is available does: refused (`reject`) or backordered.
    #[schema(value_type = BackorderPolicyDoc, required = false, default = "reject")]
    backorder_policy: Option<String>,
}

/// The values of `backorder_policy`.
#[derive(utoipa::ToSchema)]
#[schema(as = BackorderPolicy)]
#[allow(
    dead_code,
    reason = "documentation only: the handler reads the policy as text"
)]
pub(crate) enum BackorderPolicyDoc {
    #[schema(rename = "reject")]
    Reject,
    #[schema(rename = "backorder")]
    Backorder,
}

#[utoipa::path(
    post,
    path = "/v1/products",
    summary = "Register a product",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered", body = crate::replies::ProductRegistered),
        (status = 409, description = "`product_exists`", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn register_product(
    State(app): State<AppState>,
    request: CommandRequest<RegisterBody>,
) -> Result<Response, ApiError> {
    let b = &request.body;
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
    app.execute(Command::RegisterProduct(command), request)
        .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReceiveStock)]
pub(crate) struct ReceiptBody {
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 1_000_000_000)]
    quantity: Option<i64>,
    /// 1 to 200 characters, no control characters, e.g. a delivery note.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    reference: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/products/{sku}/receipts",
    summary = "Receive stock, filling backorders oldest first",
    params(("sku" = String, Path, description = "The product's sku", example = "SKU-1")),
    request_body = ReceiptBody,
    responses(
        (status = 200, description = "Received", body = crate::replies::StockReceived),
        (status = 422, description = "`stock_overflow`: on hand would exceed the maximum", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn receive_stock(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: CommandRequest<ReceiptBody>,
) -> Result<Response, ApiError> {
    let sku = path_sku(path)?;
    let b = &request.body;
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
    app.execute(Command::ReceiveStock(command), request).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdjustStock)]
pub(crate) struct AdjustmentBody {
    /// Units added (positive) or removed (negative); never zero.
    #[schema(required = true, schema_with = nonzero_delta)]
    delta: Option<i64>,
    /// 1 to 200 characters, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    reason: Option<String>,
}

/// `delta` in the document: a non-zero count within the stock limit, as two ranges so that
/// a client (or a fuzzer) reading the schema knows zero is refused.
fn nonzero_delta() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
    };
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(min))
            .maximum(Some(max))
    };
    Schema::OneOf(
        OneOfBuilder::new()
            .item(range(-MAX_STOCK_QUANTITY, -1))
            .item(range(1, MAX_STOCK_QUANTITY))
            .description(Some(
                "Units added (positive) or removed (negative); never zero.",
            ))
            .build(),
    )
}

#[utoipa::path(
    post,
    path = "/v1/products/{sku}/adjustments",
    summary = "Adjust on-hand stock (count corrections, damage)",
    params(("sku" = String, Path, description = "The product's sku", example = "SKU-1")),
    request_body = AdjustmentBody,
    responses(
        (status = 200, description = "Adjusted", body = crate::replies::StockAdjusted),
        (status = 409, description = "`adjustment_below_reserved`: on hand would fall below the reserved units", body = crate::replies::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`stock_overflow`: on hand would exceed the maximum", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn adjust_stock(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: CommandRequest<AdjustmentBody>,
) -> Result<Response, ApiError> {
    let sku = path_sku(path)?;
    let b = &request.body;
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
    app.execute(Command::AdjustStock(command), request).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChangePrice)]
pub(crate) struct PriceBody {
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 100_000_000)]
    unit_price_cents: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/v1/products/{sku}/price",
    summary = "Change a product's unit price",
    params(("sku" = String, Path, description = "The product's sku", example = "SKU-1")),
    request_body = PriceBody,
    responses(
        (status = 200, description = "Repriced", body = crate::replies::PriceChanged),
    ),
)]
async fn change_price(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: CommandRequest<PriceBody>,
) -> Result<Response, ApiError> {
    let sku = path_sku(path)?;
    let mut v = Validator::default();
    let price = v.field("unit_price_cents", request.body.unit_price_cents, |p| {
        values::in_range(p, 1, MAX_UNIT_PRICE_CENTS)
    });
    let command = v.finish(|| {
        Some(ChangePrice {
            sku,
            unit_price_cents: price?,
        })
    })?;
    app.execute(Command::ChangePrice(command), request).await
}

/// No fields; an empty body reads as `{}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Discontinue)]
pub(crate) struct DiscontinueBody {}

#[utoipa::path(
    post,
    path = "/v1/products/{sku}/discontinue",
    summary = "Discontinue a product: no new orders for it",
    params(("sku" = String, Path, description = "The product's sku", example = "SKU-1")),
    request_body(content = DiscontinueBody, description = "`{}`, or no body at all"),
    responses(
        (status = 200, description = "Discontinued", body = crate::replies::ProductDiscontinued),
        (status = 409, description = "`already_discontinued`", body = crate::replies::Problem, content_type = "application/problem+json"),
    ),
)]
async fn discontinue_product(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: CommandRequest<DiscontinueBody>,
) -> Result<Response, ApiError> {
    let sku = path_sku(path)?;
    let DiscontinueBody {} = request.body;
    app.execute(Command::Discontinue(Discontinue { sku }), request)
        .await
}
