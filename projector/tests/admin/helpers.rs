//! A projector of the test's own (database, exchange, queues), clients with and without the
//! `admin` scope, and what a test puts on the projector's queues or in its store.

use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{Value, json};
use sqlx::PgPool;
use stockflow_edge::Scope;
use stockflow_event_store::EventStore;
use stockflow_projector::dead_letters::store::{self, NewDeadLetter};
use stockflow_projector::dead_letters::{ReasonKind, Rejection, dedupe_key};
use stockflow_testkit::{
    BrokerNames, Running, TestDatabase, TestResponse, amqp_url, authorized_client, broker_args,
    database_args, send,
};
use uuid::Uuid;

/// How long the projector may take to become ready, or to record what it was sent.
const PATIENCE: Duration = Duration::from_secs(30);

pub struct TestProjector {
    pub running: Running,
    pub pool: PgPool,
    pub broker: BrokerNames,
    pub admin: reqwest::Client,
    _database: TestDatabase,
}

impl TestProjector {
    /// A projector on a fresh database, exchange and queue, ready.
    pub async fn start() -> TestProjector {
        TestProjector::start_with(|_| async {}).await
    }

    /// A projector started after `before` did what it does with the broker names.
    pub async fn start_with<F: Future<Output = ()>>(
        before: impl FnOnce(&BrokerNames) -> F,
    ) -> TestProjector {
        stockflow_testkit::init_logs();
        let database = TestDatabase::migrated().await;
        let broker = BrokerNames::new("deadletters");
        before(&broker).await;
        let config = stockflow_projector::Config {
            database: database_args(&database.url, false),
            broker: broker_args(&broker.exchange),
            listen_addr: "127.0.0.1:0".into(),
            projector_queue: broker.queue.clone(),
            web: stockflow_testkit::web_config(),
            ..stockflow_projector::Config::defaults()
        };
        let running = Running::start(
            stockflow_projector::App::build(config)
                .await
                .expect("the projector starts"),
        );
        let pool = stockflow_event_store::database::connect(&database.url, 2, false)
            .await
            .expect("the test database is reachable");
        let projector = TestProjector {
            running,
            pool,
            broker,
            admin: authorized_client(&[Scope::Admin]),
            _database: database,
        };
        projector.wait_until_ready().await;
        projector
    }

    pub fn url(&self, path: &str) -> String {
        self.running.url(path)
    }

    async fn wait_until_ready(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let ready = send(reqwest::Client::new().get(self.url("/readyz"))).await;
            if ready.status == 200 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not ready: {}",
                ready.text
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        send(self.admin.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> TestResponse {
        let request = self.admin.post(self.url(path));
        send(match body {
            Some(body) => request.json(&body),
            None => request,
        })
        .await
    }

    /// Publishes `body` to the events exchange, as the relay would (but anything at all).
    pub async fn publish(&self, routing_key: &str, body: &[u8], message_id: Option<&str>) {
        publish(&self.broker.exchange, routing_key, body, message_id).await;
    }

    /// Waits until the store holds `n` dead letters (or panics), and returns them as listed.
    pub async fn dead_letters_once(&self, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let page = self.get("/v1/admin/dead-letters?limit=500").await;
            let items = page.items().clone();
            if items.len() >= n {
                assert_eq!(items.len(), n, "{}", page.text);
                assert_eq!(page.body["total"], n, "{}", page.text);
                return items;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} dead letters, not {n}",
                items.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The read models' checkpoint.
    pub async fn checkpoint(&self) -> i64 {
        sqlx::query_scalar("SELECT min(position) FROM read.projections")
            .fetch_one(&self.pool)
            .await
            .expect("a checkpoint")
    }

    /// Products in the read models.
    pub async fn products(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT sku FROM read.products ORDER BY sku")
            .fetch_all(&self.pool)
            .await
            .expect("the products")
    }

    /// Appends a `product.registered` of `sku` to the store without publishing it, and returns
    /// its CloudEvent as a body the relay would have published.
    pub async fn append_unpublished(&self, sku: &str) -> Value {
        let data = json!({"sku": sku, "name": "Dead letter", "unit_price_cents": 100,
                          "currency": "EUR", "initial_stock": 5, "backorder_policy": "reject"});
        self.append(
            &stockflow_events::product_stream(sku),
            1,
            "product.registered",
            &data,
        )
        .await
    }

    /// Appends an event of its own transaction to the store without publishing it, and
    /// returns its CloudEvent as a body the relay would have published.
    pub async fn append(
        &self,
        stream: &str,
        version: i64,
        event_type: &str,
        data: &Value,
    ) -> Value {
        let position: i64 = sqlx::query_scalar(
            "WITH head AS (UPDATE event_store.head SET position = position + 1 RETURNING position)
             INSERT INTO event_store.events (position, stream_id, stream_version, event_id,
                    event_type, type_version, data, metadata, commit_position)
             SELECT position, $1, $2, $3, $4, 1, $5, '{}', position FROM head
             RETURNING position",
        )
        .bind(stream)
        .bind(version)
        .bind(Uuid::now_v7())
        .bind(event_type)
        .bind(data)
        .fetch_one(&self.pool)
        .await
        .expect("appended");
        let stored = EventStore::read_after(&self.pool, position - 1, 1)
            .await
            .expect("readable");
        serde_json::to_value(stored[0].to_cloud_event()).expect("serializes")
    }

    /// Appends an event and publishes it, as the command service and its relay would.
    pub async fn append_and_publish(
        &self,
        stream: &str,
        version: i64,
        event_type: &str,
        data: &Value,
    ) -> i64 {
        let event = self.append(stream, version, event_type, data).await;
        let body = serde_json::to_vec(&event).expect("serializes");
        self.publish(event_type, &body, None).await;
        event["position"].as_i64().expect("a position")
    }

    /// Waits until the read models' checkpoint is `position` (or panics).
    pub async fn checkpoint_reaches(&self, position: i64) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let checkpoint = self.checkpoint().await;
            if checkpoint >= position {
                assert_eq!(checkpoint, position, "the checkpoint went past the store");
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the checkpoint is {checkpoint}, not {position}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until GET /v1/admin/projections says `status` (or panics); returns the listing.
    pub async fn projections_once(&self, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let listing = self.get("/v1/admin/projections").await;
            let body = listing.assert_ok().clone();
            if body["items"][0]["status"] == status {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the projections are not {status}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Records a dead letter as the projector would have, for `body`; returns its id.
    pub async fn set_aside(&self, routing_key: &str, body: &[u8], kind: ReasonKind) -> i64 {
        let event = stockflow_projector::dead_letters::decode(body).ok();
        let letter = NewDeadLetter {
            rejection: Rejection {
                kind,
                text: "set aside by the test".into(),
                event_id: event.as_ref().map(|e| e.id),
                position: event.as_ref().map(|e| e.position),
            },
            routing_key: routing_key.into(),
            headers: json!({}),
            properties: json!({"content_type": "application/json"}),
            body: body.to_vec(),
            dedupe_key: dedupe_key(None, Some(&Uuid::now_v7().to_string()), routing_key, body),
        };
        assert!(store::insert(&self.pool, &letter).await.expect("inserted"));
        sqlx::query_scalar("SELECT max(id) FROM ops.dead_letters")
            .fetch_one(&self.pool)
            .await
            .expect("an id")
    }

    /// The audit log: (subject, action, target, reason, outcome), oldest first.
    pub async fn audit(&self) -> Vec<(String, String, String, Option<String>, String)> {
        sqlx::query_as(
            "SELECT subject, action, target, reason, outcome FROM ops.audit_log ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .expect("the audit log")
    }
}

/// Publishes `body` to `exchange` (`""`: to the queue named `routing_key`).
pub async fn publish(exchange: &str, routing_key: &str, body: &[u8], message_id: Option<&str>) {
    let connection = stockflow_broker::connect(&amqp_url(), "stockflow-test-publisher")
        .await
        .expect("RabbitMQ is reachable");
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    let mut headers = FieldTable::default();
    headers.insert("x-test".into(), AMQPValue::LongString("poison".into()));
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_headers(headers);
    if let Some(id) = message_id {
        properties = properties.with_message_id(id.into());
    }
    channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            properties,
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    let _ = connection.close(200, "done".into()).await;
}

/// Declares `queue` as the projector declares its dead-letter queue.
pub async fn declare_durable(queue: &str) {
    let connection = stockflow_broker::connect(&amqp_url(), "stockflow-test-publisher")
        .await
        .expect("RabbitMQ is reachable");
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declared");
    let _ = connection.close(200, "done".into()).await;
}
