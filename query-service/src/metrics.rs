//! The query service's metrics: their names, what each means, and the series that exist
//! from start-up.

use metrics::Unit;
use stockflow_edge::metrics::Metric;

pub const FEED_STREAMS: &str = "stockflow_feed_streams";
pub const FEED_BUFFERED: &str = "stockflow_feed_buffered_events";
pub const FEED_EVENTS: &str = "stockflow_feed_events_total";
pub const REPLICA_LAG_SECONDS: &str = "stockflow_replica_replay_lag_seconds";
pub const REPLICA_LAG_BYTES: &str = "stockflow_replica_replay_lag_bytes";
pub const MIN_POSITION_WAIT: &str = "stockflow_min_position_wait_seconds";

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
    Metric::histogram(
        MIN_POSITION_WAIT,
        Unit::Seconds,
        "Time a request with `min_position` waited for the read models to reach it (0 when they had; the timeout when they did not).",
    ),
    Metric::gauge(
        REPLICA_LAG_SECONDS,
        "How far behind its primary the query service's database server is, in seconds since the last transaction it replayed, while WAL it received waits to be replayed; 0 on a primary or a replica that has caught up (sampled every second).",
    ),
    Metric::gauge(
        REPLICA_LAG_BYTES,
        "WAL the query service's database server has received and not yet replayed, in bytes; 0 on a primary (sampled every second).",
    ),
];
