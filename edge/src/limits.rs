//! How much of a service one client, or all of them, may hold: connections, time to send a
//! request's headers, requests in flight. Beyond them a service sheds load at once (503
//! `overloaded`, `Retry-After`) rather than queue without bound.

use std::time::Duration;

/// The HTTP listener's limits, from the environment or flags (the README's table has them).
#[derive(Debug, Clone, clap::Args)]
pub struct HttpLimits {
    /// How long a client may take to send a request's headers, counted from when the server
    /// is ready for them: on a new connection, and on a kept-alive one after each answer. A
    /// connection that sends nothing for that long is closed: this is also the idle
    /// keep-alive timeout.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// Most connections open at once; one more is answered 503 `overloaded` and closed.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Most requests being answered at once; one more is answered 503 `overloaded`.
    #[arg(long, env = "HTTP_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,
    /// Most bytes a connection may buffer while reading a request's line and headers (8192
    /// at least); more is answered 431 and the connection closed. It bounds what each
    /// connection can make a service hold.
    #[arg(long, env = "HTTP_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    pub max_header_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            header_timeout_ms: 10_000,
            max_connections: 1024,
            max_in_flight: 512,
            max_header_bytes: 32 * 1024,
        }
    }
}

impl HttpLimits {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms.max(1))
    }

    /// [`Self::max_header_bytes`], at least the 8192 bytes hyper needs.
    pub fn header_buffer(&self) -> usize {
        self.max_header_bytes.max(8192)
    }
}
