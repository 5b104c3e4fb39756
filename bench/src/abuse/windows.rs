//! The run cut into windows (before the attacks, during each, after each), and what each
//! window saw: the normal client's success and latency, and the services' memory, CPU and
//! connections as sampled. Pure functions over what was recorded, so that they can be tested.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::load::percentile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Before,
    During,
    After,
}

/// A stretch of the run, in seconds since it started: `[start, end)`.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub name: String,
    pub phase: Phase,
    pub start: f64,
    pub end: f64,
}

impl Window {
    pub fn holds(&self, at: f64) -> bool {
        self.start <= at && at < self.end
    }
}

/// What a request of the normal client fails with when a full connection cap refused the
/// new connection it needed: the service answers 503 `overloaded` before reading anything.
pub const CAP_REFUSAL: &str = "refused: connection cap full";

/// One request of the normal client: when it was due (seconds since the run started), what
/// it was (`read`, `order`), and its latency from then, or what it failed with.
#[derive(Debug, Clone)]
pub struct Sample {
    pub due: f64,
    pub what: &'static str,
    pub outcome: Result<Duration, String>,
}

/// The normal client's requests due in a window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Traffic {
    pub sent: u64,
    pub succeeded: u64,
    pub success_percent: f64,
    /// Requests refused because the connection cap was full when they needed a new
    /// connection, and the success of the others: those the listener let in.
    pub refused_by_cap: u64,
    pub admitted_success_percent: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Failed requests by what they failed with.
    pub failures: BTreeMap<String, u64>,
}

/// What the requests due in `window` did. A window with no request counts as 0 % success:
/// the client was not measured there, and that must not pass.
pub fn traffic(samples: &[Sample], window: &Window) -> Traffic {
    let mut latencies = Vec::new();
    let mut failures = BTreeMap::new();
    for sample in samples.iter().filter(|s| window.holds(s.due)) {
        match &sample.outcome {
            Ok(latency) => latencies.push(*latency),
            Err(failure) => *failures.entry(failure.clone()).or_insert(0) += 1,
        }
    }
    latencies.sort_unstable();
    let succeeded = latencies.len() as u64;
    let sent = succeeded + failures.values().sum::<u64>();
    let refused_by_cap = failures.get(CAP_REFUSAL).copied().unwrap_or(0);
    let percent = |of: u64| {
        if of == 0 {
            0.0
        } else {
            succeeded as f64 * 100.0 / of as f64
        }
    };
    Traffic {
        sent,
        succeeded,
        success_percent: percent(sent),
        refused_by_cap,
        admitted_success_percent: percent(sent - refused_by_cap),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: percentile(&latencies, 1.0),
        failures,
    }
}

/// Open connections to one listener, as the kernel listed them: from the normal client's
/// address (127.0.0.1) and from any other (the attackers').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Connections {
    pub normal: u64,
    pub attackers: u64,
}

/// One sample of the box: each service's resident memory and CPU seconds so far, the load
/// generator's CPU seconds, and the connections open to each attacked listener.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub at: f64,
    pub rss_mib: Vec<f64>,
    pub cpu_seconds: Vec<f64>,
    pub own_cpu_seconds: f64,
    pub connections: Vec<Connections>,
}

/// What one service did over a window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceUse {
    pub service: String,
    /// The most resident memory sampled in the window.
    pub peak_rss_mib: f64,
    pub cpu_seconds: f64,
}

/// The services' memory and CPU over a window, and the load generator's CPU.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BoxUse {
    pub services: Vec<ServiceUse>,
    pub load_generator_cpu_seconds: f64,
}

/// The readings taken in `window`, with the last one before it as the starting point of
/// the CPU counts.
pub fn box_use(readings: &[Reading], window: &Window, services: &[&str]) -> BoxUse {
    let inside: Vec<&Reading> = readings.iter().filter(|r| window.holds(r.at)).collect();
    let first = readings
        .iter()
        .rev()
        .find(|r| r.at < window.start)
        .or(inside.first().copied());
    let last = inside.last().copied();
    let spent = |of: &dyn Fn(&Reading) -> f64| match (first, last) {
        (Some(first), Some(last)) => (of(last) - of(first)).max(0.0),
        _ => 0.0,
    };
    BoxUse {
        services: services
            .iter()
            .enumerate()
            .map(|(i, name)| ServiceUse {
                service: (*name).to_owned(),
                peak_rss_mib: inside
                    .iter()
                    .filter_map(|r| r.rss_mib.get(i).copied())
                    .fold(0.0, f64::max),
                cpu_seconds: spent(&|r| r.cpu_seconds.get(i).copied().unwrap_or(0.0)),
            })
            .collect(),
        load_generator_cpu_seconds: spent(&|r| r.own_cpu_seconds),
    }
}

/// The most attackers' connections open to each attacked listener at once in `window`.
pub fn most_attackers(readings: &[Reading], window: &Window) -> Vec<u64> {
    let mut most: Vec<u64> = Vec::new();
    for reading in readings.iter().filter(|r| window.holds(r.at)) {
        most.resize(most.len().max(reading.connections.len()), 0);
        for (most, now) in most.iter_mut().zip(&reading.connections) {
            *most = (*most).max(now.attackers);
        }
    }
    most
}

/// The connections open to each attacked listener at the last reading before `at`.
pub fn connections_at(readings: &[Reading], at: f64) -> Vec<Connections> {
    readings
        .iter()
        .rev()
        .find(|r| r.at <= at)
        .map(|r| r.connections.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: f64, end: f64) -> Window {
        Window {
            name: "w".into(),
            phase: Phase::During,
            start,
            end,
        }
    }

    fn ok(due: f64, ms: u64) -> Sample {
        Sample {
            due,
            what: "read",
            outcome: Ok(Duration::from_millis(ms)),
        }
    }

    fn failed(due: f64, why: &str) -> Sample {
        Sample {
            due,
            what: "order",
            outcome: Err(why.into()),
        }
    }

    #[test]
    fn a_window_counts_the_requests_due_in_it() {
        let mut samples: Vec<Sample> = (1..=100)
            .map(|ms| ok(1.0 + ms as f64 / 1000.0, ms))
            .collect();
        samples.push(failed(1.5, CAP_REFUSAL));
        samples.push(failed(1.6, CAP_REFUSAL));
        samples.push(failed(1.7, "connect failed"));
        // Outside the window, on either side: not counted, however slow or failed.
        samples.push(ok(0.99, 10_000));
        samples.push(failed(2.0, "timed out"));
        let t = traffic(&samples, &window(1.0, 2.0));
        assert_eq!((t.sent, t.succeeded), (103, 100));
        assert!((t.success_percent - 100.0 * 100.0 / 103.0).abs() < 1e-9);
        // Of the 101 the listener let in, 100 succeeded.
        assert_eq!(t.refused_by_cap, 2);
        assert!((t.admitted_success_percent - 100.0 * 100.0 / 101.0).abs() < 1e-9);
        assert_eq!((t.p50_ms, t.p99_ms, t.max_ms), (50.0, 99.0, 100.0));
        assert_eq!(t.failures[CAP_REFUSAL], 2);
        assert_eq!(t.failures["connect failed"], 1);
        assert!(!t.failures.contains_key("timed out"));
    }

    #[test]
    fn a_window_without_requests_does_not_look_successful() {
        let t = traffic(&[ok(5.0, 1)], &window(1.0, 2.0));
        assert_eq!(t.sent, 0);
        assert_eq!((t.success_percent, t.admitted_success_percent), (0.0, 0.0));
        // Nor one where the cap refused every request.
        let t = traffic(&[failed(1.5, CAP_REFUSAL)], &window(1.0, 2.0));
        assert_eq!((t.sent, t.admitted_success_percent), (1, 0.0));
    }

    fn reading(at: f64, rss: f64, cpu: f64, attackers: u64) -> Reading {
        Reading {
            at,
            rss_mib: vec![rss, 20.0],
            cpu_seconds: vec![cpu, 1.0],
            own_cpu_seconds: cpu * 2.0,
            connections: vec![Connections {
                normal: 1,
                attackers,
            }],
        }
    }

    #[test]
    fn memory_peaks_and_cpu_is_spent_within_the_window() {
        let readings = [
            reading(0.5, 90.0, 1.0, 0),
            reading(1.0, 30.0, 2.0, 5),
            reading(1.5, 45.0, 3.5, 200),
            reading(2.5, 80.0, 9.0, 0),
        ];
        let u = box_use(
            &readings,
            &window(1.0, 2.0),
            &["query-service", "projector"],
        );
        // The 90 MiB before and 80 MiB after the window are not its own.
        assert_eq!(u.services[0].peak_rss_mib, 45.0);
        assert_eq!(u.services[1].peak_rss_mib, 20.0);
        // From the last reading before the window to its last one.
        assert_eq!(u.services[0].cpu_seconds, 2.5);
        assert_eq!(u.services[1].cpu_seconds, 0.0);
        assert_eq!(u.load_generator_cpu_seconds, 5.0);
        assert_eq!(most_attackers(&readings, &window(1.0, 2.0)), [200]);
        assert!(most_attackers(&readings, &window(5.0, 6.0)).is_empty());
        assert_eq!(connections_at(&readings, 2.0)[0].attackers, 200);
        assert_eq!(connections_at(&readings, 3.0)[0].attackers, 0);
        assert!(connections_at(&readings, 0.1).is_empty());
    }
}
