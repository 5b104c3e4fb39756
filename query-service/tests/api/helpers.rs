//! `TestApp`: a real query service on port 0 with its own database, migrated by the service
//! itself, and typed helpers that seed the read models with SQL (as the projector would
//! leave them) so that a test reads like the requests it makes.

#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::Value;
use sqlx::{Connection, PgConnection};
use stockflow_query_service::{App, Config};
use stockflow_testkit::{Running, TestDatabase, database_args};
use uuid::Uuid;

pub use stockflow_testkit::{TEST_SECRET, TestResponse, assert_keys};

/// A client sending a `queries:read` token with every request.
pub fn authorized_client() -> reqwest::Client {
    stockflow_testkit::authorized_client(&[stockflow_edge::Scope::QueriesRead])
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub database: String,
    pub database_url: String,
    service: Running,
    /// Dropped (and so removed) with the app, after the service.
    test_database: TestDatabase,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// A service with its configuration adjusted (short timeouts, slow polling…).
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        stockflow_testkit::init_logs();
        let test_database = TestDatabase::migrated().await;
        let database = test_database.name.clone();
        let database_url = test_database.url.clone();
        let mut config = Config {
            database: database_args(&database_url, true),
            listen_addr: "127.0.0.1:0".into(),
            web: stockflow_testkit::web_config(),
            ..Config::defaults()
        };
        configure(&mut config);
        let service = Running::start(App::build(config).await.expect("the query service starts"));
        TestApp {
            addr: service.addr,
            client: authorized_client(),
            database,
            database_url,
            service,
            test_database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.service.url(path)
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> TestResponse {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Sends any request built on `self.client` and reads the answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> TestResponse {
        stockflow_testkit::send(request).await
    }

    /// Follows `next_cursor` from `path` (which has a `?`) to the end; returns every page.
    pub async fn all_pages(&self, path: &str) -> Vec<TestResponse> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                None => path.to_owned(),
                Some(cursor) => format!("{path}&cursor={cursor}"),
            };
            let page = self.get(&url).await;
            page.assert_ok();
            cursor = page.next_cursor();
            pages.push(page);
            if cursor.is_none() {
                return pages;
            }
            assert!(pages.len() < 100, "pagination does not end");
        }
    }

    pub async fn db(&self) -> PgConnection {
        self.test_database.connect().await
    }

    /// Runs seeding SQL (several statements allowed, no parameters).
    pub async fn exec(&self, sql: &str) {
        let mut db = self.db().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut db)
            .await
            .unwrap_or_else(|e| panic!("seeding failed: {e}\n{sql}"));
    }

    /// Moves every projection to `position` and notifies, in one transaction, as the
    /// projector does.
    pub async fn advance(&self, position: i64) {
        let mut db = self.db().await;
        let mut tx = db.begin().await.expect("begin");
        sqlx::query("UPDATE read.projections SET position = $1, updated_at = now()")
            .bind(position)
            .execute(&mut *tx)
            .await
            .expect("projections advance");
        sqlx::query("SELECT pg_notify($1, $2::text)")
            .bind(stockflow_event_store::channels::PROJECTIONS)
            .bind(position)
            .execute(&mut *tx)
            .await
            .expect("notify");
        tx.commit().await.expect("commit");
    }

    /// Moves the projections without notifying, as if the notification were lost.
    pub async fn advance_silently(&self, position: i64) {
        self.exec(&format!(
            "UPDATE read.projections SET position = {position}, updated_at = now()"
        ))
        .await;
    }

    /// Sets the event store's head, as appends would.
    pub async fn set_head(&self, position: i64) {
        self.exec(&format!(
            "UPDATE event_store.head SET position = {position}"
        ))
        .await;
    }

    pub async fn seed_product(&self, p: &ProductSeed) {
        let mut db = self.db().await;
        sqlx::query(
            "INSERT INTO read.products (sku, name, unit_price_cents, currency, backorder_policy, \
                 status, on_hand, reserved, available, backordered, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::timestamptz)",
        )
        .bind(&p.sku)
        .bind(&p.name)
        .bind(p.unit_price_cents)
        .bind(&p.currency)
        .bind(&p.backorder_policy)
        .bind(&p.status)
        .bind(p.on_hand)
        .bind(p.reserved)
        .bind(p.on_hand - p.reserved)
        .bind(p.backordered)
        .bind(p.version)
        .bind(&p.updated_at)
        .execute(&mut db)
        .await
        .expect("product seeded");
    }

    pub async fn seed_order(&self, o: &OrderSeed) {
        let mut db = self.db().await;
        let total: i64 = o
            .lines
            .iter()
            .map(|l| l.quantity * l.unit_price_cents)
            .sum();
        sqlx::query(
            "INSERT INTO read.orders (order_id, customer_id, status, currency, total_cents, \
                 line_count, placed_at, updated_at, shipped_at, cancelled_at, carrier, \
                 tracking_number, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::timestamptz, \
                     $9::timestamptz, $10::timestamptz, $11, $12, $13)",
        )
        .bind(o.order_id)
        .bind(&o.customer_id)
        .bind(&o.status)
        .bind(&o.currency)
        .bind(total)
        .bind(o.lines.len() as i32)
        .bind(&o.placed_at)
        .bind(o.updated_at.as_ref().unwrap_or(&o.placed_at))
        .bind(&o.shipped_at)
        .bind(&o.cancelled_at)
        .bind(&o.carrier)
        .bind(&o.tracking_number)
        .bind(o.version)
        .execute(&mut db)
        .await
        .expect("order seeded");
        // Inserted last line first, so a test can see the answer sort them by line_no.
        for (index, line) in o.lines.iter().enumerate().rev() {
            sqlx::query(
                "INSERT INTO read.order_lines (order_id, line_no, sku, quantity, reserved, \
                     backordered, unit_price_cents) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(o.order_id)
            .bind(index as i32 + 1)
            .bind(&line.sku)
            .bind(line.quantity)
            .bind(line.reserved)
            .bind(line.backordered)
            .bind(line.unit_price_cents)
            .execute(&mut db)
            .await
            .expect("order line seeded");
        }
    }

    pub async fn seed_customer(
        &self,
        customer_id: &str,
        order_count: i64,
        open_order_count: i64,
        first_order_at: &str,
        last_order_at: &str,
        lifetime_value: &[(&str, i64)],
    ) {
        let mut db = self.db().await;
        sqlx::query(
            "INSERT INTO read.customers (customer_id, order_count, open_order_count, \
                 first_order_at, last_order_at) VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz)",
        )
        .bind(customer_id)
        .bind(order_count)
        .bind(open_order_count)
        .bind(first_order_at)
        .bind(last_order_at)
        .execute(&mut db)
        .await
        .expect("customer seeded");
        for (currency, value) in lifetime_value {
            sqlx::query(
                "INSERT INTO read.customer_lifetime_values (customer_id, currency, value_cents) \
                 VALUES ($1, $2, $3)",
            )
            .bind(customer_id)
            .bind(currency)
            .bind(value)
            .execute(&mut db)
            .await
            .expect("lifetime value seeded");
        }
    }

    /// A row of read.daily_sales: (day, currency, orders, units, revenue_cents).
    pub async fn seed_daily_sales(&self, rows: &[(&str, &str, i64, i64, i64)]) {
        let mut db = self.db().await;
        for (day, currency, orders, units, revenue) in rows {
            sqlx::query(
                "INSERT INTO read.daily_sales (day, currency, orders, units, revenue_cents) \
                 VALUES ($1::date, $2, $3, $4, $5)",
            )
            .bind(day)
            .bind(currency)
            .bind(orders)
            .bind(units)
            .bind(revenue)
            .execute(&mut db)
            .await
            .expect("daily sales seeded");
        }
    }

    /// A row of read.daily_sku_sales: (day, sku, currency, orders, units, revenue_cents).
    pub async fn seed_daily_sku_sales(&self, rows: &[(&str, &str, &str, i64, i64, i64)]) {
        let mut db = self.db().await;
        for (day, sku, currency, orders, units, revenue) in rows {
            sqlx::query(
                "INSERT INTO read.daily_sku_sales (day, sku, currency, orders, units, \
                     revenue_cents) VALUES ($1::date, $2, $3, $4, $5, $6)",
            )
            .bind(day)
            .bind(sku)
            .bind(currency)
            .bind(orders)
            .bind(units)
            .bind(revenue)
            .execute(&mut db)
            .await
            .expect("daily sku sales seeded");
        }
    }

    pub async fn seed_replenishment(&self, r: &ReplenishmentSeed) {
        let mut db = self.db().await;
        sqlx::query(
            "INSERT INTO read.replenishments (sku, order_id, quantity, outstanding, status, \
                 requested_at, position) VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7)",
        )
        .bind(&r.sku)
        .bind(r.order_id)
        .bind(r.quantity)
        .bind(r.outstanding)
        .bind(if r.outstanding == 0 {
            "fulfilled"
        } else {
            "open"
        })
        .bind(&r.requested_at)
        .bind(r.position)
        .execute(&mut db)
        .await
        .expect("replenishment seeded");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.service.abort();
        // The database goes with `test_database`, dropped after this.
    }
}

#[derive(Debug, Clone)]
pub struct ProductSeed {
    pub sku: String,
    pub name: String,
    pub unit_price_cents: i64,
    pub currency: String,
    pub backorder_policy: String,
    pub status: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub backordered: i64,
    pub version: i64,
    pub updated_at: String,
}

/// An active EUR product with 10 on hand, nothing reserved.
pub fn product(sku: &str) -> ProductSeed {
    ProductSeed {
        sku: sku.into(),
        name: format!("Product {sku}"),
        unit_price_cents: 1000,
        currency: "EUR".into(),
        backorder_policy: "reject".into(),
        status: "active".into(),
        on_hand: 10,
        reserved: 0,
        backordered: 0,
        version: 1,
        updated_at: "2026-11-20T10:00:00Z".into(),
    }
}

#[derive(Debug, Clone)]
pub struct LineSeed {
    pub sku: String,
    pub quantity: i64,
    pub reserved: i64,
    pub backordered: i64,
    pub unit_price_cents: i64,
}

/// A fully reserved line.
pub fn line(sku: &str, quantity: i64, unit_price_cents: i64) -> LineSeed {
    LineSeed {
        sku: sku.into(),
        quantity,
        reserved: quantity,
        backordered: 0,
        unit_price_cents,
    }
}

#[derive(Debug, Clone)]
pub struct OrderSeed {
    pub order_id: Uuid,
    pub customer_id: String,
    pub status: String,
    pub currency: String,
    pub placed_at: String,
    pub updated_at: Option<String>,
    pub shipped_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub version: i64,
    pub lines: Vec<LineSeed>,
}

/// A ready EUR order of one line (2 × A at 1000) for `customer_id`, placed at `placed_at`.
pub fn order(customer_id: &str, placed_at: &str) -> OrderSeed {
    OrderSeed {
        order_id: Uuid::now_v7(),
        customer_id: customer_id.into(),
        status: "ready".into(),
        currency: "EUR".into(),
        placed_at: placed_at.into(),
        updated_at: None,
        shipped_at: None,
        cancelled_at: None,
        carrier: None,
        tracking_number: None,
        version: 2,
        lines: vec![line("A", 2, 1000)],
    }
}

#[derive(Debug, Clone)]
pub struct ReplenishmentSeed {
    pub sku: String,
    pub order_id: Uuid,
    pub quantity: i64,
    pub outstanding: i64,
    pub requested_at: String,
    pub position: i64,
}

pub fn replenishment(
    sku: &str,
    position: i64,
    quantity: i64,
    outstanding: i64,
) -> ReplenishmentSeed {
    ReplenishmentSeed {
        sku: sku.into(),
        order_id: Uuid::now_v7(),
        quantity,
        outstanding,
        requested_at: "2026-11-20T10:00:00Z".into(),
        position,
    }
}

/// Asserts that the listed fields of every item, joined, are exactly `expected` in order.
#[track_caller]
pub fn field_of(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| match &item[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}
