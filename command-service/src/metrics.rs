//! The command service's metrics: their names, what each means, and the series that exist
//! from start-up.

use metrics::Unit;
use stockflow_edge::metrics::Metric;

pub const COMMANDS: &str = "stockflow_commands_total";
pub const COMMAND_DURATION: &str = "stockflow_command_duration_seconds";
pub const APPEND_BATCH_SIZE: &str = "stockflow_append_batch_size";
pub const WRITER_WAIT: &str = "stockflow_writer_wait_seconds";
pub const APPEND_DURATION: &str = "stockflow_append_seconds";
pub const APPEND_BATCH_EVENTS: &str = "stockflow_append_batch_events_size";
pub const RELAY_LAG_EVENTS: &str = "stockflow_relay_lag_events";
pub const RELAY_PUBLISHED_POSITION: &str = "stockflow_relay_published_position";
pub const RELAY_CONFIRMS: &str = "stockflow_relay_confirms_total";
pub const RELAY_CONFIRMED_AFTER: &str = "stockflow_relay_confirmed_after_seconds";
pub const REPLAY_EVENTS_PUBLISHED: &str = "stockflow_replay_events_published_total";
pub const REPLAYS_RUNNING: &str = "stockflow_replays_running";
pub const REPLAY_RATE: &str = "stockflow_replay_rate";

pub const CATALOG: &[Metric] = &[
    Metric::counter(
        COMMANDS,
        "Commands answered, by command and HTTP status (replays and refusals included).",
    )
    .with_series(&[
        &[("command", "register_product"), ("status", "201")],
        &[("command", "receive_stock"), ("status", "200")],
        &[("command", "adjust_stock"), ("status", "200")],
        &[("command", "change_price"), ("status", "200")],
        &[("command", "discontinue"), ("status", "200")],
        &[("command", "place_order"), ("status", "201")],
        &[("command", "cancel_order"), ("status", "200")],
        &[("command", "ship_order"), ("status", "200")],
    ]),
    Metric::histogram(
        COMMAND_DURATION,
        Unit::Seconds,
        "Time from a command reaching the writer to its answer, by command.",
    )
    .with_series(&[
        &[("command", "register_product")],
        &[("command", "receive_stock")],
        &[("command", "adjust_stock")],
        &[("command", "change_price")],
        &[("command", "discontinue")],
        &[("command", "place_order")],
        &[("command", "cancel_order")],
        &[("command", "ship_order")],
    ]),
    Metric::histogram(
        WRITER_WAIT,
        Unit::Seconds,
        "Time a command waits for the writer to take it into a batch (the batch before it \
         deciding and committing).",
    ),
    Metric::histogram(
        APPEND_DURATION,
        Unit::Seconds,
        "Time of one group commit: the append of a batch's events and idempotency records.",
    ),
    Metric::histogram(
        APPEND_BATCH_SIZE,
        Unit::Count,
        "Commands decided together in one group commit.",
    ),
    Metric::histogram(
        APPEND_BATCH_EVENTS,
        Unit::Count,
        "Events appended in one group commit.",
    ),
    Metric::gauge(
        RELAY_LAG_EVENTS,
        "Events committed to the store and not yet confirmed by the broker.",
    ),
    Metric::gauge(
        RELAY_PUBLISHED_POSITION,
        "The relay's checkpoint: the last position the broker confirmed.",
    ),
    Metric::counter(
        RELAY_CONFIRMS,
        "Publisher confirms the relay received, by result (ack or nack; a nack is published again).",
    )
    .with_series(&[&[("result", "ack")], &[("result", "nack")]]),
    Metric::histogram(
        RELAY_CONFIRMED_AFTER,
        Unit::Seconds,
        "Time from an event's commit to the broker's confirm of it.",
    ),
    Metric::counter(
        REPLAY_EVENTS_PUBLISHED,
        "Events replays published to a queue and the broker confirmed.",
    ),
    Metric::gauge(REPLAYS_RUNNING, "Replays this service is running."),
    Metric::gauge(
        REPLAY_RATE,
        "Messages per second the running replays may publish now, together: their REPLAY_RATE, less while live commands slow down.",
    ),
];
