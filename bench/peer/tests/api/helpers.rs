//! `TestApp`: the real peer started in-process on port 0 over a fresh database, dropped when
//! the test ends, with typed helpers so a test reads like the requests it makes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx_peer::{Connection, PgConnection};
use stockflow_peer::Config;
use tokio::sync::oneshot;

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

/// A response as a test reads it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let database_url = format!(
            "postgres://postgres@127.0.0.1:5432/peer_test_{}",
            uuid::Uuid::now_v7().simple()
        );
        let mut config = Config::for_database(&database_url);
        config.listen_addr = "127.0.0.1:0".into();
        let app = stockflow_peer::build(&config)
            .await
            .expect("the peer starts");
        let base = format!("http://{}", app.local_addr());
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stop.await;
        }));
        TestApp {
            base,
            database_url,
            client: reqwest::Client::new(),
            shutdown: Some(shutdown),
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("the peer answers");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            body,
        }
    }

    pub async fn register(&self, sku: &str, stock: i64, policy: &str) -> Answer {
        self.post(
            "/v1/products",
            &json!({
                "sku": sku,
                "name": format!("Product {sku}"),
                "unit_price_cents": 1_250,
                "currency": "EUR",
                "initial_stock": stock,
                "backorder_policy": policy,
            }),
        )
        .await
    }

    pub async fn order(&self, sku: &str, quantity: i64) -> Answer {
        self.post(
            "/v1/orders",
            &json!({ "customer_id": "c-42", "lines": [{ "sku": sku, "quantity": quantity }] }),
        )
        .await
    }

    /// Units held by StockReserved events on `sku`, less those released: what the store
    /// says is reserved.
    pub async fn reserved_in_store(&self, sku: &str) -> i64 {
        let mut db = PgConnection::connect(&self.database_url).await.unwrap();
        let reserved: Option<i64> = sqlx_peer::query_scalar(
            "SELECT SUM(CASE event_type
                        WHEN 'StockReserved' THEN (payload->'StockReserved'->>'quantity')::bigint
                        WHEN 'StockReleased' THEN -(payload->'StockReleased'->>'reserved')::bigint
                        ELSE 0 END)::bigint
               FROM events WHERE aggregate_type = 'Product' AND aggregate_id = $1",
        )
        .bind(sku)
        .fetch_one(&mut db)
        .await
        .unwrap();
        reserved.unwrap_or(0)
    }

    /// How many events the store holds in all.
    pub async fn events_in_store(&self) -> i64 {
        let mut db = PgConnection::connect(&self.database_url).await.unwrap();
        sqlx_peer::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&mut db)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Dropped on its own runtime: this one may be shutting down with the test.
        let url = self.database_url.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(stockflow_peer::drop_database(&url))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.database_url);
        }
    }
}
