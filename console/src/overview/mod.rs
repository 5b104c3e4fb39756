//! The overview: the services' readiness and the pipeline's figures, sampled in the
//! background from the services' open `/metrics` and `/readyz`, kept for the last minutes.

pub mod prometheus;
pub mod ring;
pub mod sampler;

use std::sync::RwLock;
use std::time::Duration;

use serde::Serialize;

use crate::upstream::Upstream;
use ring::{Point, Reading, Ring, whole};

/// How far back the chart goes.
pub const HISTORY: Duration = Duration::from_secs(15 * 60);

/// Whether one service answered its `/readyz` with 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub service: &'static str,
    pub ready: bool,
}

/// The body of `GET /api/overview`; figures are `null` until a service has given them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub readiness: Vec<Readiness>,
    pub series: Vec<Point>,
    pub head: Option<i64>,
    pub relay_position: Option<i64>,
    pub relay_lag_events: Option<i64>,
    pub projector_position: Option<i64>,
    pub lag_events: Option<i64>,
    pub lag_seconds: Option<f64>,
    pub dead_letters: Option<i64>,
    /// The query service's replica replay lag, in seconds: 0 when it reads from a primary.
    pub replica_lag_seconds: Option<f64>,
}

/// The latest readiness and the readings of the last [`HISTORY`], shared by the sampler
/// (which writes) and the API (which reads).
#[derive(Debug)]
pub struct Board {
    state: RwLock<(Vec<Readiness>, Ring)>,
}

impl Board {
    pub fn new(history: Duration) -> Board {
        let readiness = Upstream::ALL
            .iter()
            .map(|u| Readiness {
                service: u.service_name(),
                ready: false,
            })
            .collect();
        Board {
            state: RwLock::new((readiness, Ring::new(history))),
        }
    }

    /// Records one sampling.
    pub fn record(&self, readiness: Vec<Readiness>, reading: Reading) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.0 = readiness;
        state.1.push(reading);
    }

    pub fn overview(&self) -> Overview {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let (readiness, ring) = &*state;
        let latest = ring.latest();
        let figure = |pick: fn(&Reading) -> Option<f64>| latest.and_then(pick).map(whole);
        Overview {
            readiness: readiness.clone(),
            series: ring.series(),
            head: figure(Reading::head),
            relay_position: figure(|r| r.relay_position),
            relay_lag_events: figure(|r| r.relay_lag_events),
            projector_position: figure(|r| r.projector_position),
            lag_events: figure(|r| r.lag_events),
            lag_seconds: latest.and_then(|r| r.lag_seconds),
            dead_letters: figure(|r| r.dead_letters),
            replica_lag_seconds: latest.and_then(|r| r.replica_lag_seconds),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn before_the_first_sampling_nothing_is_ready_and_nothing_is_known() {
        let overview = Board::new(HISTORY).overview();
        assert_eq!(overview.readiness.len(), 3);
        assert!(overview.readiness.iter().all(|r| !r.ready));
        assert_eq!(overview.head, None);
        assert!(overview.series.is_empty());
    }

    #[test]
    fn the_figures_are_the_latest_readings_and_the_head_is_derived() {
        let board = Board::new(HISTORY);
        board.record(
            vec![Readiness {
                service: "projector",
                ready: true,
            }],
            Reading {
                relay_position: Some(40.0),
                relay_lag_events: Some(2.0),
                projector_position: Some(39.0),
                lag_events: Some(3.0),
                lag_seconds: Some(0.125),
                dead_letters: Some(1.0),
                replica_lag_seconds: Some(2.5),
                ..Reading::empty(Utc::now())
            },
        );
        let overview = board.overview();
        assert_eq!(overview.head, Some(42));
        assert_eq!(overview.projector_position, Some(39));
        assert_eq!(overview.lag_seconds, Some(0.125));
        assert_eq!(overview.dead_letters, Some(1));
        assert_eq!(overview.replica_lag_seconds, Some(2.5));
        assert_eq!(overview.series.len(), 1);
        assert!(overview.readiness[0].ready);
    }
}
