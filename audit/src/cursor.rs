//! The opaque cursor of the audit log's pages: the key (instant, id) of the last entry a page
//! showed, in base64url. Clients pass back what they were given; anything else is refused,
//! not misread. A cursor grants nothing, so it is not sealed: one edited into another valid
//! key only starts the listing somewhere the client could have paged to anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

const TAG: &str = "audit.v1";

/// Where the next page starts: after this entry, in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) at: DateTime<Utc>,
    pub(crate) id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let key = format!("{TAG}:{}:{}", self.at.timestamp_micros(), self.id);
        URL_SAFE_NO_PAD.encode(key)
    }

    /// The cursor `text` encodes, or `None` if it is not one this log handed out.
    pub fn parse(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let key = std::str::from_utf8(&bytes).ok()?;
        let mut parts = key.split(':');
        let (tag, micros, id) = (parts.next()?, parts.next()?, parts.next()?);
        if tag != TAG || parts.next().is_some() {
            return None;
        }
        let at = DateTime::from_timestamp_micros(integer(micros)?)?;
        let id = integer(id)?;
        Some(Cursor { at, id })
    }
}

/// An integer with one spelling: digits, an optional leading `-`, no `+`, no spaces.
fn integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_is_safe_in_a_query_string() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_micros(1_796_000_000_123_456).expect("an instant"),
            id: 42,
        };
        let text = cursor.encode();
        assert_eq!(Cursor::parse(&text), Some(cursor));
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{text}"
        );
    }

    #[test]
    fn anything_but_a_cursor_of_this_log_is_refused() {
        let encode = |key: &str| URL_SAFE_NO_PAD.encode(key);
        for garbage in [
            "".to_owned(),
            "x".into(),
            "!!!".into(),
            "%%%".into(),
            encode("audit.v1:1:2:3"),
            encode("audit.v1:1"),
            encode("audit.v2:1:2"),
            encode("products:1:2"),
            encode("audit.v1:+1:2"),
            encode("audit.v1: 1:2"),
            encode("audit.v1:1:"),
            encode("audit.v1:99999999999999999999:2"),
            encode("audit.v1:9223372036854775807:2"),
        ] {
            assert_eq!(Cursor::parse(&garbage), None, "{garbage}");
        }
    }
}
