//! Products: one by sku, and the catalogue by sku with status and availability filters.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use stockflow_domain::values::Sku;

use super::error::ApiError;
use super::params::Params;
use super::{AppState, ItemsPage, path_id};
use crate::cursor::Listing;
use crate::read_models::{Product, ProductFilter, ProductStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/products", get(list))
        .route("/v1/products/{sku}", get(show))
}

async fn show(
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

async fn list(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ItemsPage<Product>>, ApiError> {
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
    Ok(Json(ItemsPage::new(page, Listing::Products, |p| {
        p.sku.clone()
    })))
}
