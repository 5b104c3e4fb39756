//! The goals of docs/performance.md, each set against this run's figure, and the figures a
//! sane run has above zero.

use crate::results::{Baselines, Goal, Stockflow};

/// Most resident memory a service may reach (docs/performance.md).
pub const MEMORY_GOAL_MIB: f64 = 100.0;

fn against(
    what: &str,
    value: f64,
    unit: &'static str,
    baseline: (&str, f64),
    at_least: Option<f64>,
    at_most: Option<f64>,
) -> Goal {
    let ratio = value / baseline.1.max(1e-9);
    let (goal, met) = match (at_least, at_most) {
        (Some(min), _) => (format!("≥ {min} × {}", baseline.0), ratio >= min),
        (_, Some(max)) => (format!("≤ {max} × {}", baseline.0), ratio <= max),
        _ => (String::new(), true),
    };
    Goal {
        what: what.to_owned(),
        value,
        unit,
        baseline: Some((baseline.0.to_owned(), baseline.1)),
        ratio: Some(ratio),
        goal,
        met,
    }
}

fn at_most(what: &str, value: f64, unit: &'static str, max: f64) -> Goal {
    Goal {
        what: what.to_owned(),
        value,
        unit,
        baseline: None,
        ratio: None,
        goal: format!("≤ {max} {unit}"),
        met: value <= max,
    }
}

pub fn goals(s: &Stockflow, b: &Baselines) -> Vec<Goal> {
    let mut goals = vec![
        against(
            "place-order commands/s, relay and projector running",
            s.max_rate.commands.per_second,
            "/s",
            ("B1", b.b1_place_order_sql.transactions_per_second),
            Some(1.0),
            None,
        ),
        at_most(
            "command p99 at half the max rate",
            s.half_rate.commands.p99_ms,
            "ms",
            25.0,
        ),
        at_most(
            "command → query visibility lag p99 at half the max rate",
            s.half_rate.visibility_lag.p99_ms,
            "ms",
            50.0,
        ),
        against(
            "projection rebuild events/s",
            s.rebuild["events_per_second"].as_f64().unwrap_or(0.0),
            "/s",
            ("B4", b.b4_insert_select.events_per_second),
            Some(0.3),
            None,
        ),
        against(
            "GET /v1/products/{sku} req/s",
            s.product_reads.per_second,
            "/s",
            ("B3", b.b3_primary_key_select.transactions_per_second),
            Some(0.6),
            None,
        ),
        at_most(
            "GET /v1/products/{sku} p99",
            s.product_reads.p99_ms,
            "ms",
            5.0,
        ),
        against(
            &format!(
                "place-order p99 on a product with {} events",
                s.hot_product.seeded_events
            ),
            s.hot_product.hot.p99_ms,
            "ms",
            ("a new product", s.hot_product.new.p99_ms),
            None,
            Some(1.2),
        ),
        against(
            &format!(
                "command p99 during a replay of {} events",
                s.replay.replay.to
            ),
            s.replay.during.p99_ms,
            "ms",
            ("alone", s.replay.alone.p99_ms),
            None,
            Some(1.2),
        ),
        against(
            "replay events/s, nothing else running",
            s.replay.replay.quiet_per_second,
            "/s",
            ("REPLAY_RATE", f64::from(s.replay.replay.rate_limit)),
            Some(0.9),
            None,
        ),
        at_most(
            &format!(
                "stock as of an instant, all {} products (slowest of {})",
                s.stock_as_of.products, s.stock_as_of.repetitions
            ),
            s.stock_as_of.all_pages_max_ms,
            "ms",
            1000.0,
        ),
    ];
    // The commands must also leave the relay and projector able to keep up.
    goals[0].met &= s.max_rate.keeps_up.verdict;
    for (service, mib) in &s.peak_rss_mib {
        goals.push(at_most(
            &format!("peak resident memory, {service}"),
            *mib,
            "MiB",
            MEMORY_GOAL_MIB,
        ));
    }
    goals
}

/// Figures a sane run has above zero.
pub fn figures(s: &Stockflow, b: &Baselines) -> Vec<(&'static str, f64)> {
    vec![
        ("B1 tps", b.b1_place_order_sql.transactions_per_second),
        ("B2 messages/s", b.b2_publish.messages_per_second),
        ("B3 tps", b.b3_primary_key_select.transactions_per_second),
        ("B4 events/s", b.b4_insert_select.events_per_second),
        ("place-order/s", s.max_rate.commands.per_second),
        ("events/s at the most", s.max_rate.events_per_second),
        ("command p99", s.half_rate.commands.p99_ms),
        ("visibility lag p99", s.half_rate.visibility_lag.p99_ms),
        ("product reads/s", s.product_reads.per_second),
        ("hot product p99", s.hot_product.hot.p99_ms),
        ("new product p99", s.hot_product.new.p99_ms),
        (
            "rebuild events/s",
            s.rebuild["events_per_second"].as_f64().unwrap_or(0.0),
        ),
        (
            "stock as of an instant, all pages",
            s.stock_as_of.all_pages_p50_ms,
        ),
        (
            "stock as of an instant, page p99",
            s.stock_as_of.page.p99_ms,
        ),
        ("stock now, page p99", s.stock_as_of.now_page.p99_ms),
        ("command p99 before a replay", s.replay.alone.p99_ms),
        ("command p99 during a replay", s.replay.during.p99_ms),
        ("replay events published", s.replay.replay.published as f64),
        (
            "replay events/s, commands running",
            s.replay.replay.with_commands_per_second,
        ),
        (
            "replay events/s, nothing else running",
            s.replay.replay.quiet_per_second,
        ),
        (
            "replayed events delivered",
            s.replay.replay.delivered as f64,
        ),
    ]
}
