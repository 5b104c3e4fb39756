//! Sessions: which operator a browser is, by a random id in a cookie, and the token the
//! console adds to that browser's requests. Tokens live only here, in memory: never in a
//! cookie, an answer or a log. The map is bounded, and expired sessions are swept.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "stockflow_console";

/// Most sessions held at once: far more operators than any deployment has, few enough that
/// sign-ins in a loop cannot grow the console's memory without end.
pub const CAPACITY: usize = 1024;

/// A bearer token, kept out of `Debug` output so that no log line can carry it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(token: String) -> Token {
        Token(token)
    }

    /// The token itself, for the `Authorization` header of a forwarded request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A live session: whose it is, and the token to act with.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: Token,
    pub subject: String,
}

#[derive(Debug)]
struct Entry {
    session: Session,
    expires: Instant,
}

/// The sessions of the console, by id.
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    pub fn new(ttl: Duration, capacity: usize) -> Sessions {
        Sessions {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Opens a session for `session` at `now`, ending after the TTL or when the token
    /// expires (`token_expires`), whichever comes first; returns its new id. When the map is
    /// full of live sessions, the one closest to its end makes room.
    pub fn open(&self, session: Session, token_expires: Option<Instant>, now: Instant) -> String {
        let mut expires = now + self.ttl;
        if let Some(token_expires) = token_expires {
            expires = expires.min(token_expires);
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, entry| entry.expires > now);
        }
        if entries.len() >= self.capacity
            && let Some(soonest) = entries
                .iter()
                .min_by_key(|(_, entry)| entry.expires)
                .map(|(id, _)| id.clone())
        {
            entries.remove(&soonest);
        }
        let id = new_id();
        entries.insert(id.clone(), Entry { session, expires });
        id
    }

    /// The live session with this id at `now`; an expired one is forgotten.
    pub fn find(&self, id: &str, now: Instant) -> Option<Session> {
        let mut entries = self.lock();
        match entries.get(id) {
            Some(entry) if entry.expires > now => Some(entry.session.clone()),
            Some(_) => {
                entries.remove(id);
                None
            }
            None => None,
        }
    }

    /// Forgets a session (sign-out); whether it existed.
    pub fn close(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    /// Forgets every session expired at `now`; how many.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, entry| entry.expires > now);
        before - entries.len()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves the map itself intact.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A new session id: 32 random bytes, base64url without padding.
pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `Set-Cookie` value of a new session: out of scripts' reach (`HttpOnly`), never sent
/// with a request another site starts (`SameSite=Strict`), for the whole console, for `ttl`.
pub fn cookie(id: &str, ttl: Duration, secure: bool) -> String {
    let mut cookie = format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        ttl.as_secs()
    );
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The `Set-Cookie` value that makes the browser drop the session cookie.
pub fn cleared_cookie(secure: bool) -> String {
    let mut cookie = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The session id a request's `Cookie` headers carry, if any.
pub fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn session(subject: &str) -> Session {
        Session {
            token: Token::new(format!("token-of-{subject}")),
            subject: subject.to_owned(),
        }
    }

    #[test]
    fn a_session_lives_for_its_ttl_and_then_is_gone() {
        let sessions = Sessions::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        let id = sessions.open(session("ops"), None, now);
        let found = sessions.find(&id, now + Duration::from_secs(59)).unwrap();
        assert_eq!(found.subject, "ops");
        assert_eq!(found.token.expose(), "token-of-ops");
        assert!(sessions.find(&id, now + Duration::from_secs(60)).is_none());
        // Found expired, it is forgotten.
        assert!(sessions.is_empty());
        assert!(sessions.find("no-such-id", now).is_none());
    }

    #[test]
    fn a_session_ends_with_its_token_if_that_comes_first() {
        let sessions = Sessions::new(Duration::from_secs(3600), 10);
        let now = Instant::now();
        let id = sessions.open(session("ops"), Some(now + Duration::from_secs(5)), now);
        assert!(sessions.find(&id, now + Duration::from_secs(4)).is_some());
        assert!(sessions.find(&id, now + Duration::from_secs(5)).is_none());
    }

    #[test]
    fn sweeping_forgets_only_expired_sessions() {
        let sessions = Sessions::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        let old = sessions.open(session("old"), None, now);
        let new = sessions.open(session("new"), None, now + Duration::from_secs(30));
        assert_eq!(sessions.sweep(now + Duration::from_secs(61)), 1);
        assert!(sessions.find(&old, now + Duration::from_secs(61)).is_none());
        assert!(sessions.find(&new, now + Duration::from_secs(61)).is_some());
    }

    #[test]
    fn a_full_map_drops_expired_sessions_first_then_the_one_closest_to_its_end() {
        let sessions = Sessions::new(Duration::from_secs(60), 2);
        let now = Instant::now();
        let first = sessions.open(session("first"), None, now);
        let second = sessions.open(session("second"), None, now + Duration::from_secs(10));
        let third = sessions.open(session("third"), None, now + Duration::from_secs(20));
        assert_eq!(sessions.len(), 2);
        let later = now + Duration::from_secs(20);
        assert!(sessions.find(&first, later).is_none());
        assert!(sessions.find(&second, later).is_some());
        assert!(sessions.find(&third, later).is_some());
        // Past the first's end, an expired session makes room and no live one is dropped.
        let expired = Sessions::new(Duration::from_secs(60), 2);
        let a = expired.open(session("a"), Some(now + Duration::from_secs(1)), now);
        let b = expired.open(session("b"), None, now);
        let c = expired.open(session("c"), None, now + Duration::from_secs(2));
        let at = now + Duration::from_secs(2);
        assert!(expired.find(&a, at).is_none());
        assert!(expired.find(&b, at).is_some());
        assert!(expired.find(&c, at).is_some());
    }

    #[test]
    fn closing_forgets_the_session() {
        let sessions = Sessions::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        let id = sessions.open(session("ops"), None, now);
        assert!(sessions.close(&id));
        assert!(!sessions.close(&id));
        assert!(sessions.find(&id, now).is_none());
    }

    #[test]
    fn ids_are_32_random_bytes_in_base64url() {
        let id = new_id();
        assert_eq!(id.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(&id).unwrap().len(), 32);
        assert_ne!(id, new_id());
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let shown = format!("{:?}", session("ops"));
        assert!(!shown.contains("token-of-ops"), "{shown}");
    }

    #[test]
    fn the_cookie_is_http_only_same_site_strict_for_the_whole_console() {
        assert_eq!(
            cookie("abc", Duration::from_secs(28_800), false),
            "stockflow_console=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800"
        );
        assert!(cookie("abc", Duration::from_secs(60), true).ends_with("; Secure"));
        assert_eq!(
            cleared_cookie(false),
            "stockflow_console=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        );
        assert!(cleared_cookie(true).ends_with("; Secure"));
    }

    #[test]
    fn the_session_id_is_found_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; stockflow_console=the-id ; b=2"),
        );
        assert_eq!(session_id(&headers), Some("the-id"));
        let mut empty = HeaderMap::new();
        empty.insert(
            header::COOKIE,
            HeaderValue::from_static("stockflow_console="),
        );
        assert_eq!(session_id(&empty), None);
        assert_eq!(session_id(&HeaderMap::new()), None);
    }
}
