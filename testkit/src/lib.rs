//! The test kit every stockflow suite shares: a database per test, cloned from a template
//! migrated once per run; exchange and queue names that are removed with the test; HTTP
//! clients with a token of the scopes a test needs, and responses that assert problems; services
//! running in the test's process; a service's OpenAPI document checked against the committed
//! copy and the bodies sent; the store folded into aggregates with the domain's invariants
//! checked over it.
//!
//! Tests reach the servers named by `TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`) and `TEST_AMQP_URL` (default the local RabbitMQ).

pub mod broker;
pub mod database;
pub mod http;
pub mod openapi;
mod service;
pub mod sse;
mod token;
pub mod truth;

pub use broker::{BrokerNames, Received, Subscriber, delete_queue, inspect_queue};
pub use database::TestDatabase;
pub use http::{TestResponse, assert_keys, authorized_client, read, send};
pub use service::Running;
pub use sse::{Frame, SseReader};
pub use token::{forged_token, unix_now};
pub use truth::{Folded, assert_invariants};

/// The secret test services sign and check tokens with.
pub const TEST_SECRET: &str = "test-secret-of-at-least-32-characters!";

/// The PostgreSQL server tests create their databases on, without a database name.
pub fn server_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The RabbitMQ tests declare their exchanges and queues on.
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A service's database: the one at `url`, which the service migrates at startup if
/// `migrate`.
pub fn database_args(url: &str, migrate: bool) -> stockflow_edge::args::DatabaseArgs {
    stockflow_edge::args::DatabaseArgs {
        url: url.to_owned(),
        migrate,
    }
}

/// A service's broker: the tests' RabbitMQ, with the events on `exchange`.
pub fn broker_args(exchange: &str) -> stockflow_edge::args::BrokerArgs {
    stockflow_edge::args::BrokerArgs {
        url: amqp_url(),
        events_exchange: exchange.to_owned(),
    }
}

/// Authentication on with the test secret; no rate limits (tests send bursts, bad tokens
/// included).
pub fn web_config() -> stockflow_edge::WebConfig {
    stockflow_edge::WebConfig {
        auth_jwt_secret: Some(TEST_SECRET.into()),
        auth_dev_mode: false,
        rate_limit_per_second: 0,
        request_timeout_ms: 10_000,
        auth_failures_per_second: 0,
        cors_allowed_origins: Vec::new(),
        metrics_addr: None,
    }
}

/// Logs of the services under test, shown for failing tests (`RUST_LOG` filters).
pub fn init_logs() {
    stockflow_telemetry::init_test();
}

/// A loopback address nothing listens on right now: a port just let go of (for a service to
/// take, or for a client that must find nobody there).
pub fn free_address() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on the loopback")
}

/// A name no other test uses: `<prefix><uuid v7>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

/// Runs `cleanup` to completion on a runtime of its own: for `Drop`, which cannot await and
/// may run outside any runtime or on one that is shutting down.
pub(crate) fn block_on_own_runtime<F>(cleanup: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let worker = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(cleanup);
    });
    let _ = worker.join();
}
