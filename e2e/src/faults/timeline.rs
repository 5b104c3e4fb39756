//! How long each fault cost: the longest stretch without a successful command, and without
//! the read models moving, around each injection. The projection's position is sampled from
//! the primary every 100 ms while the workload runs; the commands' answers carry their time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::system::connect_to_primary;

const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The read models' position over time, sampled until stopped.
pub(super) struct ProjectionSampler {
    samples: Arc<Mutex<Vec<(Instant, i64)>>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl ProjectionSampler {
    /// Samples `SELECT min(position) FROM read.projections` on the primary of `database_url`,
    /// reconnecting (to whichever server is the primary then) whenever a read fails.
    pub(super) fn start(database_url: String) -> ProjectionSampler {
        let samples: Arc<Mutex<Vec<(Instant, i64)>>> = Arc::default();
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample(database_url, samples.clone(), stop.clone()));
        ProjectionSampler {
            samples,
            stop,
            task,
        }
    }

    /// Stops sampling; returns the instants at which the position moved forward.
    pub(super) async fn moves(self) -> Vec<Instant> {
        self.stop.cancel();
        let _ = self.task.await;
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        moves(&samples)
    }
}

async fn sample(url: String, samples: Arc<Mutex<Vec<(Instant, i64)>>>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let connected = tokio::select! {
            connected = connect_to_primary(&url, None) => connected,
            () = stop.cancelled() => return,
        };
        let Ok(mut db) = connected else { continue };
        loop {
            let read: Result<i64, sqlx::Error> =
                sqlx::query_scalar("SELECT coalesce(min(position), 0) FROM read.projections")
                    .fetch_one(&mut db)
                    .await;
            let Ok(position) = read else { break };
            samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((Instant::now(), position));
            tokio::select! {
                () = tokio::time::sleep(SAMPLE_EVERY) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

/// The instants of the samples at which the position was higher than in the one before.
fn moves(samples: &[(Instant, i64)]) -> Vec<Instant> {
    samples
        .windows(2)
        .filter(|pair| pair[1].1 > pair[0].1)
        .map(|pair| pair[1].0)
        .collect()
}

/// The longest stretch between two consecutive instants of `times` (in order) that ends
/// within `from..=to`: a stretch is the fault's during which it ended, as the last sample or
/// answer before a fault comes just before it. `None` when nothing ends there.
pub(super) fn longest_gap(times: &[Instant], from: Instant, to: Instant) -> Option<Duration> {
    times
        .windows(2)
        .filter(|pair| pair[1] > from && pair[1] <= to)
        .map(|pair| pair[1] - pair[0])
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_stretch_that_ends_in_the_window_is_the_fault_s() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let times = [at(0), at(100), at(2_000), at(2_100), at(2_200), at(9_000)];
        // The 1.9 s stretch that began before the fault at 1,000 ms ended after it.
        assert_eq!(
            longest_gap(&times, at(1_000), at(3_000)),
            Some(Duration::from_millis(1_900))
        );
        // The 6.8 s one ends in the next fault's window, and is that fault's.
        assert_eq!(
            longest_gap(&times, at(3_000), at(9_500)),
            Some(Duration::from_millis(6_800))
        );
        // Nothing ends in the window: no figure.
        assert_eq!(longest_gap(&times, at(9_500), at(10_000)), None);
    }

    #[test]
    fn a_move_is_a_sample_higher_than_the_one_before() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let samples = [
            (at(0), 5),
            (at(100), 5),
            (at(200), 9),
            (at(300), 9),
            (at(400), 12),
        ];
        assert_eq!(moves(&samples), vec![at(200), at(400)]);
    }
}
