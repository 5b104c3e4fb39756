//! Events appended to a test's store through the event store itself, as the command
//! service's writer would: transactions over several streams, each at its expected version,
//! with correlation ids in their metadata. The feed never decodes payloads, so these carry
//! whatever JSON a test needs (text that JSON must escape, or bulk).

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::PgPool;
use stockflow_event_store::{AppendBatch, EventStore, NewEvent, StoredEvent, StreamWrite};
use stockflow_events::Event;
use uuid::Uuid;

/// An event to append: its stream, routing key, payload and correlation id.
pub struct Planned {
    pub stream: String,
    pub event_type: String,
    pub data: Value,
    pub correlation_id: Option<Uuid>,
}

pub struct Seeder {
    store: EventStore,
    versions: HashMap<String, i64>,
    /// A fixed sequence, so a failure can be replayed.
    state: u64,
    pub orders: Vec<String>,
    pub products: Vec<String>,
    pub correlations: Vec<Uuid>,
}

impl Seeder {
    pub fn new(pool: PgPool) -> Seeder {
        Seeder {
            store: EventStore::new(pool),
            versions: HashMap::new(),
            state: 0x5eed,
            orders: (0..10)
                .map(|_| stockflow_events::order_stream(&Uuid::now_v7()))
                .collect(),
            products: (0..6)
                .map(|i| stockflow_events::product_stream(&format!("FEED-{i}")))
                .collect(),
            correlations: (0..7).map(|_| Uuid::now_v7()).collect(),
        }
    }

    fn next(&mut self, below: usize) -> usize {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.state >> 33) % below as u64) as usize
    }

    /// `count` events of every kind, over the seeder's orders and products, in transactions
    /// of 1 to 20 events; most carry one of a few correlation ids, some none.
    pub async fn mixed(&mut self, count: usize) {
        let mut appended = 0;
        while appended < count {
            let size = (1 + self.next(20)).min(count - appended);
            let batch: Vec<Planned> = (0..size).map(|_| self.mixed_event()).collect();
            self.append(batch).await;
            appended += size;
        }
    }

    fn mixed_event(&mut self) -> Planned {
        let (aggregate, name, _) = Event::CATALOGUE[self.next(Event::CATALOGUE.len())];
        let stream = match aggregate.as_str() {
            "order" => {
                let i = self.next(self.orders.len());
                self.orders[i].clone()
            }
            _ => {
                let i = self.next(self.products.len());
                self.products[i].clone()
            }
        };
        let correlation = self.next(self.correlations.len() + 1);
        let n = self.next(1000);
        Planned {
            stream,
            event_type: format!("{}.{name}", aggregate.as_str()),
            data: json!({"n": n, "note": "é \"quoted\"\nnext line\t</script>"}),
            correlation_id: self.correlations.get(correlation).copied(),
        }
    }

    /// `count` events of `event_type` on `stream`, each with about `bytes` of payload, in
    /// transactions of `per_append`.
    pub async fn bulk(
        &mut self,
        stream: &str,
        event_type: &str,
        count: usize,
        bytes: usize,
        per_append: usize,
    ) {
        let mut appended = 0;
        while appended < count {
            let size = per_append.min(count - appended);
            let batch = (0..size)
                .map(|i| Planned {
                    stream: stream.to_owned(),
                    event_type: event_type.to_owned(),
                    data: json!({"i": appended + i, "padding": "x".repeat(bytes)}),
                    correlation_id: None,
                })
                .collect();
            self.append(batch).await;
            appended += size;
        }
    }

    /// Appends `planned` in one transaction; returns the position of its last event.
    pub async fn append(&mut self, planned: Vec<Planned>) -> i64 {
        let mut streams: Vec<StreamWrite> = Vec::new();
        let mut events = Vec::new();
        for event in planned {
            let version = self.versions.entry(event.stream.clone()).or_insert(0);
            if !streams.iter().any(|s| s.stream_id == event.stream) {
                streams.push(StreamWrite {
                    stream_id: event.stream.clone(),
                    expected_version: *version,
                    new_version: *version,
                    snapshot: json!({}),
                    snapshot_schema: 1,
                });
            }
            *version += 1;
            let write = streams
                .iter_mut()
                .find(|s| s.stream_id == event.stream)
                .expect("listed above");
            write.new_version = *version;
            let metadata = match event.correlation_id {
                Some(id) => json!({"correlation_id": id, "causation_id": Uuid::now_v7()}),
                None => json!({}),
            };
            events.push(NewEvent {
                event_id: Uuid::now_v7(),
                stream_id: event.stream,
                stream_version: *version,
                event_type: event.event_type,
                type_version: 1,
                data: event.data,
                metadata,
            });
        }
        let batch = AppendBatch {
            streams,
            events,
            idempotency: Vec::new(),
        };
        self.store.append(&batch).await.expect("appended")
    }

    /// One `order.placed` on a new stream, written with SQL that sends no notification (as
    /// if the notification were lost); returns its position.
    pub async fn append_silently(&self) -> i64 {
        sqlx::query_scalar(
            "WITH head AS (UPDATE event_store.head SET position = position + 1 RETURNING position)
             INSERT INTO event_store.events (position, stream_id, stream_version, event_id,
                    event_type, type_version, data, metadata, commit_position)
             SELECT position, $1, 1, $2, 'order.placed', 1, '{}', '{}', position FROM head
             RETURNING position",
        )
        .bind(stockflow_events::order_stream(&Uuid::now_v7()))
        .bind(Uuid::now_v7())
        .fetch_one(self.store.pool())
        .await
        .expect("appended without a notification")
    }

    pub fn pool(&self) -> &PgPool {
        self.store.pool()
    }

    /// Every event of the store, in position order.
    pub async fn stored(&self) -> Vec<StoredEvent> {
        EventStore::read_after(self.store.pool(), 0, i64::MAX)
            .await
            .expect("the store is readable")
    }
}
