//! The Prometheus text format, read just far enough for the overview: each sample's metric
//! name and value, with labels skipped. Several series of one name are folded into their sum
//! (for counters: the total over every label set) and their largest value (for gauges: in
//! tests several services share one recorder, so each shows the others' series too).

use std::collections::HashMap;

/// One scrape, by metric name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scrape {
    by_name: HashMap<String, Folded>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Folded {
    sum: f64,
    max: f64,
}

impl Scrape {
    /// Reads a `/metrics` answer; lines that are not samples, or that cannot be read, are
    /// skipped, as are values that are not finite numbers.
    pub fn parse(text: &str) -> Scrape {
        let mut by_name: HashMap<String, Folded> = HashMap::new();
        for (name, value) in text.lines().filter_map(sample) {
            by_name
                .entry(name.to_owned())
                .and_modify(|folded| {
                    folded.sum += value;
                    folded.max = folded.max.max(value);
                })
                .or_insert(Folded {
                    sum: value,
                    max: value,
                });
        }
        Scrape { by_name }
    }

    /// The sum of every series of `name`: a counter's total.
    pub fn sum(&self, name: &str) -> Option<f64> {
        self.by_name.get(name).map(|f| f.sum)
    }

    /// The largest value among the series of `name`: a gauge's.
    pub fn max(&self, name: &str) -> Option<f64> {
        self.by_name.get(name).map(|f| f.max)
    }
}

/// The name and value of a sample line: `name{label="value",…} value [timestamp]`.
fn sample(line: &str) -> Option<(&str, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    if rest.starts_with('{') {
        rest = &rest[labels_end(rest)?..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" | "-Inf" | "NaN" => return None,
        number => number.parse::<f64>().ok()?,
    };
    value.is_finite().then_some((name, value))
}

/// The byte just past the `}` closing the labels that `text` opens with; label values are
/// quoted and may hold `}`, `"` (escaped) and `\\`.
fn labels_end(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP stockflow_commands_total Commands handled.
# TYPE stockflow_commands_total counter
stockflow_commands_total{command="place_order",outcome="accepted"} 12
stockflow_commands_total{command="register_product",outcome="refused"} 3
stockflow_commands_total{command="odd \"name}\" \\",outcome="accepted"} 5 1700000000000

# TYPE stockflow_projector_lag_events gauge
stockflow_projector_lag_events 4
stockflow_projector_lag_events{instance="other"} 9
stockflow_projector_lag_seconds 0.25
stockflow_http_request_duration_seconds_bucket{le="+Inf"} 7
stockflow_relay_published_position 1.5e3
stockflow_broken_value abc
stockflow_nan NaN
stockflow_inf +Inf
{no_name="x"} 1
stockflow_unclosed{a="b" 1
"#;

    #[test]
    fn counters_sum_every_label_set_and_gauges_take_the_largest() {
        let scrape = Scrape::parse(TEXT);
        assert_eq!(scrape.sum("stockflow_commands_total"), Some(20.0));
        assert_eq!(scrape.max("stockflow_projector_lag_events"), Some(9.0));
        assert_eq!(scrape.max("stockflow_projector_lag_seconds"), Some(0.25));
        assert_eq!(
            scrape.max("stockflow_relay_published_position"),
            Some(1500.0)
        );
        assert_eq!(
            scrape.sum("stockflow_http_request_duration_seconds_bucket"),
            Some(7.0)
        );
    }

    #[test]
    fn what_cannot_be_read_is_skipped() {
        let scrape = Scrape::parse(TEXT);
        for name in [
            "stockflow_broken_value",
            "stockflow_nan",
            "stockflow_inf",
            "stockflow_unclosed",
            "no_name",
            "stockflow_missing",
        ] {
            assert_eq!(scrape.sum(name), None, "{name}");
        }
        assert_eq!(Scrape::parse(""), Scrape::default());
        assert_eq!(Scrape::parse("<html>not metrics</html>"), Scrape::default());
    }
}
