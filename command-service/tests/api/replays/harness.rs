//! What the replay tests share: a database and exchange that outlive one service (so a test
//! can restart it), services with a replay rate of the test's choosing, queues that record
//! every message as it came (body bytes and properties), and a replay followed to its end.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, Consumer};
use serde_json::{Value, json};
use stockflow_command_service::{App, Config};
use stockflow_edge::Scope;
use stockflow_testkit::{
    BrokerNames, Running, TestDatabase, TestResponse, amqp_url, authorized_client, broker_args,
    database_args, init_logs, send, unique, web_config,
};

/// A store and an exchange, and clients with the scopes the tests use.
pub struct Stack {
    pub database: TestDatabase,
    pub broker: BrokerNames,
    pub admin: reqwest::Client,
    pub writer: reqwest::Client,
}

impl Stack {
    pub async fn new() -> Stack {
        init_logs();
        Stack {
            database: TestDatabase::migrated().await,
            broker: BrokerNames::new("replay"),
            admin: authorized_client(&[Scope::Admin]),
            writer: authorized_client(&[Scope::CommandsWrite]),
        }
    }

    /// A command service on this store, its replays publishing `replay_rate` messages a
    /// second at most.
    pub async fn serve(&self, replay_rate: u32) -> Running {
        let config = Config {
            database: database_args(&self.database.url, true),
            broker: broker_args(&self.broker.exchange),
            listen_addr: "127.0.0.1:0".into(),
            web: web_config(),
            replay_rate,
            ..Config::defaults()
        };
        Running::start(
            App::build(config)
                .await
                .expect("the command service starts"),
        )
    }

    /// A product and `orders` orders of one unit of it: 1 + 2 × `orders` events.
    pub async fn seed(&self, service: &Running, sku: &str, orders: usize) {
        let registered = self
            .command(
                service,
                "/v1/products",
                json!({"sku": sku, "name": "Replayed", "unit_price_cents": 100, "currency": "EUR",
                       "initial_stock": 10_000, "backorder_policy": "backorder"}),
            )
            .await;
        registered.assert_status(201);
        for n in 0..orders {
            self.place(service, sku, &format!("customer-{n}")).await;
        }
    }

    pub async fn place(&self, service: &Running, sku: &str, customer: &str) {
        let body = json!({"customer_id": customer, "lines": [{"sku": sku, "quantity": 1}]});
        let placed = self.command(service, "/v1/orders", body).await;
        placed.assert_status(201);
    }

    pub async fn command(&self, service: &Running, path: &str, body: Value) -> TestResponse {
        send(self.writer.post(service.url(path)).json(&body)).await
    }

    /// POST /v1/admin/replays with an admin token.
    pub async fn replay(&self, service: &Running, body: Value) -> TestResponse {
        send(
            self.admin
                .post(service.url("/v1/admin/replays"))
                .json(&body),
        )
        .await
    }

    pub async fn status(&self, service: &Running, replay_id: &str) -> TestResponse {
        send(
            self.admin
                .get(service.url(&format!("/v1/admin/replays/{replay_id}"))),
        )
        .await
    }

    /// POST /v1/admin/replays/{replay_id}/cancel with an admin token.
    pub async fn cancel(&self, service: &Running, replay_id: &str) -> TestResponse {
        let path = format!("/v1/admin/replays/{replay_id}/cancel");
        send(self.admin.post(service.url(&path))).await
    }

    /// The replay's status once `until` holds of it, asked again while it does not.
    pub async fn status_until(
        &self,
        service: &Running,
        replay_id: &str,
        until: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.status(service, replay_id).await.assert_ok().clone();
            if until(&status) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the replay never got there: {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The replay's status once it has ended.
    pub async fn ended(&self, service: &Running, replay_id: &str) -> Value {
        self.status_until(service, replay_id, |s| s["status"] != "running")
            .await
    }
}

/// A message as it reached a queue.
#[derive(Debug, Clone)]
pub struct Captured {
    pub position: i64,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

/// A queue of the test's own, consumed as it fills.
pub struct Queue {
    pub name: String,
    _connection: Connection,
    channel: Channel,
    consumer: Consumer,
}

impl Queue {
    /// A queue bound to nothing, as a subscriber's queue that replays fill. An exclusive one
    /// belongs to this connection alone, as many subscribers' do; another is removed by the
    /// broker once unused for ten minutes, should the test fail before it deletes it.
    pub async fn fresh(exclusive: bool) -> Queue {
        let mut arguments = FieldTable::default();
        arguments.insert("x-expires".into(), AMQPValue::LongInt(600_000));
        Queue::declare(exclusive, arguments).await
    }

    /// An exclusive queue bound to every routing key of `exchange`: what live delivery brings.
    pub async fn live(exchange: &str) -> Queue {
        let queue = Queue::declare(true, FieldTable::default()).await;
        stockflow_broker::declare_events_exchange(&queue.channel, exchange)
            .await
            .expect("the exchange is declared");
        queue
            .channel
            .queue_bind(
                queue.name.as_str().into(),
                exchange.into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("the queue is bound");
        queue
    }

    async fn declare(exclusive: bool, arguments: FieldTable) -> Queue {
        let connection = stockflow_broker::connect(&amqp_url(), "stockflow-test-replay")
            .await
            .expect("RabbitMQ is reachable");
        let channel = connection.create_channel().await.expect("a channel");
        let name = unique("stockflow.test.replay.");
        let options = QueueDeclareOptions {
            exclusive,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(name.as_str().into(), options, arguments)
            .await
            .expect("the queue is declared");
        let consumer = channel
            .basic_consume(
                name.as_str().into(),
                "test".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consuming");
        Queue {
            name,
            _connection: connection,
            channel,
            consumer,
        }
    }

    /// Messages in the order they came, until `done` holds of them all.
    pub async fn take_until(&mut self, mut done: impl FnMut(&[Captured]) -> bool) -> Vec<Captured> {
        let mut taken = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done(&taken) {
            let delivery = match tokio::time::timeout_at(deadline, self.consumer.next()).await {
                Ok(Some(Ok(delivery))) => delivery,
                other => panic!("no more messages after {}: {other:?}", taken.len()),
            };
            let event: Value = serde_json::from_slice(&delivery.data).expect("a JSON body");
            taken.push(Captured {
                position: event["position"].as_i64().expect("a position"),
                body: delivery.data.clone(),
                properties: delivery.properties.clone(),
            });
            delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("acked");
        }
        taken
    }

    pub async fn delete(&self) {
        self.channel
            .queue_delete(self.name.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("the queue is deleted");
    }
}

/// The positions of `messages`, in the order they came.
pub fn positions(messages: &[Captured]) -> Vec<i64> {
    messages.iter().map(|m| m.position).collect()
}

/// The id a replay's start answered with.
#[track_caller]
pub fn replay_id(started: &TestResponse) -> String {
    started.assert_status(202)["replay_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no replay_id in {}", started.text))
        .to_owned()
}
