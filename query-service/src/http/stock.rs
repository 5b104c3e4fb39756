//! Every product's stock and its value as they stood at an instant, as JSON or CSV.

use std::fmt::Write;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::movements::NEXT_CURSOR_HEADER;
use super::params::{self, Params};
use super::{AppState, next_cursor};
use crate::cursor::Listing;
use crate::read_models::{StockItem, StockKey};

/// Where the CSV form says which instant and position it shows.
const AS_OF_HEADER: &str = "x-as-of";
const AS_OF_POSITION_HEADER: &str = "x-as-of-position";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stock))
}

/// A page of the products as they stood at an instant, by sku.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StockPage {
    /// The instant asked for (a date stands for its last microsecond, UTC).
    as_of: DateTime<Utc>,
    /// The last event included: every change recorded at or before `as_of` is in, none
    /// after. The same on every page of one listing.
    position: i64,
    items: Vec<StockItem>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/analytics/stock",
    summary = "Every product's stock and its value at an instant",
    description = "The products registered by `as_of`, each with its units on hand, reserved \
        and available as they stood then, valued at the price in force then. A cursor keeps \
        the instant and position of the listing's first page.",
    params(
        ("as_of" = Option<String>, Query, min_length = 1, description = "An RFC 3339 instant, or a date `YYYY-MM-DD` meaning its end (UTC); now by default"),
        ("currency" = Option<String>, Query, pattern = "^[A-Z]{3}$", description = "Only products priced in this currency"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size, 1 to 500; 50 by default"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "Opaque: the `next_cursor` of the previous page (or the CSV form's `X-Next-Cursor`)"),
        ("Accept" = Option<String>, Header, description = "`text/csv` (preferred over JSON by RFC 9110 negotiation) gives the items as CSV with a header line"),
    ),
    responses(
        (status = 200, description = "A page of products as they stood", content(
            (StockPage = "application/json"),
            (String = "text/csv", example = "sku,currency,on_hand,reserved,available,unit_price_cents,stock_value_cents\nSKU-1,EUR,5,2,3,1250,6250\n"),
        ), headers(
            ("X-As-Of" = String, description = "CSV only: the instant shown (RFC 3339)"),
            ("X-As-Of-Position" = i64, description = "CSV only: the last event included"),
            ("X-Next-Cursor" = String, description = "CSV only, when more pages follow: pass it as `cursor` for the next page"),
        )),
    ),
)]
async fn stock(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref(), &["as_of", "currency", "limit", "cursor"])?;
    // The instant is inclusive: the exclusive end the range parser gives, less the
    // store's precision (a microsecond).
    let asked = params
        .range_end("as_of")?
        .map(|end| end - TimeDelta::microseconds(1));
    let currency = params.currency("currency")?;
    let limit = params.limit()?;
    let after: Option<StockKey> = params.cursor(Listing::Stock)?;
    let (as_of, pinned) = match &after {
        Some(key) => {
            let as_of = DateTime::<Utc>::from_timestamp_micros(key.as_of_us)
                .filter(|cursor| asked.is_none_or(|asked| asked == *cursor))
                .ok_or_else(|| {
                    ApiError::invalid("cursor", "continues a listing at another as_of")
                })?;
            (as_of, Some(key.position))
        }
        None => (asked.unwrap_or_else(now), None),
    };
    let at = app
        .read
        .stock_at(
            as_of,
            pinned,
            currency.as_deref(),
            after.as_ref().map(|key| key.sku.as_str()),
            limit,
        )
        .await?;
    let next_cursor = next_cursor(&at.page, Listing::Stock, |item| StockKey {
        sku: item.sku.clone(),
        as_of_us: as_of.timestamp_micros(),
        position: at.position,
    });
    let page = StockPage {
        as_of,
        position: at.position,
        items: at.page.items,
        next_cursor,
    };
    if params::prefers_csv(&headers) {
        return Ok(csv(page));
    }
    Ok(Json(page).into_response())
}

/// Now, to the store's precision, so that a cursor carries it exactly.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The items as CSV, with a header line; the instant, position and next cursor in headers.
/// No value needs quoting: skus (A-Z 0-9 - _), currencies (A-Z) and integers.
fn csv(page: StockPage) -> Response {
    let mut body = String::from(
        "sku,currency,on_hand,reserved,available,unit_price_cents,stock_value_cents\n",
    );
    for i in &page.items {
        let _ = writeln!(
            body,
            "{},{},{},{},{},{},{}",
            i.sku,
            i.currency,
            i.on_hand,
            i.reserved,
            i.available,
            i.unit_price_cents,
            i.stock_value_cents
        );
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let as_of = page.as_of.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    if let Ok(value) = HeaderValue::from_str(&as_of) {
        headers.insert(AS_OF_HEADER, value);
    }
    headers.insert(AS_OF_POSITION_HEADER, HeaderValue::from(page.position));
    if let Some(cursor) = page
        .next_cursor
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        headers.insert(NEXT_CURSOR_HEADER, cursor);
    }
    response
}
