//! `TestApp`: a real command service on port 0 with its own database and exchange, and typed
//! helpers so that a test reads like the requests it makes.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use stockflow_command_service::{App, Config};
use stockflow_domain::{Order, Product};
use stockflow_events::{CloudEvent, Event};
use stockflow_store::StoredEvent;
use stockflow_store::web::{Scope, WebConfig, mint_token};
use tokio::sync::oneshot;
use uuid::Uuid;

/// The secret test services sign and check tokens with.
pub const TEST_SECRET: &str = "test-secret-of-at-least-32-characters!";

/// Authentication on with the test secret; no rate limit (tests send bursts).
pub fn test_web_config() -> WebConfig {
    WebConfig {
        auth_jwt_secret: Some(TEST_SECRET.into()),
        auth_dev_mode: false,
        rate_limit_per_second: 0,
        request_timeout_ms: 10_000,
    }
}

/// A client that sends a token granting `scopes` with every request.
pub fn authorized_client(scopes: &[Scope]) -> reqwest::Client {
    let token = mint_token(
        TEST_SECRET,
        "test-client",
        scopes,
        Duration::from_secs(3600),
    );
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}")
            .parse()
            .expect("a valid header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

pub fn server_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub database: String,
    pub database_url: String,
    pub exchange: String,
    /// Whether dropping this app removes the database and exchange (false for a second
    /// instance beside another).
    owner: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// Asserts a problem+json refusal with this status and code; returns the body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert_eq!(self.body["status"], status);
        for member in ["type", "title", "detail"] {
            assert!(
                self.body[member].is_string(),
                "problem without {member}: {}",
                self.text
            );
        }
        &self.body
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        &self.body
    }

    pub fn position(&self) -> i64 {
        self.body["position"]
            .as_i64()
            .expect("a success carries its position")
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with_web(test_web_config()).await
    }

    /// A service with these authentication and limit settings.
    pub async fn spawn_with_web(web: WebConfig) -> TestApp {
        init_logs();
        let database = format!("stockflow_test_{}", Uuid::now_v7().simple());
        let exchange = format!("stockflow.test.{}", Uuid::now_v7().simple());
        TestApp::start(database, exchange, true, web).await
    }

    /// A second command service on this one's store and exchange.
    pub async fn spawn_beside(&self) -> TestApp {
        TestApp::start(
            self.database.clone(),
            self.exchange.clone(),
            false,
            test_web_config(),
        )
        .await
    }

    async fn start(database: String, exchange: String, owner: bool, web: WebConfig) -> TestApp {
        let database_url = format!("{}/{}", server_url(), database);
        let config = Config {
            database_url: database_url.clone(),
            amqp_url: amqp_url(),
            listen_addr: "127.0.0.1:0".into(),
            events_exchange: exchange.clone(),
            web,
            ..Config::defaults()
        };
        let app = App::build(config)
            .await
            .expect("the command service starts");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = app
                .run_until(async {
                    let _ = stopped.await;
                })
                .await;
        });
        TestApp {
            addr,
            client: authorized_client(&[Scope::CommandsWrite]),
            database,
            database_url,
            exchange,
            owner,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the service gracefully and waits for it to drain.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.post_with(path, body, &[]).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut request = self.client.post(self.url(path)).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("the service answers")).await
    }

    /// Sends raw bytes with the given content type (or none).
    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> TestResponse {
        let mut request = self.client.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        read(request.send().await.expect("the service answers")).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        read(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("the service answers"),
        )
        .await
    }

    /// Sends any request built on `self.client` (other methods, odd headers) and reads it.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> TestResponse {
        read(request.send().await.expect("the service answers")).await
    }

    /// The global position of the last event in the store (0 when empty).
    pub async fn head(&self) -> i64 {
        self.events().await.last().map_or(0, |e| e.position)
    }

    /// Registers a product priced 1000 EUR cents; `policy` is "reject" or "backorder".
    pub async fn register(&self, sku: &str, initial_stock: i64, policy: &str) -> TestResponse {
        let response = self
            .post(
                "/v1/products",
                json!({"sku": sku, "name": format!("Product {sku}"), "unit_price_cents": 1000,
                       "currency": "EUR", "initial_stock": initial_stock, "backorder_policy": policy}),
            )
            .await;
        response.assert_status(201);
        response
    }

    pub async fn place(&self, customer: &str, lines: &[(&str, i64)]) -> TestResponse {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(sku, q)| json!({"sku": sku, "quantity": q}))
            .collect();
        self.post(
            "/v1/orders",
            json!({"customer_id": customer, "lines": lines}),
        )
        .await
    }

    pub async fn receive(&self, sku: &str, quantity: i64) -> TestResponse {
        self.post(
            &format!("/v1/products/{sku}/receipts"),
            json!({"quantity": quantity}),
        )
        .await
    }

    pub async fn cancel(&self, order_id: &str) -> TestResponse {
        self.post(&format!("/v1/orders/{order_id}/cancel"), json!({}))
            .await
    }

    pub async fn ship(&self, order_id: &str) -> TestResponse {
        self.post(
            &format!("/v1/orders/{order_id}/ship"),
            json!({"carrier": "DHL", "tracking_number": "T1"}),
        )
        .await
    }

    pub async fn db(&self) -> PgConnection {
        PgConnection::connect(&self.database_url)
            .await
            .expect("the test database is reachable")
    }

    /// Every event in the store, in position order.
    pub async fn events(&self) -> Vec<StoredEvent> {
        let mut db = self.db().await;
        stockflow_store::EventStore::read_after(&mut db, 0, i64::MAX)
            .await
            .expect("events are readable")
    }

    /// Folds the whole store into aggregates: the truth tests compare answers with.
    pub async fn replay(&self) -> (BTreeMap<String, Product>, BTreeMap<Uuid, Order>) {
        let mut products = BTreeMap::new();
        let mut orders = BTreeMap::new();
        for stored in self.events().await {
            let event = Event::decode(&stored.event_type, stored.type_version as u32, stored.data)
                .expect("stored events decode");
            if let Some(sku) = stored.stream_id.strip_prefix("product-") {
                let mut state = products.remove(sku);
                Product::apply(&mut state, &event);
                products.insert(
                    sku.to_owned(),
                    state.expect("product streams start with a registration"),
                );
            } else {
                let id: Uuid = stored.stream_id["order-".len()..]
                    .parse()
                    .expect("order streams name a uuid");
                let mut state = orders.remove(&id);
                Order::apply(&mut state, &event);
                orders.insert(id, state.expect("order streams start with a placement"));
            }
        }
        (products, orders)
    }

    /// A queue of its own bound to every routing key of this app's exchange.
    pub async fn subscribe(&self) -> Subscriber {
        let connection = stockflow_store::amqp::connect(&amqp_url(), "stockflow-test-subscriber")
            .await
            .expect("RabbitMQ is reachable");
        let channel = connection.create_channel().await.expect("a channel opens");
        stockflow_store::amqp::declare_events_exchange(&channel, &self.exchange)
            .await
            .expect("exchange declared");
        let queue = format!("{}.subscriber.{}", self.exchange, Uuid::now_v7().simple());
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue declared");
        channel
            .queue_bind(
                queue.as_str().into(),
                self.exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue bound");
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "test".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consuming");
        Subscriber {
            _connection: connection,
            consumer,
        }
    }
}

/// Reads a response into a `TestResponse`.
pub async fn read_response(response: reqwest::Response) -> TestResponse {
    read(response).await
}

async fn read(response: reqwest::Response) -> TestResponse {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a readable body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    TestResponse {
        status,
        headers,
        text,
        body,
    }
}

/// A message as a subscriber sees it.
#[derive(Debug, Clone)]
pub struct Received {
    pub routing_key: String,
    pub content_type: Option<String>,
    pub message_id: Option<String>,
    pub amqp_type: Option<String>,
    pub persistent: bool,
    pub event: CloudEvent,
}

pub struct Subscriber {
    _connection: lapin::Connection,
    consumer: lapin::Consumer,
}

impl Subscriber {
    /// Receives until `done` says so, or panics after `timeout`.
    pub async fn receive_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[Received]) -> bool,
    ) -> Vec<Received> {
        let mut received = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(&received) {
            let next = tokio::time::timeout_at(deadline, self.consumer.next()).await;
            let delivery = match next {
                Ok(Some(Ok(delivery))) => delivery,
                Ok(other) => panic!("the subscription ended: {other:?}"),
                Err(_) => panic!("timed out after {} messages", received.len()),
            };
            let properties = &delivery.properties;
            let event: CloudEvent =
                serde_json::from_slice(&delivery.data).expect("a CloudEvents JSON body");
            received.push(Received {
                routing_key: delivery.routing_key.to_string(),
                content_type: properties.content_type().as_ref().map(|s| s.to_string()),
                message_id: properties.message_id().as_ref().map(|s| s.to_string()),
                amqp_type: properties.kind().as_ref().map(|s| s.to_string()),
                persistent: *properties.delivery_mode() == Some(2),
                event,
            });
            delivery.ack(BasicAckOptions::default()).await.expect("ack");
        }
        received
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if !self.owner {
            return;
        }
        // Leave nothing behind: the database and the exchange go with the test.
        let database = self.database.clone();
        let exchange = self.exchange.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                if let Ok(mut admin) =
                    PgConnection::connect(&format!("{}/postgres", server_url())).await
                {
                    let drop = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut admin)
                        .await;
                }
                if let Ok(connection) =
                    stockflow_store::amqp::connect(&amqp_url(), "stockflow-test-cleanup").await
                    && let Ok(channel) = connection.create_channel().await
                {
                    let _ = channel
                        .exchange_delete(exchange.as_str().into(), Default::default())
                        .await;
                    let _ = connection.close(200, "done".into()).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Asserts that a JSON body is an object with exactly these members.
#[track_caller]
pub fn assert_keys(body: &Value, keys: &[&str]) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {body}"));
    let mut actual: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut expected = keys.to_vec();
    actual.sort_unstable();
    expected.sort_unstable();
    assert_eq!(actual, expected, "members of {body}");
}

/// Checks the invariants of SPEC §2 over folded state; panics naming the first one broken.
#[track_caller]
pub fn assert_invariants(products: &BTreeMap<String, Product>, orders: &BTreeMap<Uuid, Order>) {
    for (sku, product) in products {
        assert!(
            product.reserved >= 0,
            "{sku}: reserved {} < 0",
            product.reserved
        );
        assert!(
            product.reserved <= product.on_hand,
            "{sku}: reserved {} > on hand {}",
            product.reserved,
            product.on_hand
        );
        let open = orders.values().filter(|o| o.is_open());
        let lines: Vec<_> = open
            .flat_map(|o| o.lines.iter().filter(|l| &l.sku == sku))
            .collect();
        let reserved: i64 = lines.iter().map(|l| l.reserved).sum();
        let backordered: i64 = lines.iter().map(|l| l.backordered).sum();
        assert_eq!(
            product.reserved, reserved,
            "{sku}: reserved differs from its open orders' reservations"
        );
        assert_eq!(
            product.backordered(),
            backordered,
            "{sku}: backordered differs from its open orders' backorders"
        );
    }
    for (id, order) in orders {
        if order.is_open() {
            let waiting = order.lines.iter().any(|l| l.backordered > 0);
            let ready = order.status == stockflow_events::OrderStatus::Ready;
            assert_eq!(
                ready, !waiting,
                "order {id} is {:?} with backordered lines: {waiting}",
                order.status
            );
        }
    }
}

/// Logs of the services under test, shown for failing tests (`RUST_LOG` filters).
pub fn init_logs() {
    stockflow_store::telemetry::init_test();
}

impl TestApp {
    /// The relay's state as `/readyz` reports it, once it has settled.
    pub async fn relay_state(&self) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let ready = self.get("/readyz").await;
            let state = ready.body["checks"]["relay"]["state"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            if state == "active" || state == "standby" || tokio::time::Instant::now() > deadline {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
