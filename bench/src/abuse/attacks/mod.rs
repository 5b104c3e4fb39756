//! The attacks, each run against both HTTP services at once for a stretch, from loopback
//! addresses of their own: connections held without a request (slowloris, idle hoarding, a
//! flood past the cap, header stuffing), and requests no normal client sends (forged tokens,
//! oversized headers and bodies). Each returns what it sent and what each service answered.

mod held;
mod requests;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

pub use held::{Hold, hold};
pub use requests::{bad_tokens, oversized_bodies, oversized_headers};

/// A service under attack.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: &'static str,
    pub addr: SocketAddr,
    /// A path of its API that answers a GET with a valid token, and one that takes a POST
    /// (or refuses it).
    pub read_path: String,
    pub write_path: String,
}

/// What one attack did to one service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Effect {
    pub service: String,
    pub connections_opened: u64,
    pub requests_sent: u64,
    /// What the server answered, by answer: `401 unauthorized`, `closed without an answer`.
    pub answers: BTreeMap<String, u64>,
    /// How long the server kept the attack's connections before closing them, in seconds
    /// (for the attacks that hold connections).
    pub held_p50_seconds: Option<f64>,
    pub held_max_seconds: Option<f64>,
    /// Connections the server kept longer than its limit allows.
    pub held_past_limit: u64,
    /// The attack's connections still open, by its own count, when the stretch ended.
    pub open_at_end: u64,
}

/// What one worker of an attack saw, merged into an [`Effect`] at the end.
#[derive(Debug, Default)]
pub struct Tally {
    pub connections: u64,
    pub requests: u64,
    pub answers: BTreeMap<String, u64>,
    pub held: Vec<f64>,
    pub past_limit: u64,
    pub open_at_end: u64,
}

impl Tally {
    pub fn answer(&mut self, label: String) {
        *self.answers.entry(label).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        self.connections += other.connections;
        self.requests += other.requests;
        for (label, n) in other.answers {
            *self.answers.entry(label).or_insert(0) += n;
        }
        self.held.extend(other.held);
        self.past_limit += other.past_limit;
        self.open_at_end += other.open_at_end;
    }

    pub fn effect(mut self, service: &str) -> Effect {
        self.held.sort_by(f64::total_cmp);
        let at = |p: f64| {
            (!self.held.is_empty()).then(|| {
                let rank = (self.held.len() as f64 * p).ceil() as usize;
                self.held[rank.clamp(1, self.held.len()) - 1]
            })
        };
        Effect {
            service: service.to_owned(),
            connections_opened: self.connections,
            requests_sent: self.requests,
            held_p50_seconds: at(0.5),
            held_max_seconds: at(1.0),
            answers: self.answers,
            held_past_limit: self.past_limit,
            open_at_end: self.open_at_end,
        }
    }
}

/// One attack's account: what it sent, and its effect on each service.
#[derive(Debug, Clone, Serialize)]
pub struct Attack {
    pub name: &'static str,
    pub sent: String,
    /// Whether the connections it holds must be closed within the header time (see
    /// `Limits::hold_limit_seconds`).
    pub hold_limited: bool,
    /// Whether it fills the connection cap on purpose (see `checks`).
    pub fills_cap: bool,
    pub effects: Vec<Effect>,
}

/// Waits for every worker and merges what they saw.
pub async fn gather(workers: Vec<tokio::task::JoinHandle<Tally>>) -> Tally {
    let mut tally = Tally::default();
    for worker in workers {
        match worker.await {
            Ok(seen) => tally.merge(seen),
            Err(error) => tally.answer(format!("worker failed: {error}")),
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_merge_into_one_effect() {
        let mut a = Tally {
            connections: 2,
            held: vec![2.0, 2.1],
            ..Tally::default()
        };
        a.answer("503 overloaded".into());
        let mut b = Tally {
            connections: 1,
            held: vec![1.9],
            past_limit: 1,
            open_at_end: 1,
            ..Tally::default()
        };
        b.answer("503 overloaded".into());
        b.answer("closed without an answer".into());
        a.merge(b);
        let effect = a.effect("query-service");
        assert_eq!(effect.connections_opened, 3);
        assert_eq!(effect.answers["503 overloaded"], 2);
        assert_eq!(effect.answers["closed without an answer"], 1);
        assert_eq!(effect.held_p50_seconds, Some(2.0));
        assert_eq!(effect.held_max_seconds, Some(2.1));
        assert_eq!((effect.held_past_limit, effect.open_at_end), (1, 1));
        assert_eq!(Tally::default().effect("x").held_max_seconds, None);
    }
}
