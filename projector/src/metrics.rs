//! The projector's metrics: their names, what each means, and the series that exist from
//! start-up.

use metrics::Unit;
use stockflow_edge::metrics::Metric;

pub const DEAD_LETTERED: &str = "stockflow_dead_lettered_total";
pub const DEAD_LETTERS_STORED: &str = "stockflow_dead_letters_stored";
pub const POSITION: &str = "stockflow_projector_position";
pub const LAG_EVENTS: &str = "stockflow_projector_lag_events";
pub const LAG_SECONDS: &str = "stockflow_projector_lag_seconds";
pub const BATCH_EVENTS: &str = "stockflow_projector_batch_events_size";
pub const BATCH_DURATION: &str = "stockflow_projector_batch_seconds";
pub const VISIBLE_AFTER: &str = "stockflow_projector_visible_after_seconds";
pub const DELIVERED_AFTER: &str = "stockflow_projector_delivered_after_seconds";
pub const RUNNING: &str = "stockflow_projector_running";
pub const PAUSED: &str = "stockflow_projector_paused";

pub const CATALOG: &[Metric] = &[
    Metric::counter(
        DEAD_LETTERED,
        "Messages the projector could not use: recorded as dead letters, or sent to its dead-letter queue when the store could not take them. Redeliveries count again.",
    ),
    Metric::gauge(
        DEAD_LETTERS_STORED,
        "Dead letters waiting in the store (ops.dead_letters) for an operator to replay or discard them.",
    ),
    Metric::gauge(
        POSITION,
        "The last position the read models include (the projector's checkpoint).",
    ),
    Metric::gauge(
        LAG_EVENTS,
        "Events in the store that the read models do not include yet.",
    ),
    Metric::gauge(
        LAG_SECONDS,
        "Age of the newest event applied, when its batch committed.",
    ),
    Metric::histogram(
        BATCH_EVENTS,
        Unit::Count,
        "Events applied in one read-model transaction.",
    ),
    Metric::histogram(
        BATCH_DURATION,
        Unit::Seconds,
        "Time to apply and commit one batch of events.",
    ),
    Metric::histogram(
        DELIVERED_AFTER,
        Unit::Seconds,
        "Time from an event's commit to the store until the projector receives it from the \
         broker (replays of old events included).",
    ),
    Metric::histogram(
        VISIBLE_AFTER,
        Unit::Seconds,
        "Time from an event's commit to the store until it is visible in the read models.",
    ),
    Metric::gauge(
        RUNNING,
        "1 while the projector applies events; 0 once it has stopped on an event it cannot apply, until an operator retries or skips it (GET /v1/admin/projections says which event).",
    ),
    Metric::gauge(
        PAUSED,
        "1 while an operator has paused the projection (nothing is applied; messages wait in the queue); 0 otherwise.",
    ),
];
