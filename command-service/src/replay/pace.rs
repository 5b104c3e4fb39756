//! How fast a replay may go: at most its configured rate, slower while it makes the live
//! commands slower. The signal is the commands' own time in this service (the writer's
//! [`CommandTimes`](crate::writer::CommandTimes)): a replay costs the broker, the database
//! and the box's cores, and whichever of them is short shows as commands taking longer.
//!
//! The pacer learns what the commands take without the replay by pausing it for three
//! windows every ten seconds (a probe). Then, window by window, it slows down by a factor
//! when the commands take noticeably longer than that, on average or in their slowest tenth,
//! and speeds up by a step when they do not (or when no commands come at all). It never
//! stops: at worst it goes at a twentieth of its rate.

use std::time::Duration;

use tokio::time::Instant;

use crate::writer::Reading;

/// How often the pacer looks at the commands' times.
pub(super) const WINDOW: Duration = Duration::from_millis(100);
/// How often the replay pauses to see what the commands take without it.
const PROBE_EVERY: Duration = Duration::from_secs(10);
/// The windows of a probe that are measured, after the first.
const PROBE_MEASURED: u8 = 2;
/// Fewer commands than this in a window (or a probe) say nothing: the box is idle.
const MIN_COMMANDS: u64 = 5;
/// Commands taking longer than this many times their time without the replay (plus
/// [`SLACK`]) make the replay slow down.
const TOLERANCE: f64 = 1.05;
/// Absolute room on top of [`TOLERANCE`], so that sub-millisecond jitter is no signal.
const SLACK: Duration = Duration::from_micros(250);
/// The factor a replay slows down by, a window at a time.
const SLOWER: f64 = 0.7;
/// The slowest a replay goes, as a share of its rate.
const FLOOR: f64 = 0.05;
/// How much of its rate a replay adds back in a window when the commands are fine.
const STEP: f64 = 0.05;

/// The slowest tenth of the commands taking longer than this many times what it took
/// without the replay (plus [`SLACK`]) makes the replay slow down: with the histogram's
/// step of 19 %, a move of two buckets.
const TAIL_TOLERANCE: f64 = 1.2;

/// What the commands took without the replay: on average, and at their 90th percentile.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Baseline {
    mean: Duration,
    p90: Duration,
}

impl Baseline {
    /// What `sample` says, if it holds enough commands to say anything.
    fn of(sample: &Reading) -> Option<Baseline> {
        if sample.commands < MIN_COMMANDS {
            return None;
        }
        Some(Baseline {
            mean: sample.mean()?,
            p90: sample.quantile(0.9)?,
        })
    }

    /// Whether commands that took `now` are noticeably slower than these.
    fn slower(&self, now: &Baseline) -> bool {
        now.mean > self.mean.mul_f64(TOLERANCE) + SLACK
            || now.p90 > self.p90.mul_f64(TAIL_TOLERANCE) + SLACK
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Publishing; the next probe is due at the instant.
    Running {
        probe_at: Instant,
    },
    /// Paused for three windows: the first lets what the replay sent be worked off, the
    /// next two are measured, together.
    Settling,
    Measuring {
        windows: u8,
    },
}

/// The pacer of one replay.
#[derive(Debug)]
pub(super) struct Pacer {
    max: f64,
    rate: f64,
    /// What the commands took while the replay paused, at the last probe that saw some.
    baseline: Option<Baseline>,
    phase: Phase,
    /// The commands of the probe's measured windows so far.
    probed: Reading,
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
            probed: Reading::default(),
        }
    }

    /// Messages per second the replay may send now; `None` while it pauses for a probe.
    pub(super) fn rate(&self) -> Option<f64> {
        match self.phase {
            Phase::Running { .. } => Some(self.rate),
            Phase::Settling | Phase::Measuring { .. } => None,
        }
    }

    /// Takes in what the commands took over the window that ends at `now`.
    pub(super) fn observe(&mut self, now: Instant, window: Reading) {
        let probe_at = match self.phase {
            Phase::Settling => {
                self.phase = Phase::Measuring { windows: 0 };
                self.probed = Reading::default();
                return;
            }
            Phase::Measuring { windows } => {
                self.probed = self.probed.plus(&window);
                if windows + 1 < PROBE_MEASURED {
                    self.phase = Phase::Measuring {
                        windows: windows + 1,
                    };
                    return;
                }
                // No commands while paused: nothing to compare with, and nothing to slow
                // down for until the next probe.
                self.baseline = Baseline::of(&self.probed);
                self.phase = Phase::Running {
                    probe_at: now + PROBE_EVERY,
                };
                return;
            }
            Phase::Running { probe_at } => probe_at,
        };
        match (Baseline::of(&window), self.baseline) {
            (Some(now), Some(baseline)) if baseline.slower(&now) => {
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
    use crate::writer::CommandTimes;

    fn commands(count: u64, each_ms: u64) -> Reading {
        commands_of(count, Duration::from_millis(each_ms))
    }

    fn commands_of(count: u64, each: Duration) -> Reading {
        let times = CommandTimes::default();
        for _ in 0..count {
            times.record(each);
        }
        times.read()
    }

    /// Runs windows of `sample` until the pacer publishes again; returns the instant.
    fn finish_probe(pacer: &mut Pacer, mut now: Instant, sample: Reading) -> Instant {
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
        let mut now = finish_probe(&mut pacer, start, Reading::default());
        assert_eq!(
            pacer.rate(),
            Some(500.0),
            "a quarter of its rate to begin with"
        );
        for _ in 0..80 {
            now += WINDOW;
            pacer.observe(now, Reading::default());
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
            // Within the tolerance: 4 ms alone, 4.4 ms now.
            pacer.observe(now, commands_of(100, Duration::from_micros(4_400)));
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
        let baseline = pacer.baseline.expect("a baseline");
        assert_eq!(baseline.mean, Duration::from_millis(9));
        assert_eq!(pacer.rate(), Some(2_000.0), "9 ms is what they take now");
    }

    #[test]
    fn commands_that_start_after_an_idle_probe_bring_a_new_probe() {
        let start = Instant::now();
        let mut pacer = Pacer::new(2_000);
        let now = finish_probe(&mut pacer, start, Reading::default()) + WINDOW;
        pacer.observe(now, commands(50, 20));
        assert_eq!(pacer.rate(), None, "paused to measure them alone");
    }

    #[test]
    fn a_slower_tail_slows_it_down_even_when_the_mean_holds() {
        let mut pacer = Pacer::new(2_000);
        let start = Instant::now();
        let mut now = finish_probe(&mut pacer, start, commands(100, 4));
        let before = pacer.rate().expect("running");
        // 89 commands a little quicker, 11 over twice as slow: the mean is 3.9 ms, within
        // its tolerance, but the slowest tenth is not.
        let times = CommandTimes::default();
        for n in 0..100 {
            times.record(Duration::from_micros(if n < 89 { 3_300 } else { 9_000 }));
        }
        assert!(times.read().mean() < Some(Duration::from_millis(4)));
        now += WINDOW;
        pacer.observe(now, times.read());
        assert!(pacer.rate().expect("running") < before);
    }
}
