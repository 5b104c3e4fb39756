//! Products: one by sku, and the catalogue by sku with status and availability filters.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use stockflow_domain::values::Sku;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::params::Params;
use super::{AppState, ParameterSchemas, next_cursor, path_id};
use crate::cursor::Listing;
use crate::read_models::{Product, ProductFilter, ProductStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_product))
        .routes(routes!(list_products))
        .parameter_schema::<ProductStatus>()
}

/// A page of products, by sku.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProductPage {
    items: Vec<Product>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/products/{sku}",
    summary = "A product and its stock",
    params(("sku" = String, Path, description = "The product's sku", example = "SKU-1")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "`product_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_product(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Product>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let sku = path_id(path).unwrap_or_default();
    // A sku outside the alphabet cannot have been registered; it need not reach PostgreSQL
    // (where a NUL byte would even be an error).
    if Sku::parse(&sku).is_err() {
        return Err(ApiError::ProductNotFound(sku));
    }
    app.read
        .product(&sku)
        .await?
        .map(Json)
        .ok_or(ApiError::ProductNotFound(sku))
}

#[utoipa::path(
    get,
    path = "/v1/products",
    summary = "The catalogue, by sku",
    params(
        ("status" = Option<ProductStatus>, Query, description = "Only products with this status"),
        ("max_available" = Option<i64>, Query, minimum = 0, description = "Only products with at most this many available (a non-negative integer)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size, 1 to 500; 50 by default"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "Opaque: the `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
    ),
)]
async fn list_products(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ProductPage>, ApiError> {
    let params = Params::parse(
        query.as_deref(),
        &["status", "max_available", "limit", "cursor"],
    )?;
    let filter = ProductFilter {
        status: params.choice("status", &ProductStatus::ALL, ProductStatus::as_str)?,
        max_available: params.non_negative_integer("max_available")?,
    };
    let limit = params.limit()?;
    let after: Option<String> = params.cursor(Listing::Products)?;
    let page = app.read.products(&filter, after.as_deref(), limit).await?;
    Ok(Json(ProductPage {
        next_cursor: next_cursor(&page, Listing::Products, |p| p.sku.clone()),
        items: page.items,
    }))
}
