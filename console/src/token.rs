//! What the console reads from a token without verifying it (it holds no secret; the services
//! verify): the subject, to show who is signed in, and the expiry, so that a session ends
//! with its token. Neither decides anything a service would not decide again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The longest token accepted at sign-in; real ones are a few hundred bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The unverified claims of a JWT the console uses for display and for the session's end.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unverified {
    pub subject: Option<String>,
    /// Seconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

/// The subject and expiry of `token`, as far as they can be read; nothing for a token that is
/// not a JWT (a service in development mode takes any).
pub fn peek(token: &str) -> Unverified {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Unverified::default();
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else {
        return Unverified::default();
    };
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(&bytes) else {
        return Unverified::default();
    };
    Unverified {
        subject: claims
            .get("sub")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        expires_at: claims.get("exp").and_then(|e| e.as_u64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJIUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn the_subject_and_expiry_are_read_from_the_payload() {
        let claims = peek(&jwt(r#"{"sub":"ops-1","scope":"admin","exp":1900000000}"#));
        assert_eq!(claims.subject.as_deref(), Some("ops-1"));
        assert_eq!(claims.expires_at, Some(1_900_000_000));
    }

    #[test]
    fn what_is_not_a_jwt_yields_nothing() {
        assert_eq!(peek("not-a-token"), Unverified::default());
        assert_eq!(peek("a.b.c.d"), Unverified::default());
        assert_eq!(peek("a.%%%.c"), Unverified::default());
        assert_eq!(peek(&jwt("[1,2]")), Unverified::default());
        // Claims of the wrong type are ignored, not trusted.
        assert_eq!(
            peek(&jwt(r#"{"sub":7,"exp":"soon"}"#)),
            Unverified::default()
        );
    }
}
