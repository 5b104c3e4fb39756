//! What an abuse run does: how long each stretch lasts, how hard each attack pushes, and the
//! limits the services are started with for it (set explicitly, so that the report can state
//! what was defended).

use std::net::Ipv4Addr;

use serde::Serialize;

/// The services' limits for the run: the defaults of the README's table but for a shorter
/// header time (so that a stretch sees several rounds of it) and a lower connection cap (so
/// that one process can flood past it within this machine's open-files limit).
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    pub header_timeout_ms: u64,
    pub max_connections: usize,
    pub max_in_flight: usize,
    pub auth_failures_per_second: u32,
    pub request_timeout_ms: u64,
    pub rate_limit_per_second: u32,
}

impl Limits {
    /// As environment variables of the services.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HTTP_HEADER_TIMEOUT_MS", self.header_timeout_ms.to_string()),
            ("HTTP_MAX_CONNECTIONS", self.max_connections.to_string()),
            ("HTTP_MAX_IN_FLIGHT", self.max_in_flight.to_string()),
            (
                "AUTH_FAILURES_PER_SECOND",
                self.auth_failures_per_second.to_string(),
            ),
            ("REQUEST_TIMEOUT_MS", self.request_timeout_ms.to_string()),
            (
                "RATE_LIMIT_PER_SECOND",
                self.rate_limit_per_second.to_string(),
            ),
        ]
    }

    /// How long a connection may be held without a request: the header time, and a second
    /// for the timer and the reading of the close.
    pub fn hold_limit_seconds(&self) -> f64 {
        self.header_timeout_ms as f64 / 1000.0 + 1.0
    }
}

/// How big a run is.
#[derive(Debug, Clone, Serialize)]
pub struct AbusePlan {
    pub quick: bool,
    pub before_seconds: f64,
    /// Each attack's stretch.
    pub during_seconds: f64,
    /// The quiet after each attack, in which the normal client must be back.
    pub after_seconds: f64,
    /// The normal client's requests per second (half reads, half place-orders), on kept-alive
    /// connections.
    pub normal_rate: f64,
    /// Requests per second on a new connection each (the same mix), to see whether a new
    /// client gets in.
    pub new_connection_rate: f64,
    pub products: usize,
    /// Connections per service of slowloris, of idle hoarding and of header stuffing.
    pub held_connections: usize,
    /// Connections per service the flood opens past the cap.
    pub flood_past_cap: usize,
    /// Forged-token requests per second, per service, and the addresses they come from.
    pub bad_token_rate: f64,
    pub bad_token_addresses: usize,
    /// Clients per service sending oversized headers, and oversized bodies, one after another.
    pub oversized_clients: usize,
    /// The bound on the normal client's p99 in every window.
    pub p99_bound_ms: f64,
    pub limits: Limits,
}

impl AbusePlan {
    pub fn full() -> AbusePlan {
        AbusePlan {
            quick: false,
            before_seconds: 20.0,
            during_seconds: 30.0,
            after_seconds: 15.0,
            p99_bound_ms: 250.0,
            ..AbusePlan::quick()
        }
    }

    /// A short run for CI: every attack at full strength, for a few seconds each.
    pub fn quick() -> AbusePlan {
        AbusePlan {
            quick: true,
            before_seconds: 5.0,
            during_seconds: 6.0,
            after_seconds: 4.0,
            normal_rate: 50.0,
            new_connection_rate: 4.0,
            products: 50,
            held_connections: 200,
            flood_past_cap: 100,
            bad_token_rate: 250.0,
            bad_token_addresses: 4,
            oversized_clients: 4,
            // Debug builds on a shared CI box: slower, and a few hundred requests a window
            // put p99 on the third-slowest, so one stall moves it.
            p99_bound_ms: 400.0,
            limits: Limits {
                header_timeout_ms: 2_000,
                max_connections: 256,
                max_in_flight: 512,
                auth_failures_per_second: 20,
                request_timeout_ms: 10_000,
                rate_limit_per_second: 500,
            },
        }
    }
}

/// The loopback address each attack comes from: all of 127/8 reaches the services, and the
/// normal client keeps 127.0.0.1 to itself, so that a limit by client address (bad tokens)
/// falls on the attacker only.
pub fn attacker_address(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + n)
}
