//! Tokens a client could forge: any header, any claims, signed with any secret or not at all.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this header and these claims, signed HS256 with `secret` (or not at all).
pub fn forged_token(header: Value, claims: Value, secret: Option<&str>) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = secret.map_or_else(String::new, |secret| {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(signing_input.as_bytes());
        b64(&mac.finalize().into_bytes())
    });
    format!("{signing_input}.{signature}")
}

/// Seconds since 1970, as `exp`, `nbf` and `iat` count them.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}
