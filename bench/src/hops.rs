//! Where a command's time goes on its way to the read models, hop by hop: each service's own
//! histograms, scraped from its `/metrics` before and after a stretch of load, and the
//! difference read as a p50 and a p99 (interpolated within the histogram's buckets, as
//! Prometheus's `histogram_quantile` does: a figure is as fine as the buckets around it).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::system::BoxError;

/// The service a hop's histogram lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Commands,
    Projector,
    Queries,
}

/// The hops, in the order a command's events pass them.
const HOPS: [(&str, Service, &str); 8] = [
    (
        "command waits for the writer",
        Service::Commands,
        "stockflow_writer_wait_seconds",
    ),
    (
        "group commit (append)",
        Service::Commands,
        "stockflow_append_seconds",
    ),
    (
        "command in the service, in all",
        Service::Commands,
        "stockflow_command_duration_seconds",
    ),
    (
        "commit → broker confirm (relay)",
        Service::Commands,
        "stockflow_relay_confirmed_after_seconds",
    ),
    (
        "commit → projector receives",
        Service::Projector,
        "stockflow_projector_delivered_after_seconds",
    ),
    (
        "projector batch",
        Service::Projector,
        "stockflow_projector_batch_seconds",
    ),
    (
        "commit → read models",
        Service::Projector,
        "stockflow_projector_visible_after_seconds",
    ),
    (
        "query waits for min_position",
        Service::Queries,
        "stockflow_min_position_wait_seconds",
    ),
];

/// One hop over the stretch: how many times it was measured, and its p50 and p99.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub hop: &'static str,
    pub metric: &'static str,
    pub count: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Every histogram of one scrape: per metric, the cumulative count at each bucket bound,
/// summed over the series' labels.
#[derive(Debug, Default, Clone)]
pub struct Histograms(BTreeMap<String, BTreeMap<Bound, f64>>);

/// A bucket's upper bound, ordered (`+Inf` last).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound(f64);

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Histograms {
    /// Reads the `_bucket` lines of a Prometheus text exposition.
    pub fn parse(text: &str) -> Histograms {
        let mut histograms = Histograms::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Some((name, labels)) = series.split_once("_bucket{") else {
                continue;
            };
            let Some(le) = labels
                .split(',')
                .find_map(|label| label.trim().strip_prefix("le=\""))
                .map(|v| v.trim_end_matches(['"', '}']))
            else {
                continue;
            };
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                match le.parse() {
                    Ok(bound) => bound,
                    Err(_) => continue,
                }
            };
            let Ok(count) = value.trim().parse::<f64>() else {
                continue;
            };
            *histograms
                .0
                .entry(name.to_owned())
                .or_default()
                .entry(Bound(bound))
                .or_default() += count;
        }
        histograms
    }

    /// Scrapes `base_url/metrics`.
    pub async fn scrape(client: &reqwest::Client, base_url: &str) -> Result<Histograms, BoxError> {
        let response = client.get(format!("{base_url}/metrics")).send().await?;
        if !response.status().is_success() {
            return Err(format!("GET {base_url}/metrics: {}", response.status()).into());
        }
        Ok(Histograms::parse(&response.text().await?))
    }

    /// What `metric` counted since `earlier`: the cumulative count at each bound.
    fn since(&self, earlier: &Histograms, metric: &str) -> Vec<(f64, f64)> {
        let Some(now) = self.0.get(metric) else {
            return Vec::new();
        };
        let before = earlier.0.get(metric);
        now.iter()
            .map(|(bound, count)| {
                let was = before.and_then(|b| b.get(bound)).copied().unwrap_or(0.0);
                (bound.0, (count - was).max(0.0))
            })
            .collect()
    }
}

/// The `q` quantile of cumulative buckets, interpolated linearly within the bucket it falls
/// in; in the last (`+Inf`) bucket, the highest finite bound. `None` when nothing was counted.
fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return Some(lower.0);
            }
            let within = count - lower.1;
            let share = if within > 0.0 {
                (rank - lower.1) / within
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * share);
        }
        lower = (bound, count);
    }
    Some(lower.0)
}

/// Each hop between two scrapes of every service (`before` and `after`, by service).
pub fn hops(
    before: &BTreeMap<Service, Histograms>,
    after: &BTreeMap<Service, Histograms>,
) -> Vec<Hop> {
    let empty = Histograms::default();
    HOPS.iter()
        .map(|&(hop, service, metric)| {
            let now = after.get(&service).unwrap_or(&empty);
            let then = before.get(&service).unwrap_or(&empty);
            let buckets = now.since(then, metric);
            let ms = |q| quantile(&buckets, q).map(|s| s * 1000.0);
            Hop {
                hop,
                metric,
                count: buckets.last().map_or(0, |(_, n)| *n as u64),
                p50_ms: ms(0.5),
                p99_ms: ms(0.99),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
# TYPE stockflow_append_seconds histogram
stockflow_append_seconds_bucket{le=\"0.001\"} 10
stockflow_append_seconds_bucket{le=\"0.01\"} 10
stockflow_append_seconds_bucket{le=\"+Inf\"} 10
stockflow_append_seconds_sum 0.005
stockflow_append_seconds_count 10
";

    const AFTER: &str = "\
# TYPE stockflow_append_seconds histogram
stockflow_append_seconds_bucket{le=\"0.001\"} 10
stockflow_append_seconds_bucket{le=\"0.01\"} 110
stockflow_append_seconds_bucket{le=\"+Inf\"} 112
stockflow_command_duration_seconds_bucket{command=\"place_order\",le=\"0.01\"} 3
stockflow_command_duration_seconds_bucket{command=\"cancel_order\",le=\"0.01\"} 4
stockflow_command_duration_seconds_bucket{command=\"place_order\",le=\"+Inf\"} 3
stockflow_command_duration_seconds_bucket{command=\"cancel_order\",le=\"+Inf\"} 4
";

    #[test]
    fn only_what_was_counted_between_the_scrapes_makes_the_figures() {
        let before = BTreeMap::from([(Service::Commands, Histograms::parse(BEFORE))]);
        let after = BTreeMap::from([(Service::Commands, Histograms::parse(AFTER))]);
        let hops = hops(&before, &after);
        let append = hops
            .iter()
            .find(|h| h.metric == "stockflow_append_seconds")
            .expect("the append hop");
        // 102 counted since: 100 between 1 and 10 ms, 2 above.
        assert_eq!(append.count, 102);
        let p50 = append.p50_ms.expect("a p50");
        assert!((p50 - 5.59).abs() < 0.01, "{p50}");
        // The p99 falls in the +Inf bucket: the highest finite bound.
        assert_eq!(append.p99_ms, Some(10.0));
        // Labels are summed; a hop nobody measured has no figures.
        let whole = hops
            .iter()
            .find(|h| h.metric == "stockflow_command_duration_seconds")
            .expect("the command hop");
        assert_eq!(whole.count, 7);
        let unmeasured = hops
            .iter()
            .find(|h| h.metric == "stockflow_min_position_wait_seconds")
            .expect("the query hop");
        assert_eq!((unmeasured.count, unmeasured.p50_ms), (0, None));
    }

    #[test]
    fn a_quantile_is_interpolated_in_its_bucket() {
        let buckets = [(0.1, 50.0), (0.2, 100.0), (f64::INFINITY, 100.0)];
        assert_eq!(quantile(&buckets, 0.5), Some(0.1));
        let p75 = quantile(&buckets, 0.75).expect("a figure");
        assert!((p75 - 0.15).abs() < 1e-9, "{p75}");
        assert_eq!(quantile(&[(0.1, 0.0), (f64::INFINITY, 0.0)], 0.5), None);
    }
}
