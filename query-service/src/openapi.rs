//! The OpenAPI 3.1 document of the query API, generated from the handlers' annotations and
//! served at `/openapi.json`, with Swagger UI (vendored, so no download) at `/docs`.
//! `query-service/openapi.json` is the committed copy; tests/api/openapi.rs keeps them equal.
//!
//! The answers are serialized from the read models' types; the schemas here mirror them for
//! the document only, and the tests hold real answers to exactly their members.
#![allow(
    dead_code,
    reason = "documentation-only types: never built, only described"
)]

use std::collections::BTreeMap;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::AnyOf;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Schema, Type,
};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};
use uuid::Uuid;

use crate::http::error::PROBLEM_CONTENT_TYPE;
use crate::http::{analytics, customers, orders, products, projections, replenishments};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stockflow query API",
        description = "The read side of stockflow (SPEC §6): products, orders, customers, sales \
            and replenishments from the read models the projector keeps. Every answer carries \
            `X-Projection-Position`, the global position the read models reflect; \
            `min_position` (or `X-Min-Position`) waits for a position a command returned, so \
            a client reads its own writes. Every refusal is an RFC 9457 problem \
            (`application/problem+json`) with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        products::show,
        products::list,
        orders::show,
        orders::list,
        customers::show,
        analytics::sales,
        replenishments::list,
        projections::show,
        healthz,
        readyz,
    ),
    components(schemas(Problem)),
    tags(
        (name = "products", description = "The catalogue and its stock"),
        (name = "orders", description = "Orders and their lines"),
        (name = "customers", description = "Customers' order counts and lifetime value"),
        (name = "analytics", description = "Sales over time or by sku"),
        (name = "replenishments", description = "Stock requested from suppliers"),
        (name = "projections", description = "How far the read models are behind"),
        (name = "health", description = "Liveness and readiness, without a token"),
    ),
    modifiers(&CommonParts),
)]
struct ApiDoc;

/// An RFC 9457 problem. Members beyond `type, title, status, detail, code` appear with the
/// codes that carry them.
#[derive(ToSchema)]
pub(crate) struct Problem {
    /// `urn:stockflow:problem:<code>`.
    #[schema(example = "urn:stockflow:problem:invalid_parameter")]
    r#type: String,
    /// The HTTP reason phrase of `status`.
    #[schema(example = "Bad Request")]
    title: String,
    #[schema(example = 400)]
    status: u16,
    /// For people; do not parse it.
    detail: String,
    /// The stable, machine-readable reason, e.g. `invalid_parameter`, `order_not_found`.
    #[schema(example = "invalid_parameter")]
    code: String,
    /// With `invalid_parameter`: the query parameter (or header) to fix.
    #[schema(nullable = false)]
    parameter: Option<String>,
    /// With `projection_lagging`: the position asked for.
    #[schema(nullable = false)]
    min_position: Option<i64>,
    /// With `projection_lagging`: the position the read models had reached.
    #[schema(nullable = false)]
    position: Option<i64>,
}

/// `active` or `discontinued`.
#[derive(ToSchema)]
pub(crate) enum ProductStatus {
    #[schema(rename = "active")]
    Active,
    #[schema(rename = "discontinued")]
    Discontinued,
}

/// What an order for more than is available does.
#[derive(ToSchema)]
pub(crate) enum BackorderPolicy {
    #[schema(rename = "reject")]
    Reject,
    #[schema(rename = "backorder")]
    Backorder,
}

/// The status of an order.
#[derive(ToSchema)]
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

/// `open` until receipts have covered it, then `fulfilled`.
#[derive(ToSchema)]
pub(crate) enum ReplenishmentStatus {
    #[schema(rename = "open")]
    Open,
    #[schema(rename = "fulfilled")]
    Fulfilled,
}

/// How `/v1/analytics/sales` groups its rows.
#[derive(ToSchema)]
pub(crate) enum SalesGrouping {
    #[schema(rename = "day")]
    Day,
    #[schema(rename = "sku")]
    Sku,
}

/// A product and its stock.
#[derive(ToSchema)]
pub(crate) struct Product {
    #[schema(example = "SKU-1")]
    sku: String,
    name: String,
    unit_price_cents: i64,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: String,
    backorder_policy: BackorderPolicy,
    status: ProductStatus,
    on_hand: i64,
    reserved: i64,
    /// `on_hand - reserved`.
    available: i64,
    /// Units ordered and waiting for a receipt.
    backordered: i64,
    version: i64,
    updated_at: DateTime<Utc>,
}

/// A page of products, by sku.
#[derive(ToSchema)]
pub(crate) struct ProductPage {
    items: Vec<Product>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A line of an order.
#[derive(ToSchema)]
pub(crate) struct OrderLine {
    sku: String,
    quantity: i64,
    /// Units taken from stock.
    reserved: i64,
    /// Units waiting for a receipt.
    backordered: i64,
    unit_price_cents: i64,
}

/// An order with its lines.
#[derive(ToSchema)]
pub(crate) struct Order {
    order_id: Uuid,
    customer_id: String,
    status: OrderStatus,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: String,
    total_cents: i64,
    lines: Vec<OrderLine>,
    placed_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[schema(required = true)]
    shipped_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    cancelled_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    carrier: Option<String>,
    #[schema(required = true)]
    tracking_number: Option<String>,
    version: i64,
}

/// An order in a listing: no lines, their count instead.
#[derive(ToSchema)]
pub(crate) struct OrderSummary {
    order_id: Uuid,
    customer_id: String,
    status: OrderStatus,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: String,
    total_cents: i64,
    line_count: i32,
    placed_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[schema(required = true)]
    shipped_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    cancelled_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    carrier: Option<String>,
    #[schema(required = true)]
    tracking_number: Option<String>,
    version: i64,
}

/// A page of orders, newest first.
#[derive(ToSchema)]
pub(crate) struct OrderPage {
    items: Vec<OrderSummary>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A customer's orders in figures.
#[derive(ToSchema)]
pub(crate) struct Customer {
    customer_id: String,
    order_count: i64,
    /// Orders neither shipped nor cancelled.
    open_order_count: i64,
    /// Cents per currency over the orders not cancelled, e.g. `{"EUR": 12000}`.
    #[schema(example = json!({"EUR": 12000}))]
    lifetime_value: BTreeMap<String, i64>,
    first_order_at: DateTime<Utc>,
    last_order_at: DateTime<Utc>,
}

/// Sales of one UTC day in one currency.
#[derive(serde::Serialize, ToSchema)]
pub(crate) struct DaySales {
    day: NaiveDate,
    currency: String,
    orders: i64,
    units: i64,
    revenue_cents: i64,
}

/// Sales of one sku in one currency.
#[derive(serde::Serialize, ToSchema)]
pub(crate) struct SkuSales {
    sku: String,
    currency: String,
    orders: i64,
    units: i64,
    revenue_cents: i64,
}

/// Sales rows, grouped by day (`group_by=day`, the default) or by sku.
// Serialize only so that serde's `untagged` is read: a schema of one of the two.
#[derive(serde::Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum SalesRows {
    ByDay(Vec<DaySales>),
    BySku(Vec<SkuSales>),
}

/// Sales over non-cancelled orders by UTC placement day.
#[derive(ToSchema)]
pub(crate) struct Sales {
    rows: SalesRows,
}

/// A request to a supplier for a backordered line.
#[derive(ToSchema)]
pub(crate) struct Replenishment {
    sku: String,
    order_id: Uuid,
    quantity: i64,
    /// Units not yet covered by receipts.
    outstanding: i64,
    status: ReplenishmentStatus,
    requested_at: DateTime<Utc>,
}

/// A page of replenishment requests, oldest first.
#[derive(ToSchema)]
pub(crate) struct ReplenishmentPage {
    items: Vec<Replenishment>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// One projection's progress.
#[derive(ToSchema)]
pub(crate) struct Projection {
    name: String,
    position: i64,
    status: String,
    updated_at: DateTime<Utc>,
}

/// How far the read models are behind the event store.
#[derive(ToSchema)]
pub(crate) struct Projections {
    /// The store's last global position.
    head: i64,
    /// The position the read models reflect.
    position: i64,
    /// `head - position`.
    lag_events: i64,
    items: Vec<Projection>,
}

/// The body of `/healthz`.
#[derive(ToSchema)]
pub(crate) struct Health {
    #[schema(inline)]
    status: HealthOk,
}

#[derive(ToSchema)]
pub(crate) enum HealthOk {
    #[schema(rename = "ok")]
    Ok,
}

#[derive(ToSchema)]
pub(crate) enum ReadyStatus {
    #[schema(rename = "ready")]
    Ready,
    #[schema(rename = "not_ready")]
    NotReady,
}

/// The body of `/readyz`.
#[derive(ToSchema)]
pub(crate) struct Readiness {
    #[schema(inline)]
    status: ReadyStatus,
    /// Why not, when not ready; null when ready.
    #[schema(required = true)]
    reason: Option<String>,
    /// `postgres`: `ok` or `unreachable`; `projections`: `{state: running}`, or
    /// `{state: stopped, stopped: [...]}` with what stopped them, or `{state: unknown}`;
    /// `notifications`: `listening` or `reconnecting` (informational).
    #[schema(value_type = Object)]
    checks: (),
}

/// Liveness, for orchestrators.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "healthz",
    responses((status = 200, description = "The process serves HTTP", body = Health)),
)]
fn healthz() {}

/// Readiness, for orchestrators.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "readyz",
    responses(
        (status = 200, description = "PostgreSQL answers and no projection has stopped", body = Readiness),
        (status = 503, description = "Not ready; `checks` says why", body = Readiness),
    ),
)]
fn readyz() {}

/// What every query shares, added to each operation so the annotations stay about what
/// differs: the bearer scheme, the consistency wait and the refusals any query can get.
struct CommonParts;

impl Modify for CommonParts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An HS256 JWT whose space-separated `scope` claim grants \
                         `queries:read` (or `admin`).",
                    ))
                    .build(),
            ),
        );
        // An empty `rows` is either kind of row, so the two are `anyOf`, not serde's `oneOf`.
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut("SalesRows") {
            let mut any_of = AnyOf::new();
            any_of.items = std::mem::take(&mut one_of.items);
            any_of.description = one_of.description.take();
            components
                .schemas
                .insert("SalesRows".into(), RefOr::T(Schema::AnyOf(any_of)));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if let (true, Some(operation)) = (path.starts_with("/v1/"), item.get.as_mut()) {
                add_common(operation);
            }
        }
    }
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer).format(Some(
        utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
    ))
}

fn add_common(operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.push(
        ParameterBuilder::new()
            .name("min_position")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(
                "Wait until the read models reach this global position (a command's \
                 `position`), up to 5 s by default; then 503 `projection_lagging`.",
            ))
            .schema(Some(integer().minimum(Some(0))))
            .build()
            .into(),
    );
    parameters.push(
        ParameterBuilder::new()
            .name("X-Min-Position")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The same as `min_position`; when both are given the larger is waited for.",
            ))
            .schema(Some(integer().minimum(Some(0))))
            .build()
            .into(),
    );

    let position_header = || {
        HeaderBuilder::new()
            .schema(Some(integer().minimum(Some(0))))
            .description(Some(
                "The global position the read models reflected when this was answered.",
            ))
            .build()
    };
    let retry_after = || {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
            .description(Some("Seconds to wait before retrying."))
            .build()
    };
    let problem = |description: &str| {
        ResponseBuilder::new().description(description).content(
            PROBLEM_CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
    };
    let common = [
        (
            "400",
            problem(
                "`invalid_parameter`: a parameter (or `X-Min-Position`) is malformed, out of \
                 range, repeated or unknown; `parameter` names it",
            ),
        ),
        (
            "401",
            problem("`unauthorized`: no bearer token, or an invalid or expired one"),
        ),
        (
            "403",
            problem("`forbidden`: the token lacks the `queries:read` scope"),
        ),
        (
            "429",
            problem("`rate_limited`: too many requests with this token")
                .header("Retry-After", retry_after()),
        ),
        (
            "503",
            problem(
                "`projection_lagging` (the read models did not reach `min_position` in time), \
                 `service_unavailable` (the database is unreachable) or `request_timeout`",
            )
            .header("Retry-After", retry_after()),
        ),
    ];
    let responses = &mut operation.responses.responses;
    for (status, response) in common {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(response.build()));
    }
    // The consistency layer stamps every answer of the query API, refusals included; the
    // auth and rate-limit refusals come before it.
    for (status, response) in responses.iter_mut() {
        if let (false, RefOr::T(response)) =
            (matches!(status.as_str(), "401" | "403" | "429"), response)
        {
            response
                .headers
                .insert("X-Projection-Position".into(), position_header().into());
        }
    }
}

/// The document as served and committed: pretty, in a stable order.
pub(crate) fn document() -> String {
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// `/openapi.json` and `/docs`, outside `/v1` and so open without a token.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let document = document();
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .merge(SwaggerUi::new("/docs").config(Config::new(["/openapi.json"])))
}
