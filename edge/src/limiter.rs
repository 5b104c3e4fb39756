//! Rate limits: a token bucket per key (a token's subject; a client's address for failed
//! authentications).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket per key.
pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` requests a second, in bursts of twice that.
    pub(crate) fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: 2.0 * f64::from(per_second),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Err` with how long until `key` may go again if its bucket is empty now; takes nothing.
    pub(crate) fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        match buckets.get(key) {
            Some((tokens, at)) => {
                let tokens = (tokens + now.duration_since(*at).as_secs_f64() * self.per_second)
                    .min(self.burst);
                if tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
                }
            }
            None => Ok(()),
        }
    }

    /// `Ok` when the request may go; otherwise how long until it may.
    pub(crate) fn admit(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle tokens rather than grow without bound.
            buckets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(60));
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_admits_a_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(5);
        for _ in 0..10 {
            assert!(limiter.admit("t").is_ok());
        }
        let wait = limiter.admit("t").expect_err("the eleventh is refused");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200));
        assert!(
            limiter.admit("other").is_ok(),
            "tokens are limited separately"
        );
    }

    #[test]
    fn a_check_takes_nothing() {
        let limiter = RateLimiter::new(1);
        assert!(limiter.check("a").is_ok(), "an unknown key may go");
        for _ in 0..2 {
            assert!(limiter.admit("a").is_ok());
        }
        assert!(limiter.check("a").is_err(), "the burst is spent");
        assert!(limiter.check("a").is_err(), "checking spent nothing more");
        assert!(limiter.check("b").is_ok());
    }
}
