//! How long the writer's commands take, kept as running totals that anyone can read without
//! a lock: what a replay watches to give way to live commands (see `replay::pace`). A reader
//! keeps its last reading and takes the difference, so several read independently.

use std::array;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets of the durations' histogram. Bucket `i` holds durations below
/// `FIRST_BOUND × 2^(i/4)`, a quarter of an octave wider than the one before (19 %); the last
/// holds every longer one.
const BUCKETS: usize = 48;
/// The first bucket's upper bound, in microseconds.
const FIRST_BOUND: f64 = 100.0;

/// The commands answered since the writer started: how many, their summed time, and a
/// histogram of their times.
#[derive(Debug)]
pub struct CommandTimes {
    commands: AtomicU64,
    micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for CommandTimes {
    fn default() -> CommandTimes {
        CommandTimes {
            commands: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            buckets: array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl CommandTimes {
    pub(crate) fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
        self.micros.fetch_add(micros, Ordering::Relaxed);
        self.commands.fetch_add(1, Ordering::Relaxed);
    }

    /// The totals so far. Read field by field while commands go on, so a reading can be a
    /// command or two out between its fields: no matter for what it serves.
    pub fn read(&self) -> Reading {
        Reading {
            commands: self.commands.load(Ordering::Relaxed),
            total: Duration::from_micros(self.micros.load(Ordering::Relaxed)),
            buckets: array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
        }
    }
}

/// Commands over some stretch: a reading of the totals, or the difference of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub commands: u64,
    pub total: Duration,
    buckets: [u64; BUCKETS],
}

impl Default for Reading {
    fn default() -> Reading {
        Reading {
            commands: 0,
            total: Duration::ZERO,
            buckets: [0; BUCKETS],
        }
    }
}

impl Reading {
    /// The commands between `earlier` and this reading.
    pub fn since(&self, earlier: &Reading) -> Reading {
        Reading {
            commands: self.commands.saturating_sub(earlier.commands),
            total: self.total.saturating_sub(earlier.total),
            buckets: array::from_fn(|i| self.buckets[i].saturating_sub(earlier.buckets[i])),
        }
    }

    /// The commands of this stretch and of `other` together.
    pub fn plus(&self, other: &Reading) -> Reading {
        Reading {
            commands: self.commands + other.commands,
            total: self.total + other.total,
            buckets: array::from_fn(|i| self.buckets[i] + other.buckets[i]),
        }
    }

    /// The mean time, if any command was answered.
    pub fn mean(&self) -> Option<Duration> {
        (self.commands > 0).then(|| self.total / u32::try_from(self.commands).unwrap_or(u32::MAX))
    }

    /// The time that the share `q` of the commands took at most, to a quarter of an octave
    /// (the upper bound of its bucket), if any command was answered.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let counted: u64 = self.buckets.iter().sum();
        let rank = (q.clamp(0.0, 1.0) * counted as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(upper_bound(i));
            }
        }
        None
    }
}

fn bucket(micros: u64) -> usize {
    let octaves = (micros.max(1) as f64 / FIRST_BOUND).log2();
    ((octaves * 4.0).floor().max(-1.0) + 1.0).min((BUCKETS - 1) as f64) as usize
}

fn upper_bound(bucket: usize) -> Duration {
    Duration::from_secs_f64(FIRST_BOUND * 2f64.powf(bucket as f64 / 4.0) / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(millis: &[f64]) -> Reading {
        let times = CommandTimes::default();
        for &ms in millis {
            times.record(Duration::from_secs_f64(ms / 1e3));
        }
        times.read()
    }

    #[test]
    fn each_duration_lands_below_its_bucket_bound_and_above_the_one_before() {
        for micros in [1, 99, 100, 101, 150, 1_000, 4_321, 99_999, 2_000_000] {
            let i = bucket(micros);
            let upper = upper_bound(i).as_secs_f64() * 1e6;
            assert!(
                (micros as f64) < upper || i == BUCKETS - 1,
                "{micros} µs in {i}"
            );
            if i > 0 {
                assert!(micros as f64 >= upper_bound(i - 1).as_secs_f64() * 1e6 - 1e-6);
            }
        }
    }

    #[test]
    fn quantiles_come_within_a_bucket_of_the_true_ones() {
        let reading = times(&(1..=100).map(f64::from).collect::<Vec<_>>());
        for (q, exact) in [(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)] {
            let got = reading.quantile(q).expect("commands").as_secs_f64() * 1e3;
            assert!(
                got >= exact && got <= exact * 1.19,
                "p{q}: {got} ms against {exact}"
            );
        }
        assert_eq!(reading.mean(), Some(Duration::from_micros(50_500)));
        assert_eq!(Reading::default().quantile(0.9), None);
    }

    #[test]
    fn a_difference_holds_only_the_commands_in_between() {
        let earlier = times(&[1.0, 2.0]);
        let mut later = times(&[1.0, 2.0, 40.0, 40.0]);
        later = later.since(&earlier);
        assert_eq!(later.commands, 2);
        assert_eq!(later.plus(&earlier).commands, 4);
        assert_eq!(later.mean(), Some(Duration::from_millis(40)));
        assert!(later.quantile(0.1).expect("commands") >= Duration::from_millis(40));
    }
}
