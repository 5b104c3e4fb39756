//! The aggregates a batch decides on: each as of a version, taken from the in-memory cache,
//! a snapshot, or (when the snapshot is of another layout) its events.

use std::collections::{HashMap, HashSet};

use lru::LruCache;
use serde_json::Value;
use stockflow_domain::{Aggregates, Order, Product};
use stockflow_event_store::{EventStore, StoredStream};
use stockflow_events::Event;
use uuid::Uuid;

/// The layout of snapshots written by this code; others are rebuilt from events.
pub(super) const SNAPSHOT_SCHEMA: i32 = 1;

#[derive(Debug, Clone)]
enum State {
    Product(Product),
    Order(Order),
}

/// An aggregate as of a version; `state` is `None` (and version 0) when it does not exist.
#[derive(Debug, Clone)]
pub(super) struct Versioned {
    pub(super) version: i64,
    state: Option<State>,
}

impl Versioned {
    pub(super) const ABSENT: Versioned = Versioned {
        version: 0,
        state: None,
    };

    pub(super) fn apply(&mut self, stream: &str, event: &Event) {
        if stream.starts_with("product-") {
            let mut product = match self.state.take() {
                Some(State::Product(p)) => Some(p),
                _ => None,
            };
            Product::apply(&mut product, event);
            self.state = product.map(State::Product);
        } else {
            let mut order = match self.state.take() {
                Some(State::Order(o)) => Some(o),
                _ => None,
            };
            Order::apply(&mut order, event);
            self.state = order.map(State::Order);
        }
        self.version += 1;
    }

    pub(super) fn snapshot(&self) -> Value {
        let snapshot = match &self.state {
            Some(State::Product(p)) => serde_json::to_value(p),
            Some(State::Order(o)) => serde_json::to_value(o),
            None => Ok(Value::Null),
        };
        snapshot.unwrap_or(Value::Null)
    }

    /// The aggregate from its stored row: its snapshot, or its events when the snapshot is of
    /// another layout or unreadable.
    pub(super) async fn restore(
        store: &EventStore,
        row: StoredStream,
    ) -> Result<Versioned, RestoreError> {
        let is_product = row.stream_id.starts_with("product-");
        if row.snapshot_schema == SNAPSHOT_SCHEMA
            && let Some(snapshot) = row.snapshot.clone()
        {
            let state = if is_product {
                serde_json::from_value(snapshot).ok().map(State::Product)
            } else {
                serde_json::from_value(snapshot).ok().map(State::Order)
            };
            if state.is_some() {
                return Ok(Versioned {
                    version: row.version,
                    state,
                });
            }
        }
        tracing::warn!(stream = %row.stream_id, "snapshot unusable; rebuilding the aggregate from its events");
        let mut rebuilt = Versioned::ABSENT;
        for stored in store.read_stream(&row.stream_id).await? {
            let event = Event::decode(
                &stored.event_type,
                u32::try_from(stored.type_version).unwrap_or(0),
                stored.data,
            )
            .map_err(|e| RestoreError::Undecodable(format!("stream {}: {e}", row.stream_id)))?;
            rebuilt.apply(&row.stream_id, &event);
        }
        Ok(rebuilt)
    }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum RestoreError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Undecodable(String),
}

/// The state a decision sees: this batch's changes over what was loaded.
pub(super) struct View<'a> {
    pub(super) changed: &'a HashMap<String, Versioned>,
    pub(super) loaded: &'a HashMap<String, Versioned>,
}

impl View<'_> {
    pub(super) fn get(&self, stream: &str) -> Option<&Versioned> {
        self.changed.get(stream).or_else(|| self.loaded.get(stream))
    }

    pub(super) fn version(&self, stream: &str) -> i64 {
        self.get(stream).map_or(0, |v| v.version)
    }
}

impl Aggregates for View<'_> {
    fn product(&self, sku: &str) -> Option<&Product> {
        match self
            .get(&stockflow_events::product_stream(sku))?
            .state
            .as_ref()?
        {
            State::Product(p) => Some(p),
            State::Order(_) => None,
        }
    }

    fn order(&self, order_id: &Uuid) -> Option<&Order> {
        match self
            .get(&stockflow_events::order_stream(order_id))?
            .state
            .as_ref()?
        {
            State::Order(o) => Some(o),
            State::Product(_) => None,
        }
    }
}

/// Aggregates kept in memory between batches, least recently used first out.
pub(super) struct Cache {
    entries: LruCache<String, Versioned>,
}

impl Cache {
    pub(super) fn new(capacity: std::num::NonZeroUsize) -> Cache {
        Cache {
            entries: LruCache::new(capacity),
        }
    }

    pub(super) fn forget(&mut self, stream: &str) {
        self.entries.pop(stream);
    }

    pub(super) fn keep(&mut self, stream: String, state: Versioned) {
        self.entries.put(stream, state);
    }

    /// Puts the named streams into `loaded`: from the cache, or from the store. Those taken
    /// from the cache are named in `from_cache`, since another process may have moved them.
    pub(super) async fn load(
        &mut self,
        store: &EventStore,
        streams: Vec<String>,
        loaded: &mut HashMap<String, Versioned>,
        from_cache: &mut HashSet<String>,
    ) -> Result<(), RestoreError> {
        let mut missing = Vec::new();
        for stream in streams {
            if loaded.contains_key(&stream) {
                continue;
            }
            match self.entries.get(&stream) {
                Some(cached) => {
                    loaded.insert(stream.clone(), cached.clone());
                    from_cache.insert(stream);
                }
                None => missing.push(stream),
            }
        }
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let rows = store.load_streams(&missing).await?;
        let mut found: HashMap<String, StoredStream> =
            rows.into_iter().map(|r| (r.stream_id.clone(), r)).collect();
        for stream in missing {
            let state = match found.remove(&stream) {
                None => Versioned::ABSENT,
                Some(row) => Versioned::restore(store, row).await?,
            };
            loaded.insert(stream, state);
        }
        Ok(())
    }
}
