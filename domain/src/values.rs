//! Values that check themselves on construction. Each check returns the message a client sees
//! for that field, so the HTTP edge can report every broken field at once.

use serde::{Deserialize, Serialize};

pub const MAX_UNIT_PRICE_CENTS: i64 = 100_000_000;
pub const MAX_STOCK_QUANTITY: i64 = 1_000_000_000;
pub const MAX_LINE_QUANTITY: i64 = 10_000;
pub const MAX_ORDER_LINES: usize = 100;

/// A product's stock keeping unit: 1–32 of `A-Z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Sku, String> {
        let valid_chars = raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if raw.is_empty() || raw.len() > 32 || !valid_chars {
            return Err("must be 1 to 32 characters of A-Z, 0-9, '-' and '_'".to_owned());
        }
        Ok(Sku(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Sku {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Currency, String> {
        if raw.len() != 3 || !raw.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err("must be an ISO 4217 code of three upper-case letters".to_owned());
        }
        Ok(Currency(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a free text's length in characters (not bytes), after refusing control characters
/// that have no business in names, reasons or references.
pub fn text(raw: &str, min: usize, max: usize) -> Result<String, String> {
    let chars = raw.chars().count();
    if chars < min || chars > max {
        return Err(format!("must be {min} to {max} characters"));
    }
    if raw.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(raw.to_owned())
}

/// Checks that an integer lies in `min..=max`.
pub fn in_range(value: i64, min: i64, max: i64) -> Result<i64, String> {
    if value < min || value > max {
        return Err(format!("must be between {min} and {max}"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_accept_only_the_documented_alphabet_and_length() {
        assert!(Sku::parse("ABC-123_X").is_ok());
        assert!(Sku::parse(&"A".repeat(32)).is_ok());
        for bad in ["", "abc", "AB C", "ÄBC", &"A".repeat(33), "A;DROP"] {
            assert!(Sku::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert!(Currency::parse("EUR").is_ok());
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        assert!(text(&"é".repeat(200), 1, 200).is_ok());
        assert!(text(&"é".repeat(201), 1, 200).is_err());
        assert!(text("", 1, 200).is_err());
        assert!(text("tab\there", 1, 200).is_err());
    }

    use proptest::prelude::*;

    /// Strings a client might send: the alphabets of the rules, their neighbours, SQL and
    /// LIKE metacharacters, controls and unicode.
    fn client_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Z0-9_-]{0,34}",
            "[A-Za-z0-9 _%\\\\'\";-]{0,40}",
            any::<String>(),
            Just("'; DROP TABLE event_store.events;--".to_owned()),
            Just("\u{0}".to_owned()),
            Just("\u{202e}\u{200d}🦀e\u{301}".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn a_sku_is_accepted_exactly_when_it_follows_the_rule(raw in client_text()) {
            let follows = (1..=32).contains(&raw.len())
                && raw.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
            match Sku::parse(&raw) {
                Ok(sku) => {
                    prop_assert!(follows, "{raw:?} accepted");
                    prop_assert_eq!(sku.as_str(), raw.as_str());
                }
                Err(message) => {
                    prop_assert!(!follows, "{raw:?} refused");
                    prop_assert!(message.contains("1 to 32"));
                }
            }
        }

        #[test]
        fn a_currency_is_accepted_exactly_when_it_is_three_capitals(raw in prop_oneof!["[A-Za-z]{0,4}", client_text()]) {
            let follows = raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase());
            match Currency::parse(&raw) {
                Ok(currency) => {
                    prop_assert!(follows);
                    prop_assert_eq!(currency.as_str(), raw.as_str());
                }
                Err(message) => {
                    prop_assert!(!follows);
                    prop_assert!(message.contains("ISO 4217"));
                }
            }
        }

        #[test]
        fn text_is_kept_exactly_or_refused_saying_why(raw in client_text(), min in 0usize..3, max in 0usize..50) {
            let chars = raw.chars().count();
            let fits = chars >= min && chars <= max && !raw.chars().any(char::is_control);
            match text(&raw, min, max) {
                Ok(kept) => {
                    prop_assert!(fits);
                    prop_assert_eq!(kept, raw);
                }
                Err(message) => {
                    prop_assert!(!fits);
                    prop_assert!(message.contains("characters"), "{}", message);
                }
            }
        }

        #[test]
        fn a_number_is_in_range_or_refused_naming_the_range(
            value in prop_oneof![any::<i64>(), -3i64..3, Just(i64::MIN), Just(i64::MAX)],
            (min, max) in prop_oneof![
                Just((1, MAX_STOCK_QUANTITY)),
                Just((0, MAX_STOCK_QUANTITY)),
                Just((1, MAX_UNIT_PRICE_CENTS)),
                Just((1, MAX_LINE_QUANTITY)),
                Just((-MAX_STOCK_QUANTITY, MAX_STOCK_QUANTITY)),
            ],
        ) {
            match in_range(value, min, max) {
                Ok(kept) => {
                    prop_assert!((min..=max).contains(&value));
                    prop_assert_eq!(kept, value);
                }
                Err(message) => {
                    prop_assert!(!(min..=max).contains(&value));
                    prop_assert_eq!(message, format!("must be between {min} and {max}"));
                }
            }
        }
    }
}
