//! Customers: order counts and the lifetime value of their orders per currency.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::params::{self, Params};
use super::{AppState, path_id};
use crate::read_models::Customer;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_customer))
}

#[utoipa::path(
    get,
    path = "/v1/customers/{customer_id}",
    summary = "A customer's order counts and lifetime value",
    params(("customer_id" = String, Path, description = "The customer_id its orders were placed with")),
    responses(
        (status = 200, description = "The customer", body = Customer),
        (status = 404, description = "`customer_not_found`: no order names this customer", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn get_customer(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Customer>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let customer_id = path_id(path).unwrap_or_default();
    // An id the command API would refuse (too long, control characters) has no orders.
    if params::customer_id(&customer_id).is_err() {
        return Err(ApiError::CustomerNotFound(customer_id));
    }
    app.read
        .customer(&customer_id)
        .await?
        .map(Json)
        .ok_or(ApiError::CustomerNotFound(customer_id))
}
