//! Replenishment requests to suppliers, oldest first: the order receipts fulfil them in.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::params::Params;
use super::{AppState, ParameterSchemas, next_cursor};
use crate::cursor::Listing;
use crate::read_models::{
    Replenishment, ReplenishmentFilter, ReplenishmentKey, ReplenishmentStatus,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_replenishments))
        .parameter_schema::<ReplenishmentStatus>()
}

/// A page of replenishment requests, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReplenishmentPage {
    items: Vec<Replenishment>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// Paged like the other listings (`limit`, `cursor`, `next_cursor`), so a long history of
/// requests never comes back in one answer.
#[utoipa::path(
    get,
    path = "/v1/replenishments",
    summary = "Replenishment requests, oldest first: the order receipts fulfil them in",
    params(
        ("sku" = Option<String>, Query, pattern = "^[A-Z0-9_-]{1,32}$", description = "Only requests for this sku"),
        ("status" = Option<ReplenishmentStatus>, Query, description = "Only requests with this status"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size, 1 to 500; 50 by default"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "Opaque: the `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of replenishment requests", body = ReplenishmentPage),
    ),
)]
async fn list_replenishments(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ReplenishmentPage>, ApiError> {
    let params = Params::parse(query.as_deref(), &["sku", "status", "limit", "cursor"])?;
    let filter = ReplenishmentFilter {
        sku: params.sku("sku")?,
        status: params.choice(
            "status",
            &ReplenishmentStatus::ALL,
            ReplenishmentStatus::as_str,
        )?,
    };
    let limit = params.limit()?;
    let after: Option<ReplenishmentKey> = params.cursor(Listing::Replenishments)?;
    let page = app
        .read
        .replenishments(&filter, after.as_ref(), limit)
        .await?;
    Ok(Json(ReplenishmentPage {
        next_cursor: next_cursor(&page, Listing::Replenishments, Replenishment::key),
        items: page.items,
    }))
}
