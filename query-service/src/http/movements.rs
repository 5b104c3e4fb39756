//! A product's stock movements, oldest first, as JSON or CSV.

use std::fmt::Write;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stockflow_domain::values::Sku;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::params::{self, Params};
use super::{AppState, next_cursor, path_id};
use crate::cursor::Listing;
use crate::read_models::{Movement, MovementFilter, MovementKey};

/// Where the CSV form of a page says how to go on.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(movements))
}

/// A page of a product's movements, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MovementPage {
    items: Vec<Movement>,
    /// Pass it back as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/products/{sku}/movements",
    summary = "A product's stock movements, oldest first",
    description = "Every event that changed the product's units on hand or reserved (its \
        registration, receipts, adjustments, reservations, filled backorders, releases and \
        shipments), with the levels after it.",
    params(
        ("sku" = String, Path, description = "The product's sku", example = "SKU-1"),
        ("from" = Option<String>, Query, min_length = 1, description = "Recorded at or after: a date `YYYY-MM-DD` (its start, UTC) or an RFC 3339 instant"),
        ("to" = Option<String>, Query, min_length = 1, description = "Recorded at or before: a date `YYYY-MM-DD` (all of it, UTC) or an RFC 3339 instant; not before from"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size, 1 to 500; 50 by default"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "Opaque: the `next_cursor` of the previous page (or the CSV form's `X-Next-Cursor`)"),
        ("Accept" = Option<String>, Header, description = "`text/csv` (preferred over JSON by RFC 9110 negotiation) gives the page as CSV with a header line"),
    ),
    responses(
        (status = 200, description = "A page of movements", content(
            (MovementPage = "application/json"),
            (String = "text/csv", example = "position,at,event,on_hand_change,reserved_change,on_hand,reserved,available,order_id,reference,reason\n1,2026-11-21T10:00:00Z,product.registered,5,0,5,0,5,,,\n"),
        ), headers(
            ("X-Next-Cursor" = String, description = "CSV only, when more pages follow: pass it as `cursor` for the next page"),
        )),
        (status = 404, description = "`product_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn movements(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref(), &["from", "to", "limit", "cursor"])?;
    let filter = MovementFilter {
        from: params.range_start("from")?,
        before: params.range_end("to")?,
    };
    // The end is exclusive (just after `to`): the period is empty when it starts there.
    if let (Some(from), Some(before)) = (filter.from, filter.before)
        && from >= before
    {
        return Err(ApiError::invalid("from", "must not be after to"));
    }
    let limit = params.limit()?;
    let after: Option<MovementKey> = params.cursor(Listing::Movements)?;
    let sku = path_id(path).unwrap_or_default();
    if let Some(key) = &after
        && key.sku != sku
    {
        return Err(ApiError::invalid(
            "cursor",
            "continues the movements of another product",
        ));
    }
    // A sku outside the alphabet cannot have been registered.
    if Sku::parse(&sku).is_err() {
        return Err(ApiError::ProductNotFound(sku));
    }
    let page = app
        .read
        .movements(&sku, &filter, after.map(|key| key.position), limit)
        .await?
        .ok_or_else(|| ApiError::ProductNotFound(sku.clone()))?;
    let next_cursor = next_cursor(&page, Listing::Movements, |m| MovementKey {
        sku: sku.clone(),
        position: m.position,
    });
    if params::prefers_csv(&headers) {
        return Ok(csv(&page.items, next_cursor));
    }
    Ok(Json(MovementPage {
        items: page.items,
        next_cursor,
    })
    .into_response())
}

/// The page as CSV, with a header line; the cursor of the next page in a header.
fn csv(items: &[Movement], next_cursor: Option<String>) -> Response {
    let mut body = String::from(
        "position,at,event,on_hand_change,reserved_change,on_hand,reserved,available,order_id,\
         reference,reason\n",
    );
    for m in items {
        let _ = writeln!(
            body,
            "{},{},{},{},{},{},{},{},{},{},{}",
            m.position,
            m.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            m.event,
            m.on_hand_change,
            m.reserved_change,
            m.on_hand,
            m.reserved,
            m.available,
            m.order_id.map(|id| id.to_string()).unwrap_or_default(),
            field(m.reference.as_deref()),
            field(m.reason.as_deref()),
        );
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    // Cursors are base64url: always a valid header value.
    if let Some(cursor) = next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(NEXT_CURSOR_HEADER, cursor);
    }
    response
}

/// A free-text field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a
/// comma, a quote or a line break (or starts with a space someone's parser would trim);
/// empty when absent.
fn field(value: Option<&str>) -> String {
    let Some(value) = value else {
        return String::new();
    };
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn free_text_is_quoted_only_when_it_must_be() {
        assert_eq!(field(None), "");
        assert_eq!(field(Some("PO-7")), "PO-7");
        assert_eq!(field(Some("damaged, wet")), "\"damaged, wet\"");
        assert_eq!(field(Some("the \"big\" one")), "\"the \"\"big\"\" one\"");
        assert_eq!(field(Some(" padded")), "\" padded\"");
    }
}
