//! How fast a replay may go: at most its configured rate, slower while it makes the live
//! commands slower. The signal is the commands' own time in this service (the writer's
//! [`CommandTimes`](crate::writer::CommandTimes)): a replay costs the broker, the database
//! and the box's cores, and whichever of them is short shows as commands taking longer.
//!
//! The pacer learns what the commands take without the replay by pausing it for two windows
//! every ten seconds (a probe), then, window by window, slows down by a factor when the commands take
//! noticeably longer than that, and speeds up by a step when they do not (or when no
//! commands come at all). It never stops: at worst it goes at a twentieth of its rate.

use std::time::Duration;

use tokio::time::Instant;

/// How often the pacer looks at the commands' times.
pub(super) const WINDOW: Duration = Duration::from_millis(100);
/// How often the replay pauses to see what the commands take without it.
const PROBE_EVERY: Duration = Duration::from_secs(10);
/// Fewer commands than this in a window (or a probe) say nothing: the box is idle.
const MIN_COMMANDS: u64 = 5;
/// Commands taking longer than this many times their time without the replay (plus
/// [`SLACK`]) make the replay slow down.
const TOLERANCE: f64 = 1.2;
/// Absolute room on top of [`TOLERANCE`], so that sub-millisecond jitter is no signal.
const SLACK: Duration = Duration::from_micros(500);
/// The factor a replay slows down by, a window at a time.
const SLOWER: f64 = 0.7;
/// The slowest a replay goes, as a share of its rate.
const FLOOR: f64 = 0.05;
/// How much of its rate a replay adds back in a window when the commands are fine.
const STEP: f64 = 0.02;

/// The commands' time over one stretch: how many ended, and their summed duration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    pub commands: u64,
    pub total: Duration,
}

impl Sample {
    fn mean(self) -> Option<Duration> {
        (self.commands >= MIN_COMMANDS).then(|| self.total / self.commands as u32)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Publishing; the next probe is due at the instant.
    Running {
        probe_at: Instant,
    },
    /// Paused for two windows: the first lets what the replay sent be worked off, the
    /// second is measured.
    Settling,
    Measuring,
}

/// The pacer of one replay.
#[derive(Debug)]
pub(super) struct Pacer {
    max: f64,
    rate: f64,
    /// What the commands took while the replay paused, at the last probe that saw some.
    baseline: Option<Duration>,
    phase: Phase,
}

impl Pacer {
    /// A pacer for `max` messages per second at most. It starts with a probe, so that it
    /// knows what the commands take before it adds to their load, at a quarter of `max`.
    pub(super) fn new(max: u32) -> Pacer {
        let max = f64::from(max.max(1));
        Pacer {
            max,
            rate: (max / 4.0).max(max * FLOOR),
            baseline: None,
            phase: Phase::Settling,
        }
    }

    /// Messages per second the replay may send now; `None` while it pauses for a probe.
    pub(super) fn rate(&self) -> Option<f64> {
        match self.phase {
            Phase::Running { .. } => Some(self.rate),
            Phase::Settling | Phase::Measuring => None,
        }
    }

    /// Takes in what the commands took over the window that ends at `now`.
    pub(super) fn observe(&mut self, now: Instant, window: Sample) {
        let probe_at = match self.phase {
            Phase::Settling => {
                self.phase = Phase::Measuring;
                return;
            }
            Phase::Measuring => {
                // No commands while paused: nothing to compare with, and nothing to slow
                // down for until the next probe.
                self.baseline = window.mean();
                self.phase = Phase::Running {
                    probe_at: now + PROBE_EVERY,
                };
                return;
            }
            Phase::Running { probe_at } => probe_at,
        };
        match (window.mean(), self.baseline) {
            (Some(mean), Some(baseline)) if mean > baseline.mul_f64(TOLERANCE) + SLACK => {
                self.rate = (self.rate * SLOWER).max(self.max * FLOOR);
            }
            // Commands began to come since the last probe saw none: learn what they take
            // alone before going on.
            (Some(_), None) => self.phase = Phase::Settling,
            _ => self.rate = (self.rate + self.max * STEP).min(self.max),
        }
        if now >= probe_at {
            self.phase = Phase::Settling;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(count: u64, each_ms: u64) -> Sample {
        Sample {
            commands: count,
            total: Duration::from_millis(count * each_ms),
        }
    }

    /// Runs windows of `sample` until the pacer publishes again; returns the instant.
    fn finish_probe(pacer: &mut Pacer, mut now: Instant, sample: Sample) -> Instant {
        while pacer.rate().is_none() {
            now += WINDOW;
            pacer.observe(now, sample);
        }
        now
    }

    #[test]
    fn an_idle_box_gets_the_whole_rate_after_the_first_probe() {
        let start = Instant::now();
        let mut pacer = Pacer::new(2_000);
        assert_eq!(pacer.rate(), None, "it measures before it publishes");
        let mut now = finish_probe(&mut pacer, start, Sample::default());
        assert_eq!(
            pacer.rate(),
            Some(500.0),
            "a quarter of its rate to begin with"
        );
        for _ in 0..80 {
            now += WINDOW;
            pacer.observe(now, Sample::default());
        }
        assert_eq!(pacer.rate(), Some(2_000.0));
    }

    #[test]
    fn commands_slowed_by_the_replay_slow_it_down_to_its_floor_and_no_further() {
        let start = Instant::now();
        let mut pacer = Pacer::new(2_000);
        let mut now = finish_probe(&mut pacer, start, commands(100, 4));
        let before = pacer.rate().expect("running");
        now += WINDOW;
        pacer.observe(now, commands(100, 9));
        assert!(pacer.rate().expect("running") < before);
        for _ in 0..30 {
            now += WINDOW;
            pacer.observe(now, commands(100, 9));
            now = finish_probe(&mut pacer, now, commands(100, 4));
        }
        assert_eq!(pacer.rate(), Some(100.0), "a twentieth of 2,000/s");
    }

    #[test]
    fn commands_as_fast_as_without_the_replay_let_it_speed_up() {
        let start = Instant::now();
        let mut pacer = Pacer::new(2_000);
        let mut now = finish_probe(&mut pacer, start, commands(100, 4));
        for _ in 0..100 {
            now += WINDOW;
            // Within the tolerance: 4 ms alone, 4.8 ms now.
            pacer.observe(
                now,
                Sample {
                    commands: 100,
                    total: Duration::from_micros(100 * 4_800),
                },
            );
            now = finish_probe(&mut pacer, now, commands(100, 4));
        }
        assert_eq!(pacer.rate(), Some(2_000.0));
    }

    #[test]
    fn it_pauses_to_probe_every_ten_seconds_and_learns_the_new_baseline() {
        let start = Instant::now();
        let mut pacer = Pacer::new(2_000);
        let mut now = finish_probe(&mut pacer, start, commands(100, 4));
        let mut paused = 0;
        for _ in 0..400 {
            now += WINDOW;
            pacer.observe(now, commands(100, 9));
            if pacer.rate().is_none() {
                paused += 1;
                // The commands got slower for another cause: 9 ms even without the replay.
                now = finish_probe(&mut pacer, now, commands(100, 9));
            }
        }
        assert!((3..=4).contains(&paused), "{paused} probes in about 40 s");
        assert_eq!(pacer.baseline, Some(Duration::from_millis(9)));
        assert_eq!(pacer.rate(), Some(2_000.0), "9 ms is what they take now");
    }

    #[test]
    fn commands_that_start_after_an_idle_probe_bring_a_new_probe() {
        let start = Instant::now();
        let mut pacer = Pacer::new(2_000);
        let now = finish_probe(&mut pacer, start, Sample::default()) + WINDOW;
        pacer.observe(now, commands(50, 20));
        assert_eq!(pacer.rate(), None, "paused to measure them alone");
    }
}
