//! Opaque pagination cursors: the last key of a page, tagged with the listing it belongs to
//! and sealed with a checksum, in base64url. Clients must not build or edit them, and any
//! cursor that was not handed out by the same listing is refused rather than misread.
//!
//! The checksum is not a secret MAC: a cursor grants nothing, so a deliberate forgery could
//! only start a listing at a key the client could have asked for anyway. It catches
//! truncation, edits and cursors pasted into the wrong listing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

const CHECKSUM_BYTES: usize = 8;

/// Which listing a cursor continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Products,
    Orders,
    Replenishments,
    Movements,
    Stock,
}

impl Listing {
    fn tag(self) -> &'static str {
        match self {
            Listing::Products => "products",
            Listing::Orders => "orders",
            Listing::Replenishments => "replenishments",
            Listing::Movements => "movements",
            Listing::Stock => "stock",
        }
    }
}

fn checksum(listing: Listing, payload: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let mut hash = Sha256::new();
    hash.update(b"stockflow-cursor-v1\0");
    hash.update(listing.tag().as_bytes());
    hash.update(b"\0");
    hash.update(payload);
    let digest = hash.finalize();
    let mut sum = [0u8; CHECKSUM_BYTES];
    sum.copy_from_slice(&digest[..CHECKSUM_BYTES]);
    sum
}

pub fn encode<K: Serialize>(listing: Listing, key: &K) -> String {
    let mut bytes = serde_json::to_vec(key).expect("cursor keys serialize to JSON");
    let sum = checksum(listing, &bytes);
    bytes.extend_from_slice(&sum);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key in `cursor`, or `None` when it is not one this listing handed out.
pub fn decode<K: DeserializeOwned>(listing: Listing, cursor: &str) -> Option<K> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
    if bytes.len() <= CHECKSUM_BYTES {
        return None;
    }
    let (payload, sum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
    if checksum(listing, payload) != sum {
        return None;
    }
    serde_json::from_slice(payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_within_its_listing() {
        let key = ("SKU-1".to_owned(), 42_i64);
        let cursor = encode(Listing::Products, &key);
        assert_eq!(
            decode::<(String, i64)>(Listing::Products, &cursor),
            Some(key)
        );
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{cursor} must be safe in a query string"
        );
    }

    #[test]
    fn edited_truncated_foreign_or_garbage_cursors_are_refused() {
        let cursor = encode(Listing::Orders, &("A".to_owned(), 1_i64));
        assert_eq!(decode::<(String, i64)>(Listing::Products, &cursor), None);
        assert_eq!(
            decode::<(String, i64)>(Listing::Orders, &cursor[..cursor.len() - 1]),
            None
        );
        for position in 0..cursor.len() {
            let mut edited = cursor.clone().into_bytes();
            edited[position] = if edited[position] == b'A' { b'B' } else { b'A' };
            let edited = String::from_utf8(edited).expect("ascii");
            assert_eq!(
                decode::<(String, i64)>(Listing::Orders, &edited),
                None,
                "edit at {position}"
            );
        }
        for garbage in ["", "x", "!!!", "bnVsbA", "%%%%"] {
            assert_eq!(decode::<(String, i64)>(Listing::Orders, garbage), None);
        }
    }

    #[test]
    fn a_well_sealed_key_of_the_wrong_shape_is_refused() {
        let cursor = encode(Listing::Orders, &"just a string");
        assert_eq!(decode::<(String, i64)>(Listing::Orders, &cursor), None);
    }
}
