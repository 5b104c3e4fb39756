//! `TestApp`: a real command service on port 0 with its own database and exchange (from the
//! shared test kit), and typed helpers so that a test reads like the requests it makes.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgConnection;
use stockflow_command_service::{App, Config};
use stockflow_domain::{Order, Product};
use stockflow_edge::{Scope, WebConfig};
use stockflow_event_store::StoredEvent;
use stockflow_testkit::{BrokerNames, Folded, Running, TestDatabase, broker_args, database_args};
pub use stockflow_testkit::{
    Received, Subscriber, TEST_SECRET, TestResponse, assert_keys, authorized_client, init_logs,
    read as read_response, server_url, web_config as test_web_config,
};
use uuid::Uuid;

/// The database and exchange a test's services share; removed when the last goes.
struct Resources {
    database: TestDatabase,
    broker: BrokerNames,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub database: String,
    pub database_url: String,
    pub exchange: String,
    /// Told to stop when dropped, before `resources`: the database and exchange go with the
    /// last service that uses them.
    service: Running,
    resources: Arc<Resources>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with_web(test_web_config()).await
    }

    /// A service with these authentication and limit settings.
    pub async fn spawn_with_web(web: WebConfig) -> TestApp {
        init_logs();
        let resources = Arc::new(Resources {
            database: TestDatabase::migrated().await,
            broker: BrokerNames::new("test"),
        });
        TestApp::start(resources, web).await
    }

    /// A second command service on this one's store and exchange.
    pub async fn spawn_beside(&self) -> TestApp {
        TestApp::start(self.resources.clone(), test_web_config()).await
    }

    async fn start(resources: Arc<Resources>, web: WebConfig) -> TestApp {
        let database = resources.database.name.clone();
        let database_url = resources.database.url.clone();
        let exchange = resources.broker.exchange.clone();
        let config = Config {
            database: database_args(&database_url, true),
            broker: broker_args(&exchange),
            listen_addr: "127.0.0.1:0".into(),
            web,
            ..Config::defaults()
        };
        let service = Running::start(
            App::build(config)
                .await
                .expect("the command service starts"),
        );
        TestApp {
            addr: service.addr,
            client: authorized_client(&[Scope::CommandsWrite]),
            database,
            database_url,
            exchange,
            resources,
            service,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.service.url(path)
    }

    /// Stops the service gracefully and waits for it to drain.
    pub async fn stop(&mut self) {
        self.service.stop().await;
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
        stockflow_testkit::send(request).await
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
        stockflow_testkit::send(request).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.client.get(self.url(path))).await
    }

    /// A `commands:write` token, for requests written by hand.
    pub fn token(&self) -> String {
        stockflow_edge::mint_token(
            TEST_SECRET,
            "raw-client",
            &[Scope::CommandsWrite],
            Duration::from_secs(60),
        )
    }

    /// Sends `request` byte by byte, as a client that does not check what it sends would, and
    /// returns the whole answer as text. The service may answer and close before it has read
    /// everything.
    pub async fn exchange_raw(&self, request: &[u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("the service accepts connections");
        let _ = stream.write_all(request).await;
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// Sends any request built on `self.client` (other methods, odd headers) and reads it.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> TestResponse {
        stockflow_testkit::send(request).await
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
        self.resources.database.connect().await
    }

    /// Every event in the store, in position order.
    pub async fn events(&self) -> Vec<StoredEvent> {
        stockflow_testkit::truth::all_events(&mut self.db().await).await
    }

    /// Folds the whole store into aggregates: the truth tests compare answers with.
    pub async fn replay(&self) -> (BTreeMap<String, Product>, BTreeMap<Uuid, Order>) {
        let folded = Folded::from_events(&self.events().await);
        (folded.products, folded.orders)
    }

    /// A queue of its own bound to every routing key of this app's exchange.
    pub async fn subscribe(&self) -> Subscriber {
        Subscriber::bind(&self.exchange).await
    }
}

/// Checks the domain's invariants (docs/domain.md#invariants) over folded state; panics
/// naming every one broken.
#[track_caller]
pub fn assert_invariants(products: &BTreeMap<String, Product>, orders: &BTreeMap<Uuid, Order>) {
    let broken = stockflow_domain::invariants::violations(products.values(), orders.values());
    assert!(broken.is_empty(), "invariants broken: {broken:#?}");
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
