//! The query service's metrics: their names, what each means, and the series that exist
//! from start-up.

use stockflow_edge::metrics::Metric;

pub const FEED_STREAMS: &str = "stockflow_feed_streams";
pub const FEED_BUFFERED: &str = "stockflow_feed_buffered_events";
pub const FEED_EVENTS: &str = "stockflow_feed_events_total";

pub const CATALOG: &[Metric] = &[
    Metric::gauge(
        FEED_STREAMS,
        "Event streams open (GET /v1/events as Server-Sent Events).",
    ),
    Metric::gauge(
        FEED_BUFFERED,
        "Events the open event streams have read from the store and not yet sent (at most 500 a stream).",
    ),
    Metric::counter(
        FEED_EVENTS,
        "Events the event feed sent, by mode: `page` (JSON) or `stream` (Server-Sent Events).",
    )
    .with_series(&[&[("mode", "page")], &[("mode", "stream")]]),
];
