//! The attacks of a run, in order: what each sends (for the report), where from, and how it
//! is set on both services at once.

use std::net::Ipv4Addr;
use std::time::Instant;

use super::attacks::{self, Attack, Hold, Tally, Target};
use super::plan::{AbusePlan, attacker_address};
use crate::report::number;

/// The attacks, in the order a run takes them. Header stuffing comes last: the memory it
/// leaves the services holding would blur the figures of any attack after it.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Slowloris,
    IdleHoarding,
    Flood,
    BadTokens,
    OversizedHeaders,
    OversizedBodies,
    HeaderStuffing,
}

pub const KINDS: [Kind; 7] = [
    Kind::Slowloris,
    Kind::IdleHoarding,
    Kind::Flood,
    Kind::BadTokens,
    Kind::OversizedHeaders,
    Kind::OversizedBodies,
    Kind::HeaderStuffing,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Slowloris => "slowloris",
            Kind::IdleHoarding => "idle keep-alive hoarding",
            Kind::Flood => "connection flood past the cap",
            Kind::BadTokens => "bad-token flood",
            Kind::OversizedHeaders => "oversized headers",
            Kind::OversizedBodies => "oversized bodies",
            Kind::HeaderStuffing => "header stuffing",
        }
    }

    /// The addresses it comes from: each attack its own, so that what one earns from a
    /// limit by address (bad tokens) does not fall on the next. Oversized bodies come from
    /// two: those without a token from one, those with a valid token from the other.
    fn sources(self, plan: &AbusePlan) -> Vec<Ipv4Addr> {
        let k = plan.bad_token_addresses as u8;
        let range = |first: u8, n: u8| (first..first + n).map(attacker_address).collect();
        match self {
            Kind::Slowloris => range(0, 1),
            Kind::IdleHoarding => range(1, 1),
            Kind::Flood => range(2, 1),
            Kind::BadTokens => range(3, k),
            Kind::OversizedHeaders => range(3 + k, 1),
            Kind::OversizedBodies => range(4 + k, 2),
            Kind::HeaderStuffing => range(6 + k, 1),
        }
    }

    /// What it sends, for the report.
    fn sent(self, plan: &AbusePlan) -> String {
        let (held, cap) = (plan.held_connections, plan.limits.max_connections);
        let clients = plan.oversized_clients;
        let sources = self.sources(plan);
        let from = match sources.as_slice() {
            [one] => one.to_string(),
            [first, .., last] => format!("{first} to {last}"),
            [] => String::new(),
        };
        match self {
            Kind::Slowloris => format!(
                "{held} connections per service from {from}, each a request line and then one \
                 header byte a second, never finished, and opened again once closed"
            ),
            Kind::IdleHoarding => format!(
                "{held} connections per service from {from}, each one `GET /healthz`, then \
                 idle, and opened again once closed"
            ),
            Kind::Flood => format!(
                "{} connections per service from {from} ({} past `HTTP_MAX_CONNECTIONS` = \
                 {cap}), held without sending a byte, each opened again once closed (100 ms \
                 after a refusal)",
                cap + plan.flood_past_cap,
                plan.flood_past_cap
            ),
            Kind::BadTokens => format!(
                "{} requests/s per service with a forged HS256 token (admin scope, signed with \
                 another key), spread over {} addresses ({from}): product reads on the query \
                 service, place-orders on the command service",
                number(plan.bad_token_rate),
                sources.len()
            ),
            Kind::OversizedHeaders => format!(
                "{clients} clients per service from {from}, one request after another, each on \
                 a connection of its own: `GET /healthz` with one 100 KiB header, then with one \
                 1 MiB header"
            ),
            Kind::OversizedBodies => format!(
                "{clients} clients per service, one request after another, each on a \
                 connection of its own: a POST announcing 10 MiB (`Content-Length`) without a \
                 token from {}; from {}, the same with a valid token, and 10 MiB chunked with a \
                 valid token; to `/v1/orders` (command service) and `/v1/products/BENCH-0` \
                 (query service, which takes no POST)",
                sources[0], sources[1]
            ),
            Kind::HeaderStuffing => format!(
                "{held} connections per service from {from}, each a request line and 400 KiB \
                 of one header (under the 408 KiB hyper buffers for a head by default), then \
                 one byte a second, never finished, and opened again once closed"
            ),
        }
    }

    /// Runs it on every target at once until `until`; `token` is a valid token of the
    /// attacker's own (so that its rate limit is not the normal client's).
    pub async fn run(
        self,
        plan: &AbusePlan,
        targets: &[Target],
        token: &str,
        until: Instant,
    ) -> Attack {
        let limit = plan.limits.hold_limit_seconds();
        let sources = self.sources(plan);
        let held = plan.held_connections;
        let clients = plan.oversized_clients;
        let on = |target: &Target| {
            let (target, sources) = (target.clone(), sources.clone());
            async move {
                let hold = |connections, how| {
                    attacks::hold(&target, sources[0], connections, how, limit, until)
                };
                let tally: Tally = match self {
                    Kind::Slowloris => hold(held, Hold::Slowloris).await,
                    Kind::IdleHoarding => hold(held, Hold::Idle).await,
                    Kind::Flood => {
                        let connections = plan.limits.max_connections + plan.flood_past_cap;
                        hold(connections, Hold::Flood).await
                    }
                    Kind::HeaderStuffing => hold(held, Hold::Stuffed).await,
                    Kind::BadTokens => {
                        attacks::bad_tokens(&target, &sources, plan.bad_token_rate, until).await
                    }
                    Kind::OversizedHeaders => {
                        attacks::oversized_headers(&target, sources[0], clients, until).await
                    }
                    Kind::OversizedBodies => {
                        let (anonymous, authorized) = (sources[0], sources[1]);
                        attacks::oversized_bodies(
                            &target,
                            [anonymous, authorized],
                            clients,
                            token,
                            until,
                        )
                        .await
                    }
                };
                tally.effect(target.service)
            }
        };
        let effects = futures_util::future::join_all(targets.iter().map(on)).await;
        Attack {
            name: self.name(),
            sent: self.sent(plan),
            hold_limited: matches!(
                self,
                Kind::Slowloris | Kind::IdleHoarding | Kind::Flood | Kind::HeaderStuffing
            ),
            fills_cap: matches!(self, Kind::Flood),
            effects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_attacks_share_an_address_nor_use_the_normal_clients() {
        let plan = AbusePlan::quick();
        let mut seen = Vec::new();
        for kind in KINDS {
            for source in kind.sources(&plan) {
                assert_ne!(source, Ipv4Addr::LOCALHOST);
                assert!(!seen.contains(&source), "{source} twice");
                seen.push(source);
            }
        }
        assert_eq!(seen.len(), 6 + plan.bad_token_addresses + 1);
    }
}
