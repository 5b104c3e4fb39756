//! Values that check themselves when made: past the HTTP edge an invalid sku, currency or
//! policy cannot exist. The limits are those of docs/domain.md.

use serde::{Deserialize, Serialize};

pub const MAX_UNIT_PRICE_CENTS: i64 = 100_000_000;
pub const MAX_STOCK_QUANTITY: i64 = 1_000_000_000;
pub const MAX_LINE_QUANTITY: i64 = 10_000;
pub const MAX_ORDER_LINES: usize = 100;

/// A product's identity: 1 to 32 of `A-Z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Sku, String> {
        let valid = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Ok(Sku(raw.to_owned()))
        } else {
            Err("must be 1 to 32 characters of A-Z, 0-9, '-' and '_'".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Currency, String> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(raw.to_owned()))
        } else {
            Err("must be an ISO 4217 code of three upper-case letters".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a product does with an order line it lacks the stock for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackorderPolicy {
    /// Refuse the whole order.
    #[default]
    Reject,
    /// Reserve what there is, backorder the rest and ask the supplier for more.
    Backorder,
}

impl BackorderPolicy {
    pub fn parse(raw: &str) -> Result<BackorderPolicy, String> {
        match raw {
            "reject" => Ok(BackorderPolicy::Reject),
            "backorder" => Ok(BackorderPolicy::Backorder),
            _ => Err("must be \"reject\" or \"backorder\"".to_owned()),
        }
    }
}

/// Free text of `min..=max` characters with no control characters.
pub fn text(raw: &str, min: usize, max: usize) -> Result<String, String> {
    let chars = raw.chars().count();
    if chars < min || chars > max {
        return Err(format!("must be {min} to {max} characters"));
    }
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(raw.to_owned())
}

pub fn in_range(value: i64, min: i64, max: i64) -> Result<i64, String> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be from {min} to {max}"))
    }
}

/// What a supplier is asked for when a line is short: the shortfall plus 20%, rounded up.
pub fn replenishment_for(shortfall: i64) -> i64 {
    // ceil(shortfall × 6 / 5) in integers; shortfall ≤ 10_000, so no overflow.
    (shortfall * 6 + 4) / 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replenishment_is_the_shortfall_plus_a_fifth_rounded_up() {
        assert_eq!(replenishment_for(1), 2);
        assert_eq!(replenishment_for(5), 6);
        assert_eq!(replenishment_for(7), 9);
        assert_eq!(replenishment_for(10), 12);
    }

    #[test]
    fn sku_and_currency_refuse_what_breaks_their_format() {
        assert!(Sku::parse("SKU-1_A").is_ok());
        assert!(Sku::parse("sku").is_err());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse(&"A".repeat(33)).is_err());
        assert!(Currency::parse("EUR").is_ok());
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("EURO").is_err());
    }
}
