//! Reading query parameters and headers into typed values. Every parameter an endpoint does
//! not know, gives twice or leaves empty is refused, naming it: a typo must not silently
//! widen a query.

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use stockflow_domain::values::{Currency, Sku, text};

use super::error::ApiError;
use crate::cursor::{self, Listing};

/// Accepted by every endpoint; the consistency layer reads it before the handler runs.
pub const MIN_POSITION: &str = "min_position";
pub const MIN_POSITION_HEADER: &str = "x-min-position";
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The query parameters of one request, checked against what its endpoint accepts.
#[derive(Debug)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        Params::parse_repeatable(query, allowed, &[])
    }

    /// [`Params::parse`], where those of `allowed` also in `repeatable` may be given more
    /// than once (read them with [`Params::all`]).
    pub fn parse_repeatable(
        query: Option<&str>,
        allowed: &[&str],
        repeatable: &[&str],
    ) -> Result<Params, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if name == MIN_POSITION {
                continue;
            }
            if !allowed.contains(&name.as_ref()) {
                let message = if allowed.is_empty() {
                    "is not a parameter of this endpoint, which takes none".to_owned()
                } else {
                    format!(
                        "is not a parameter of this endpoint; it takes {}",
                        allowed.join(", ")
                    )
                };
                return Err(ApiError::invalid(name, message));
            }
            if !repeatable.contains(&name.as_ref()) && pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(ApiError::invalid(name, "is given more than once"));
            }
            if value.is_empty() {
                return Err(ApiError::invalid(
                    name,
                    "must not be empty (leave it out instead)",
                ));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Params { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter, in the order given.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: 1..=500, 50 when absent.
    pub fn limit(&self) -> Result<i64, ApiError> {
        self.limit_up_to(DEFAULT_LIMIT, MAX_LIMIT)
    }

    /// `limit`: 1..=`max`, `default` when absent.
    pub fn limit_up_to(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("limit", format!("must be an integer from 1 to {max}"))
                }),
        }
    }

    /// `cursor`: a key this listing handed out as `next_cursor`.
    pub fn cursor<K: DeserializeOwned>(&self, listing: Listing) -> Result<Option<K>, ApiError> {
        self.get("cursor")
            .map(|raw| {
                cursor::decode(listing, raw).ok_or_else(|| {
                    ApiError::invalid(
                        "cursor",
                        "is not a cursor of this listing; use a next_cursor it returned, unchanged",
                    )
                })
            })
            .transpose()
    }

    /// One of a fixed set of values, each named by `as_str`.
    pub fn choice<T: Copy>(
        &self,
        name: &str,
        options: &[T],
        as_str: impl Fn(T) -> &'static str,
    ) -> Result<Option<T>, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        options
            .iter()
            .copied()
            .find(|option| as_str(*option) == raw)
            .map(Some)
            .ok_or_else(|| {
                let names: Vec<&str> = options.iter().map(|o| as_str(*o)).collect();
                ApiError::invalid(name, format!("must be one of {}", names.join(", ")))
            })
    }

    pub fn non_negative_integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|raw| {
                non_negative_integer(raw)
                    .ok_or_else(|| ApiError::invalid(name, "must be a non-negative integer"))
            })
            .transpose()
    }

    /// A calendar day, `YYYY-MM-DD`.
    pub fn date(&self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        self.get(name)
            .map(|raw| {
                parse_date(raw)
                    .ok_or_else(|| ApiError::invalid(name, "must be a date in the form YYYY-MM-DD"))
            })
            .transpose()
    }

    /// The inclusive start of a time range: a day (from its first instant, UTC) or an
    /// RFC 3339 timestamp.
    pub fn range_start(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|raw| match parse_date(raw) {
                Some(day) => Ok(day.and_time(NaiveTime::MIN).and_utc()),
                None => parse_instant(raw).ok_or_else(|| invalid_instant(name)),
            })
            .transpose()
    }

    /// The inclusive end of a time range, returned as the exclusive bound just after it: a
    /// day includes all of it (up to the next UTC midnight), a timestamp includes itself.
    pub fn range_end(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|raw| {
                let bound = match parse_date(raw) {
                    Some(day) => day
                        .checked_add_days(Days::new(1))
                        .map(|next| next.and_time(NaiveTime::MIN).and_utc()),
                    None => parse_instant(raw)
                        .and_then(|t| t.checked_add_signed(TimeDelta::microseconds(1))),
                };
                bound.ok_or_else(|| invalid_instant(name))
            })
            .transpose()
    }

    pub fn sku(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.get(name)
            .map(|raw| {
                Sku::parse(raw)
                    .map(|sku| sku.as_str().to_owned())
                    .map_err(|message| ApiError::invalid(name, message))
            })
            .transpose()
    }

    pub fn currency(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.get(name)
            .map(|raw| {
                Currency::parse(raw)
                    .map(|currency| currency.as_str().to_owned())
                    .map_err(|message| ApiError::invalid(name, message))
            })
            .transpose()
    }

    /// A customer id as orders carry it: 1 to 64 characters.
    pub fn customer_id(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.get(name)
            .map(|raw| customer_id(raw).map_err(|message| ApiError::invalid(name, message)))
            .transpose()
    }
}

/// A customer id as the command API accepts it: 1 to 64 characters, no control characters.
pub fn customer_id(raw: &str) -> Result<String, String> {
    text(raw, 1, 64)
}

/// `from` must not come after `to`; the refusal names `from`.
pub fn check_order<T: PartialOrd>(
    from: (&str, Option<T>),
    to: (&str, Option<T>),
) -> Result<(), ApiError> {
    if let ((from_name, Some(from)), (to_name, Some(to))) = (from, to)
        && from > to
    {
        return Err(ApiError::invalid(
            from_name,
            format!("must not be after {to_name}"),
        ));
    }
    Ok(())
}

fn invalid_instant(name: &str) -> ApiError {
    ApiError::invalid(
        name,
        "must be a date (YYYY-MM-DD) or an RFC 3339 timestamp (2026-11-21T10:00:00Z)",
    )
}

fn non_negative_integer(raw: &str) -> Option<i64> {
    // Digits only: no sign, no spaces, so each number has one spelling.
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

/// Exactly `YYYY-MM-DD`; chrono alone would also take unpadded fields.
fn parse_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    // An unescaped `+` in a query string arrives as a space; take it for the offset's sign
    // it almost certainly was.
    let raw = raw.replace(' ', "+");
    DateTime::parse_from_rfc3339(&raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What `min_position` (parameter) and `X-Min-Position` (header) ask for; the larger when
/// both are given.
pub fn min_position(query: Option<&str>, headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let mut wanted: Option<i64> = None;
    let mut given = 0;
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if name != MIN_POSITION {
            continue;
        }
        given += 1;
        if given > 1 {
            return Err(ApiError::invalid(MIN_POSITION, "is given more than once"));
        }
        let position = non_negative_integer(&value)
            .ok_or_else(|| ApiError::invalid(MIN_POSITION, "must be a non-negative integer"))?;
        wanted = Some(position);
    }
    let mut values = headers.get_all(MIN_POSITION_HEADER).iter();
    if let Some(value) = values.next() {
        if values.next().is_some() {
            return Err(ApiError::invalid(
                "X-Min-Position",
                "is given more than once",
            ));
        }
        let position = value
            .to_str()
            .ok()
            .and_then(|v| non_negative_integer(v.trim()))
            .ok_or_else(|| ApiError::invalid("X-Min-Position", "must be a non-negative integer"))?;
        wanted = Some(wanted.map_or(position, |w| w.max(position)));
    }
    Ok(wanted)
}

/// Whether the client prefers CSV to JSON (RFC 9110 content negotiation on `Accept`): the
/// higher quality wins, then the more specific match; JSON when it is a tie or no Accept.
pub fn prefers_csv(headers: &HeaderMap) -> bool {
    let csv = preference(headers, "text/csv", "text/*");
    let json = preference(headers, "application/json", "application/*");
    csv.0 > 0.0 && (csv.0 > json.0 || (csv.0 == json.0 && csv.1 > json.1))
}

/// Whether the client asks for Server-Sent Events rather than JSON: `text/event-stream`
/// named in `Accept` (a wildcard asks for no stream) with a quality above 0 and no lower
/// than JSON's.
pub fn prefers_event_stream(headers: &HeaderMap) -> bool {
    let stream = preference(headers, "text/event-stream", "text/*");
    let json = preference(headers, "application/json", "application/*");
    stream.1 == 2 && stream.0 > 0.0 && stream.0 >= json.0
}

/// The (quality, specificity) that `Accept` gives the media type `full` (of the family
/// `family`, e.g. `text/*`): the quality of the most specific range matching it (RFC 9110
/// §12.5.1), and 2 for an exact match, 1 for its family, 0 for `*/*`, -1 for none.
fn preference(headers: &HeaderMap, full: &str, family: &str) -> (f32, i8) {
    let mut best = (0.0_f32, -1_i8);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, q)| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            let specificity = match media.as_str() {
                m if m == full => 2,
                m if m == family => 1,
                "*/*" => 0,
                _ => continue,
            };
            if specificity > best.1 {
                best = (quality, specificity);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn csv_is_chosen_only_when_preferred() {
        assert!(prefers_csv(&accept("text/csv")));
        assert!(prefers_csv(&accept("text/csv; charset=utf-8")));
        assert!(prefers_csv(&accept("text/csv, */*;q=0.1")));
        assert!(prefers_csv(&accept("application/json;q=0.5, text/csv")));
        assert!(prefers_csv(&accept("text/*")));
        assert!(!prefers_csv(&HeaderMap::new()));
        assert!(!prefers_csv(&accept("*/*")));
        assert!(!prefers_csv(&accept("application/json")));
        assert!(!prefers_csv(&accept("text/csv;q=0")));
        assert!(!prefers_csv(&accept("text/csv;q=0.4, application/json")));
        assert!(!prefers_csv(&accept("text/csv, application/json")));
    }

    #[test]
    fn an_event_stream_is_sent_only_when_named() {
        assert!(prefers_event_stream(&accept("text/event-stream")));
        assert!(prefers_event_stream(&accept(
            "application/json;q=0.5, text/event-stream"
        )));
        assert!(!prefers_event_stream(&HeaderMap::new()));
        assert!(!prefers_event_stream(&accept("*/*")));
        assert!(!prefers_event_stream(&accept("text/*")));
        assert!(!prefers_event_stream(&accept("text/event-stream;q=0")));
        assert!(!prefers_event_stream(&accept(
            "application/json, text/event-stream;q=0.5"
        )));
    }

    #[test]
    fn dates_must_be_padded_and_real() {
        assert_eq!(
            parse_date("2026-11-21"),
            NaiveDate::from_ymd_opt(2026, 11, 21)
        );
        for bad in [
            "2026-1-21",
            "2026-02-30",
            "21-11-2026",
            "2026/11/21",
            "20261121",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn integers_have_one_spelling() {
        assert_eq!(non_negative_integer("0"), Some(0));
        assert_eq!(non_negative_integer("42"), Some(42));
        for bad in ["-1", "+1", " 1", "1.0", "abc", "99999999999999999999", ""] {
            assert_eq!(non_negative_integer(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_range_end_includes_its_whole_day_or_its_instant() {
        let params = Params::parse(Some("placed_to=2026-11-21"), &["placed_to"]).expect("ok");
        assert_eq!(
            params
                .range_end("placed_to")
                .expect("valid")
                .map(|t| t.to_rfc3339()),
            Some("2026-11-22T00:00:00+00:00".to_owned())
        );
        let params =
            Params::parse(Some("placed_to=2026-11-21T10:00:00+01:00"), &["placed_to"]).expect("ok");
        assert_eq!(
            params
                .range_end("placed_to")
                .expect("valid")
                .map(|t| t.to_rfc3339()),
            Some("2026-11-21T09:00:00.000001+00:00".to_owned())
        );
    }

    #[test]
    fn unknown_repeated_and_empty_parameters_are_named() {
        for (query, name) in [
            ("limt=5", "limt"),
            ("limit=5&limit=6", "limit"),
            ("limit=", "limit"),
        ] {
            match Params::parse(Some(query), &["limit"]) {
                Err(ApiError::InvalidParameter { parameter, .. }) => assert_eq!(parameter, name),
                other => panic!("{query}: {other:?}"),
            }
        }
        assert!(Params::parse(Some("min_position=3&limit=5"), &["limit"]).is_ok());
    }
}
