//! Sales analytics over non-cancelled orders by UTC placement day, as JSON or CSV.

use std::fmt::Write;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::params::{self, Params, check_order};
use super::{AppState, ParameterSchemas};
use crate::read_models::{SalesFilter, SalesGrouping, SalesRows};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sales))
        .parameter_schema::<SalesGrouping>()
}

/// Sales over non-cancelled orders by UTC placement day.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Sales {
    rows: SalesRows,
}

/// `from` and `to` are inclusive days, each optional (no bound on that side); `group_by`
/// defaults to `day`; `currency` narrows to one currency.
#[utoipa::path(
    get,
    path = "/v1/analytics/sales",
    summary = "Sales over non-cancelled orders, by UTC placement day or by sku",
    params(
        ("from" = Option<chrono::NaiveDate>, Query, description = "First day, inclusive (`YYYY-MM-DD`)"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "Last day, inclusive (`YYYY-MM-DD`); not before from"),
        ("group_by" = Option<SalesGrouping>, Query, description = "`day` (the default) or `sku`"),
        ("currency" = Option<String>, Query, pattern = "^[A-Z]{3}$", description = "Only sales in this currency"),
        ("Accept" = Option<String>, Header, description = "`text/csv` (preferred over JSON by RFC 9110 negotiation) gives the rows as CSV with a header line"),
    ),
    responses(
        (status = 200, description = "The rows", content(
            (Sales = "application/json"),
            (String = "text/csv", example = "day,currency,orders,units,revenue_cents\n2026-11-21,EUR,2,5,5000\n"),
        )),
    ),
)]
async fn sales(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref(), &["from", "to", "group_by", "currency"])?;
    let filter = SalesFilter {
        from: params.date("from")?,
        to: params.date("to")?,
        currency: params.currency("currency")?,
    };
    check_order(("from", filter.from), ("to", filter.to))?;
    let grouping = params
        .choice("group_by", &SalesGrouping::ALL, SalesGrouping::as_str)?
        .unwrap_or(SalesGrouping::Day);
    let rows = app.read.sales(grouping, &filter).await?;
    if params::prefers_csv(&headers) {
        return Ok(csv(&rows));
    }
    Ok(Json(Sales { rows }).into_response())
}

/// The same rows as CSV, with a header line. No value needs quoting: days, skus (A-Z 0-9 -
/// _), currencies (A-Z) and integers contain no comma, quote or line break.
fn csv(rows: &SalesRows) -> Response {
    let mut body = String::new();
    match rows {
        SalesRows::ByDay(rows) => {
            body.push_str("day,currency,orders,units,revenue_cents\n");
            for r in rows {
                let _ = writeln!(
                    body,
                    "{},{},{},{},{}",
                    r.day, r.currency, r.orders, r.units, r.revenue_cents
                );
            }
        }
        SalesRows::BySku(rows) => {
            body.push_str("sku,currency,orders,units,revenue_cents\n");
            for r in rows {
                let _ = writeln!(
                    body,
                    "{},{},{},{},{}",
                    r.sku, r.currency, r.orders, r.units, r.revenue_cents
                );
            }
        }
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    response
}
