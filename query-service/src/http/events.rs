//! The event feed over HTTP (docs/api.md, "Event feed"): `GET /v1/events` answers a page of
//! events as JSON, or, asked for `text/event-stream`, a stream of Server-Sent Events that
//! catches up and then follows new commits. Needs the `events:read` scope.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use stockflow_edge::Scope;
use stockflow_event_store::FeedFilter;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::params::{Params, prefers_event_stream};
use crate::feed::{DEFAULT_LIMIT, FeedStream, MAX_LIMIT, Published};

pub const PATH: &str = "/v1/events";
/// The header a reconnecting event stream client sends with the last `id` it received.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// The scope a request to `path` needs: `events:read` for the feed, which shows every event
/// with its metadata, `queries:read` for the rest of the API.
pub(crate) fn required_scope(path: &str) -> Scope {
    if path == PATH {
        Scope::EventsRead
    } else {
        Scope::QueriesRead
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// A page of the event feed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventPage {
    /// The events after `after` that pass the filters, in position order: each is the
    /// message body published to RabbitMQ for it, byte for byte.
    #[schema(value_type = Vec<PublishedEvent>)]
    events: Vec<Box<RawValue>>,
    /// Pass it as `after` for the next page: the last position this page examined. A page
    /// with filters may be empty and still advance.
    next_after: i64,
    /// The position of the store's last committed event when the page was read.
    head: i64,
}

/// A stockflow event as published: CloudEvents 1.0 in structured-mode JSON, with the
/// extensions `position`, `streamversion`, `correlationid`, `causationid` and
/// `traceparent` (docs/events.md has each payload's schema).
#[derive(ToSchema)]
#[schema(as = CloudEvent)]
// Documentation only: events are sent as the bytes the relay publishes, never built from it.
#[allow(dead_code)]
pub(crate) struct PublishedEvent {
    #[schema(example = "1.0")]
    specversion: String,
    /// Unique per event (UUID v7): deduplicate on it.
    id: Uuid,
    #[schema(example = "/stockflow")]
    source: String,
    /// `com.stockflow.<aggregate>.<event>.v<N>`.
    #[schema(example = "com.stockflow.order.placed.v1")]
    r#type: String,
    /// The stream: `product-<sku>` or `order-<order_id>`.
    #[schema(example = "product-SKU-1")]
    subject: String,
    /// When it was recorded.
    time: DateTime<Utc>,
    #[schema(example = "application/json")]
    datacontenttype: String,
    /// The payload; its schema depends on `type`.
    #[schema(value_type = Object)]
    data: serde_json::Value,
    /// The global position: gap-free, in commit order.
    #[schema(minimum = 1)]
    position: i64,
    /// The version of its stream this event made.
    #[schema(minimum = 1)]
    streamversion: i64,
    /// Shared by every event one request caused.
    #[schema(nullable = false)]
    correlationid: Option<Uuid>,
    /// The request (command) that caused it.
    #[schema(nullable = false)]
    causationid: Option<Uuid>,
    /// The W3C trace context of that request, when it carried one.
    #[schema(nullable = false)]
    traceparent: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/events",
    summary = "The stored events, as published: a page, or a live stream",
    description = "Every committed event after `after`, in position order, each exactly as it \
        was published to RabbitMQ. As JSON, a page of at most `limit` events. With \
        `Accept: text/event-stream`, Server-Sent Events: each event is sent as `id: <position>`, \
        `event: <routing key>` and `data: <the CloudEvents JSON>`; the stream catches up from \
        the store and then follows new commits, with a comment line when idle. A reconnecting \
        client sends `Last-Event-ID` and goes on after it. The filters combine: repeated `type`s \
        are alternatives, and every kind of filter given must hold.",
    params(
        ("after" = Option<i64>, Query, minimum = 0, description = "Only events after this position; 0 (the default) is from the first"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000; 100 by default (a stream is not paged)"),
        ("type" = Option<Vec<String>>, Query, style = Form, explode, description = "Only events of this routing key (`order.placed`), or of any event of an aggregate (`order.*`); may be repeated"),
        ("stream" = Option<String>, Query, pattern = r"^(order-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|product-[A-Z0-9_-]{1,32})$", description = "Only events of this stream: `order-<order_id>` or `product-<sku>`"),
        ("correlation_id" = Option<Uuid>, Query, description = "Only events of the requests with this correlation id"),
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "The last position received; takes the place of `after` (what a reconnecting event stream client sends)"),
    ),
    responses(
        (status = 200, description = "A page of events, or (`Accept: text/event-stream`) the events as Server-Sent Events", content(
            (EventPage = "application/json"),
            (String = "text/event-stream"),
        )),
    ),
)]
async fn events(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse_repeatable(
        query.as_deref(),
        &["after", "limit", "type", "stream", "correlation_id"],
        &["type"],
    )?;
    let filter = FeedFilter {
        types: types(&params)?,
        stream_id: params.get("stream").map(stream_id).transpose()?,
        correlation_id: params
            .get("correlation_id")
            .map(correlation_id)
            .transpose()?,
    };
    let limit = params.limit_up_to(DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = params.non_negative_integer("after")?.unwrap_or(0);
    // A reconnecting client resends the URL it started with: its Last-Event-ID is the newer.
    let after = last_event_id(&headers)?.unwrap_or(after);
    if prefers_event_stream(&headers) {
        let stream = app.feed.stream(filter, after);
        let keep_alive = KeepAlive::new().interval(app.feed.heartbeat());
        let mut response = Sse::new(sse_events(stream))
            .keep_alive(keep_alive)
            .into_response();
        // Proxies that buffer answers would hold the events back.
        response
            .headers_mut()
            .insert("x-accel-buffering", HeaderValue::from_static("no"));
        return Ok(response);
    }
    let page = app.feed.page(&filter, after, limit).await?;
    let events = page
        .events
        .into_iter()
        .map(|event| RawValue::from_string(event.body).expect("a published body is JSON"))
        .collect();
    Ok(Json(EventPage {
        events,
        next_after: page.next_after,
        head: page.head,
    })
    .into_response())
}

/// The stream as Server-Sent Events, pulled one event at a time by the connection.
fn sse_events(
    stream: FeedStream,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> + Send + 'static {
    futures_util::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok(sse_event(event)), stream))
    })
}

fn sse_event(event: Published) -> Event {
    Event::default()
        .id(event.position.to_string())
        .event(event.routing_key)
        .data(event.body)
}

/// `type`: routing keys, or `<aggregate>.*` for all of an aggregate's; the routing keys of
/// them all.
fn types(params: &Params) -> Result<Vec<String>, ApiError> {
    let mut types: Vec<String> = Vec::new();
    for raw in params.all("type") {
        let matching = stockflow_events::routing_keys(raw);
        if matching.is_empty() {
            return Err(ApiError::invalid(
                "type",
                format!(
                    "`{raw}` is not an event type; use a routing key such as order.placed, or order.* / product.*"
                ),
            ));
        }
        for routing_key in matching {
            if !types.contains(&routing_key) {
                types.push(routing_key);
            }
        }
    }
    Ok(types)
}

/// `stream`: `order-<uuid>` or `product-<sku>`, as the store names streams.
fn stream_id(raw: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "stream",
            "must be a stream id: order-<order_id> (a UUID) or product-<sku>",
        )
    };
    if let Some(order_id) = raw.strip_prefix("order-") {
        return hyphenated_uuid(order_id)
            .map(|id| stockflow_events::order_stream(&id))
            .ok_or_else(invalid);
    }
    let sku = raw.strip_prefix("product-").ok_or_else(invalid)?;
    stockflow_domain::values::Sku::parse(sku)
        .map(|sku| stockflow_events::product_stream(sku.as_str()))
        .map_err(|_| invalid())
}

fn correlation_id(raw: &str) -> Result<Uuid, ApiError> {
    hyphenated_uuid(raw).ok_or_else(|| {
        ApiError::invalid(
            "correlation_id",
            "must be a UUID (8-4-4-4-12 hexadecimal digits)",
        )
    })
}

/// A UUID in its one documented spelling, 8-4-4-4-12 hexadecimal digits.
fn hyphenated_uuid(raw: &str) -> Option<Uuid> {
    (raw.len() == 36)
        .then(|| Uuid::try_parse(raw).ok())
        .flatten()
}

/// `Last-Event-ID`: a position, as sent in an event's `id`.
fn last_event_id(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let mut values = headers.get_all(LAST_EVENT_ID).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |message| Err(ApiError::invalid("Last-Event-ID", message));
    if values.next().is_some() {
        return invalid("is given more than once");
    }
    let position = value.to_str().ok().map(str::trim).and_then(|v| {
        (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .then(|| v.parse::<i64>().ok())
            .flatten()
    });
    match position {
        Some(position) => Ok(Some(position)),
        None => invalid("must be a position (a non-negative integer), as sent in an event's id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(query: &str) -> Params {
        Params::parse_repeatable(Some(query), &["type"], &["type"]).expect("parses")
    }

    #[test]
    fn types_take_routing_keys_and_whole_aggregates() {
        assert_eq!(
            types(&parsed("type=order.placed&type=order.placed")).expect("valid"),
            ["order.placed"]
        );
        let orders = types(&parsed("type=order.*")).expect("valid");
        assert!(orders.iter().all(|t| t.starts_with("order.")));
        assert_eq!(orders.len(), 5);
        for bad in [
            "nope",
            "order.nope",
            "order",
            "*",
            "order.*.*",
            "ORDER.placed",
        ] {
            let query = format!("type={bad}");
            assert!(types(&parsed(&query)).is_err(), "{bad}");
        }
    }

    #[test]
    fn streams_and_correlation_ids_have_one_spelling() {
        let id = "0192f5a4-7c1e-7d2b-9a3c-4d5e6f708192";
        assert_eq!(
            stream_id(&format!("order-{id}")).ok(),
            Some(format!("order-{id}"))
        );
        assert_eq!(
            stream_id(&format!("order-{}", id.to_uppercase())).ok(),
            Some(format!("order-{id}"))
        );
        assert_eq!(
            stream_id("product-SKU-1").ok(),
            Some("product-SKU-1".to_owned())
        );
        for bad in [
            "x",
            "order-1",
            "product-",
            "product-sku",
            "order-0192f5a47c1e7d2b9a3c4d5e6f708192",
        ] {
            assert!(stream_id(bad).is_err(), "{bad}");
        }
        assert!(correlation_id(id).is_ok());
        assert!(correlation_id("{0192f5a4-7c1e-7d2b-9a3c-4d5e6f708192}").is_err());
    }
}
