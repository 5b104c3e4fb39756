//! The overview's memory: the readings of the last minutes, oldest first, and the rates
//! between consecutive readings that the chart draws.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What one sampling read from the services' metrics; `None` where a service did not answer
/// or does not have the metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub at: DateTime<Utc>,
    /// `stockflow_commands_total`, summed over its labels.
    pub commands_total: Option<f64>,
    pub relay_position: Option<f64>,
    pub relay_lag_events: Option<f64>,
    pub projector_position: Option<f64>,
    pub lag_events: Option<f64>,
    pub lag_seconds: Option<f64>,
    pub dead_letters: Option<f64>,
    /// How far behind its primary the query service's database is (0 on a primary).
    pub replica_lag_seconds: Option<f64>,
}

impl Reading {
    /// A reading of nothing, at `at`.
    pub fn empty(at: DateTime<Utc>) -> Reading {
        Reading {
            at,
            commands_total: None,
            relay_position: None,
            relay_lag_events: None,
            projector_position: None,
            lag_events: None,
            lag_seconds: None,
            dead_letters: None,
            replica_lag_seconds: None,
        }
    }

    /// The store's head: what the relay published plus what it has still to publish.
    pub fn head(&self) -> Option<f64> {
        Some(self.relay_position? + self.relay_lag_events?)
    }
}

/// One point of the chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub commands_per_second: Option<f64>,
    pub events_per_second: Option<f64>,
    pub lag_events: Option<i64>,
    pub lag_seconds: Option<f64>,
}

/// The readings of the last `span`, oldest first.
#[derive(Debug, Clone)]
pub struct Ring {
    span: chrono::Duration,
    readings: VecDeque<Reading>,
}

impl Ring {
    pub fn new(span: std::time::Duration) -> Ring {
        Ring {
            span: chrono::Duration::from_std(span).unwrap_or(chrono::Duration::MAX),
            readings: VecDeque::new(),
        }
    }

    /// Adds the newest reading and forgets those older than the span before it.
    pub fn push(&mut self, reading: Reading) {
        self.readings.push_back(reading);
        let oldest = reading.at - self.span;
        while self.readings.front().is_some_and(|r| r.at < oldest) {
            self.readings.pop_front();
        }
    }

    pub fn latest(&self) -> Option<&Reading> {
        self.readings.back()
    }

    pub fn len(&self) -> usize {
        self.readings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.readings.is_empty()
    }

    /// A point per reading: its lag, and the rates since the reading before it (none for
    /// the first).
    pub fn series(&self) -> Vec<Point> {
        let mut previous: Option<&Reading> = None;
        self.readings
            .iter()
            .map(|reading| {
                let rates = previous.map(|before| {
                    let seconds = (reading.at - before.at).as_seconds_f64();
                    (
                        counter_rate(before.commands_total, reading.commands_total, seconds),
                        position_rate(before.head(), reading.head(), seconds),
                    )
                });
                previous = Some(reading);
                let (commands_per_second, events_per_second) = rates.unwrap_or((None, None));
                Point {
                    at: reading.at,
                    commands_per_second,
                    events_per_second,
                    lag_events: reading.lag_events.map(whole),
                    lag_seconds: reading.lag_seconds,
                }
            })
            .collect()
    }
}

/// A counter's increase per second; a counter that went down has restarted from 0, so all
/// of its value is the increase (as Prometheus's `rate` reads it).
pub fn counter_rate(before: Option<f64>, after: Option<f64>, seconds: f64) -> Option<f64> {
    let (before, after) = (before?, after?);
    if seconds <= 0.0 {
        return None;
    }
    let increase = if after >= before {
        after - before
    } else {
        after
    };
    Some(increase / seconds)
}

/// A position's advance per second; none if it went back (a store replaced), which is no
/// rate at all.
pub fn position_rate(before: Option<f64>, after: Option<f64>, seconds: f64) -> Option<f64> {
    let (before, after) = (before?, after?);
    (seconds > 0.0 && after >= before).then(|| (after - before) / seconds)
}

/// A count read as a float from the text format, as the integer it is.
pub fn whole(value: f64) -> i64 {
    value.round() as i64
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_900_000_000 + second, 0).unwrap()
    }

    fn reading(second: i64, commands: f64, relay: f64, relay_lag: f64) -> Reading {
        Reading {
            commands_total: Some(commands),
            relay_position: Some(relay),
            relay_lag_events: Some(relay_lag),
            lag_events: Some(3.0),
            lag_seconds: Some(0.5),
            ..Reading::empty(at(second))
        }
    }

    #[test]
    fn rates_are_the_change_between_consecutive_readings_over_their_interval() {
        let mut ring = Ring::new(Duration::from_secs(900));
        ring.push(reading(0, 10.0, 100.0, 0.0));
        ring.push(reading(2, 30.0, 140.0, 4.0));
        ring.push(reading(4, 30.0, 150.0, 0.0));
        let series = ring.series();
        assert_eq!(series.len(), 3);
        assert_eq!(series[0].commands_per_second, None);
        assert_eq!(series[0].events_per_second, None);
        assert_eq!(series[0].lag_events, Some(3));
        assert_eq!(series[1].commands_per_second, Some(10.0));
        // The head is published + still to publish: 100 -> 144.
        assert_eq!(series[1].events_per_second, Some(22.0));
        assert_eq!(series[2].commands_per_second, Some(0.0));
        assert_eq!(series[2].events_per_second, Some(3.0));
    }

    #[test]
    fn a_restarted_counter_counts_from_zero_and_a_missing_value_gives_no_rate() {
        assert_eq!(counter_rate(Some(50.0), Some(8.0), 2.0), Some(4.0));
        assert_eq!(counter_rate(None, Some(8.0), 2.0), None);
        assert_eq!(counter_rate(Some(1.0), None, 2.0), None);
        assert_eq!(counter_rate(Some(1.0), Some(3.0), 0.0), None);
        assert_eq!(position_rate(Some(50.0), Some(8.0), 2.0), None);
        assert_eq!(position_rate(Some(8.0), Some(50.0), 2.0), Some(21.0));
        let mut ring = Ring::new(Duration::from_secs(900));
        ring.push(reading(0, 10.0, 100.0, 0.0));
        ring.push(Reading::empty(at(2)));
        ring.push(reading(4, 12.0, 110.0, 0.0));
        let series = ring.series();
        assert_eq!(series[1].commands_per_second, None);
        assert_eq!(series[1].lag_events, None);
        assert_eq!(series[2].commands_per_second, None);
    }

    #[test]
    fn readings_older_than_the_span_are_forgotten() {
        let mut ring = Ring::new(Duration::from_secs(10));
        for second in (0..=30).step_by(2) {
            ring.push(reading(second, second as f64, 0.0, 0.0));
        }
        // 20 through 30: the newest and the 10 seconds before it.
        assert_eq!(ring.len(), 6);
        assert_eq!(ring.series()[0].at, at(20));
        assert_eq!(ring.latest().map(|r| r.at), Some(at(30)));
    }
}
