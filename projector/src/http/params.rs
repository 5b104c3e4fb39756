//! The parameters of the dead-letter routes, each checked and refused by name: the
//! listing's `limit` and opaque `cursor`, and the `{id}` of a path.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use stockflow_edge::paging::{BAD_CURSOR, Paging};

use super::error::ApiError;

const DEFAULT_LIMIT: i64 = 50;
pub(super) const MAX_LIMIT: i64 = 500;
const CURSOR_TAG: &str = "dead-letters.v1";

/// `limit`, and the id the page starts after.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ListParams {
    pub limit: i64,
    pub after: Option<i64>,
}

impl ListParams {
    /// Every parameter that is unknown, repeated, empty or out of range is refused, named.
    pub fn parse(query: Option<&str>) -> Result<ListParams, ApiError> {
        let paging = Paging::parse(query, DEFAULT_LIMIT, MAX_LIMIT)
            .map_err(|refused| ApiError::invalid(refused.name, refused.message))?;
        let after = paging
            .cursor
            .map(|raw| parse_cursor(&raw).ok_or_else(|| ApiError::invalid("cursor", BAD_CURSOR)))
            .transpose()?;
        Ok(ListParams {
            limit: paging.limit,
            after,
        })
    }
}

/// The cursor of the page that starts after the dead letter `id`.
pub(super) fn cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_TAG}:{id}"))
}

fn parse_cursor(text: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let key = std::str::from_utf8(&bytes).ok()?;
    let id = key.strip_prefix(CURSOR_TAG)?.strip_prefix(':')?;
    integer(id).filter(|id| *id >= 1)
}

/// The `{id}` of a path: a dead letter's id, a positive integer. One too large to be an id
/// names no dead letter: not found, rather than malformed.
pub(super) fn dead_letter_id(raw: &str) -> Result<i64, ApiError> {
    let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    if !digits || raw.bytes().all(|b| b == b'0') {
        return Err(ApiError::invalid(
            "id",
            "must be a dead letter's id, a positive integer",
        ));
    }
    raw.parse()
        .map_err(|_| ApiError::DeadLetterNotFound(raw.to_owned()))
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

    fn refused_parameter(query: &str) -> String {
        match ListParams::parse(Some(query)) {
            Err(ApiError::InvalidParameter { parameter, .. }) => parameter,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn limit_and_cursor_are_read_and_everything_else_is_refused_by_name() {
        assert_eq!(
            ListParams::parse(None).expect("no parameters"),
            ListParams {
                limit: 50,
                after: None
            }
        );
        let query = format!("limit=500&cursor={}", cursor(41));
        assert_eq!(
            ListParams::parse(Some(&query)).expect("valid"),
            ListParams {
                limit: 500,
                after: Some(41)
            }
        );
        let forged = format!("cursor={}", URL_SAFE_NO_PAD.encode("audit.v1:1:2"));
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=-1", "limit"),
            ("limit=%2B5", "limit"),
            ("limit=1.5", "limit"),
            ("limit=", "limit"),
            ("limit=5&limit=6", "limit"),
            ("cursor=nope", "cursor"),
            ("cursor=", "cursor"),
            (forged.as_str(), "cursor"),
            ("limt=5", "limt"),
        ] {
            assert_eq!(refused_parameter(query), parameter, "{query}");
        }
    }

    #[test]
    fn an_id_is_a_positive_integer() {
        assert_eq!(dead_letter_id("7").ok(), Some(7));
        for bad in ["0", "00", "-1", "+1", "x", "", "1.0", " 1"] {
            assert!(
                matches!(dead_letter_id(bad), Err(ApiError::InvalidParameter { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            dead_letter_id("99999999999999999999"),
            Err(ApiError::DeadLetterNotFound(_))
        ));
    }
}
