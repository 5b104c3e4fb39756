//! After the workload: waiting for quiescence, and reading what the system then holds (the
//! store's events, the dead letters, the read models as served) for the checker.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use lapin::options::BasicGetOptions;
use serde_json::Value;
use stockflow_event_store::StoredEvent;
use tokio::time::Instant;

use super::checker::Served;
use super::services::BoxError;
use super::subscriber;
use super::system::System;
use crate::Truth;

impl System {
    /// Waits until every service is ready, the relay and the projector have reached the
    /// store's head and the subscriber has every event; returns the store's events.
    pub(super) async fn quiesce(
        &mut self,
        deliveries: &Mutex<subscriber::Deliveries>,
    ) -> Result<Vec<StoredEvent>, BoxError> {
        for (_, proxy) in &self.proxies {
            proxy.set_delay(Duration::ZERO);
        }
        self.revive_crashed().await?;
        let deadline = Instant::now() + Duration::from_secs(240);
        let client = reqwest::Client::new();
        loop {
            let events = self.events().await?;
            let head = events.last().map_or(0, |e| e.position);
            let mut db = self.db().await?;
            let relayed: i64 = sqlx::query_scalar(
                "SELECT coalesce(max(position), 0) FROM event_store.relay_checkpoints",
            )
            .fetch_one(&mut db)
            .await?;
            let projected: i64 =
                sqlx::query_scalar("SELECT coalesce(min(position), 0) FROM read.projections")
                    .fetch_one(&mut db)
                    .await?;
            let delivered = {
                let deliveries = deliveries.lock().expect("not poisoned");
                events
                    .iter()
                    .filter(|e| deliveries.by_id.contains_key(&e.event_id))
                    .count()
            };
            let ready = self.all_ready().await;
            let projections = client
                .get(self.queries.url("/v1/projections"))
                .bearer_auth(&self.token)
                .send()
                .await
                .ok();
            let projections: Value = match projections {
                Some(r) => r.json().await.unwrap_or(Value::Null),
                None => Value::Null,
            };
            if ready && relayed == head && projected == head && delivered == events.len() {
                return Ok(events);
            }
            let last = format!(
                "head {head}, relayed {relayed}, projected {projected}, delivered {delivered} of {}, all ready: {ready}, projections: {projections}",
                events.len()
            );
            if Instant::now() > deadline {
                return Err(format!("no quiescence within 240 s: {last}").into());
            }
            self.revive_crashed().await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The bodies of the dead letters: those the projector recorded in the store, and every
    /// message taken off the dead-letter queue (the safety net).
    pub(super) async fn drain_dead_letters(&self) -> Result<Vec<Vec<u8>>, BoxError> {
        let mut bodies: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT body FROM ops.dead_letters ORDER BY id")
                .fetch_all(&mut self.db().await?)
                .await?;
        let connection =
            stockflow_broker::connect(&self.direct_amqp_url, "stockflow-faults-inspector").await?;
        let channel = connection.create_channel().await?;
        let queue = stockflow_broker::dead_letter_queue(&self.names.queue);
        while let Some(message) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await?
        {
            bodies.push(message.delivery.data.clone());
        }
        let _ = connection.close(200, "done".into()).await;
        Ok(bodies)
    }

    async fn get(&self, path: &str, head: i64) -> Result<Value, BoxError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let response = reqwest::Client::new()
            .get(
                self.queries
                    .url(&format!("{path}{separator}min_position={head}")),
            )
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status} {body}").into());
        }
        Ok(body)
    }

    async fn all_items(&self, path: &str, head: i64) -> Result<Vec<Value>, BoxError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match &cursor {
                Some(c) => format!("{path}?limit=500&cursor={c}"),
                None => format!("{path}?limit=500"),
            };
            let body = self.get(&page, head).await?;
            items.extend(body["items"].as_array().cloned().unwrap_or_default());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }

    pub(super) async fn read_models(&self, truth: &Truth) -> Result<Served, BoxError> {
        let head = truth.head;
        let mut customers = BTreeMap::new();
        for customer in truth.customers.keys() {
            customers.insert(
                customer.clone(),
                self.get(&format!("/v1/customers/{customer}"), head).await?,
            );
        }
        let mut db = self.db().await?;
        let order_lines = sqlx::query_as(
            "SELECT order_id, sku, quantity, reserved, backordered, unit_price_cents \
             FROM read.order_lines ORDER BY order_id, line_no",
        )
        .fetch_all(&mut db)
        .await?;
        Ok(Served {
            products: self.all_items("/v1/products", head).await?,
            orders: self.all_items("/v1/orders", head).await?,
            order_lines,
            customers,
            sales_by_sku: self.get("/v1/analytics/sales?group_by=sku", head).await?["rows"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            replenishments: self.all_items("/v1/replenishments", head).await?,
        })
    }
}
